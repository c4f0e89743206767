// Starting a garbage collection, from the API (services/management/gc.ts) or the "gc"
// schedule: the RegistryLock object runs it (durable-objects/registry-lock.ts), one at a time.
import type { GcRequest, StartResult } from "../../durable-objects/registry-lock";
import { type Config, configFrom } from "../config";
import type { Bindings } from "../env";
import type { GcOptions } from "./gc-state";
import type { ScheduledJob } from "./scheduled-jobs";

/** Asks the lock object to start a collection; it refuses while another runs. */
export function requestGc(env: Bindings, config: Config, options: GcOptions, trigger: GcRequest["trigger"], requestedBy: string | null): Promise<StartResult> {
  return registryLock(env).start({
    ...options,
    graceSeconds: config.lifecycle.gcGraceSeconds,
    upstreams: config.upstreams.map((upstream) => upstream.name),
    trigger,
    requestedBy,
  });
}

export function registryLock(env: Bindings) {
  return env.REGISTRY_LOCK.get(env.REGISTRY_LOCK.idFromName("gc"));
}

/** The "gc" schedule: options {"deleteUntagged"?: boolean, "dryRun"?: boolean}. */
export const gcJob: ScheduledJob = async (env, options) => {
  const { deleteUntagged = false, dryRun = false } = (options ?? {}) as Partial<GcOptions>;
  if (typeof deleteUntagged !== "boolean" || typeof dryRun !== "boolean") throw new Error('the gc schedule\'s options "deleteUntagged" and "dryRun" must be true or false');
  const started = await requestGc(env, configFrom(env), { deleteUntagged, dryRun }, "schedule", null);
  return started.started ? `started garbage collection ${started.id}` : `skipped: garbage collection ${started.running} is still running`;
};
