// The queue consumer for all of Pier's queues (messages.ts). Each message names one piece of
// work in D1; its handler says whether it is done or should come again later. A handler that
// throws unexpectedly is retried with backoff, up to the queue's max_retries; replication and
// webhook messages then land on the dead-letter queue, whose handlers record the failure. A
// message of a kind this code does not know is never acknowledged: a newer version sent it, and
// it is retried until one that knows it runs (lesson 13).
import type { Bindings, WaitUntil } from "../env";
import { handleEvent } from "../events/dispatch";
import { deliverWebhook, deliveryDeadLettered } from "../webhooks/delivery";
import { listExecution } from "../replication/listing";
import { runReplicationTask, taskDeadLettered } from "../replication/task-runner";
import { backoffSeconds, DEAD_LETTER_QUEUE, DONE, JOB_ATTEMPTS, type Outcome, type QueueMessage } from "./messages";
import { runPrefetch } from "./prefetch";

export async function consumeQueue(batch: MessageBatch<QueueMessage>, env: Bindings, ctx: ExecutionContext): Promise<void> {
  const waitUntil: WaitUntil = (promise) => ctx.waitUntil(promise);
  const deadLetters = batch.queue === DEAD_LETTER_QUEUE;
  // A batch's messages are independent pieces of work (each names its own row in D1), so they
  // run side by side: a replication execution's window of copies is not serialised by the
  // queue handing several of them over in one batch.
  await Promise.all(
    batch.messages.map(async (message) => {
      let outcome: Outcome;
      try {
        outcome = deadLetters ? await handleDeadLetter(env, message.body) : await handle(env, message.body, message.attempts, waitUntil);
      } catch (error) {
        console.error(`queue message ${JSON.stringify(message.body)} failed (attempt ${message.attempts}); it will be retried`, error);
        outcome = { kind: "retry", delaySeconds: backoffSeconds(message.attempts) };
      }
      if (outcome.kind === "done") message.ack();
      else message.retry({ delaySeconds: outcome.delaySeconds });
    }),
  );
}

async function handle(env: Bindings, body: QueueMessage, attempts: number, waitUntil: WaitUntil): Promise<Outcome> {
  switch (body.kind) {
    case "prefetch":
      await runPrefetch(env, waitUntil, body.jobId, attempts >= JOB_ATTEMPTS);
      return DONE;
    case "event":
      await handleEvent(env, body.eventId, waitUntil);
      return DONE;
    case "replication-listing":
      return listExecution(env, body.executionId, body.after ?? null, attempts, waitUntil);
    case "replication-task":
      return runReplicationTask(env, body.taskId, attempts, waitUntil);
    case "webhook-delivery":
      return deliverWebhook(env, body.deliveryId, attempts);
    default:
      return unknownKind(body);
  }
}

/** A message that ran out of retries: its task or delivery is marked failed with the last reason. */
async function handleDeadLetter(env: Bindings, body: QueueMessage): Promise<Outcome> {
  switch (body.kind) {
    case "replication-task":
      await taskDeadLettered(env, body.taskId);
      return DONE;
    case "webhook-delivery":
      await deliveryDeadLettered(env, body.deliveryId);
      return DONE;
    case "prefetch":
    case "event":
    case "replication-listing":
      // pier-jobs has no dead-letter queue; one arriving here was misrouted: say so, drop it.
      console.error(`a ${body.kind} message reached the dead-letter queue; nothing records it`, body);
      return DONE;
    default:
      return unknownKind(body);
  }
}

function unknownKind(body: never): Outcome {
  console.error(`queue message of unknown kind ${JSON.stringify(body)}: left for a version of Pier that knows it`);
  return { kind: "retry", delaySeconds: 600 };
}
