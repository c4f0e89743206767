// The Worker's entry point: HTTP through the Hono app, queue batches through the one
// consumer, the Cron Trigger through the lifecycle scheduler. Durable Object classes are
// re-exported here so that wrangler can bind them (wrangler.toml [[durable_objects.bindings]]).
import { buildApp } from "./app";
import type { Bindings } from "./env";
import { consumeQueue } from "./jobs/consumer";
import type { QueueMessage } from "./jobs/messages";
import { runDueSchedules } from "./lifecycle/scheduler";

const app = buildApp();

export default {
  fetch: app.fetch,
  queue: consumeQueue,
  // Every minute (wrangler.toml [triggers]); the schedules themselves are rows in D1.
  async scheduled(controller, env, ctx) {
    await runDueSchedules(env, controller.scheduledTime, (promise) => ctx.waitUntil(promise));
  },
} satisfies ExportedHandler<Bindings, QueueMessage>;

export { BlobFill } from "../durable-objects/blob-fill";
export { ManifestRefresh } from "../durable-objects/manifest-refresh";
export { RateLimiter } from "../durable-objects/rate-limiter";
export { RegistryLock } from "../durable-objects/registry-lock";
export { SignInThrottle } from "../durable-objects/sign-in-throttle";
export { UploadSession } from "../durable-objects/upload-session";
