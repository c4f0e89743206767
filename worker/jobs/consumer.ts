// The JOBS queue consumer. Each message names one job; a job that throws unexpectedly is
// retried by the queue (max_retries in wrangler.toml), one that fails for a known reason
// records why and is done.
import type { Bindings } from "../env";
import type { JobMessage } from "./messages";
import { runPrefetch } from "./prefetch";

/** wrangler.toml [[queues.consumers]] max_retries = 3: the first delivery plus three retries. */
const MAX_ATTEMPTS = 4;

export async function consumeJobs(batch: MessageBatch<JobMessage>, env: Bindings, ctx: ExecutionContext): Promise<void> {
  for (const message of batch.messages) {
    try {
      if (message.body.kind === "prefetch") {
        await runPrefetch(env, (promise) => ctx.waitUntil(promise), message.body.jobId, message.attempts >= MAX_ATTEMPTS);
      }
      message.ack();
    } catch (error) {
      console.error(`job ${JSON.stringify(message.body)} failed; the queue will retry it`, error);
      message.retry();
    }
  }
}
