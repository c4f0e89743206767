// RegistryLock: the one object (named "gc") that serialises garbage collection. It holds the
// running collection's lock, state and cursor in its storage, and runs it in steps, one per
// alarm, each within the Workers limits (worker/lifecycle/step-budget.ts), so a registry of any
// size is collected completely, and a restart resumes where the last step stopped. Between
// steps it rests (REST_PER_WORK), leaving D1 and R2 to the registry's own traffic.
//
// Writers never call this object: one global object on every push would cap writes and add a
// round trip across the world. Instead writers and the collector agree through D1, where every
// statement runs alone (SQLite serialises writes), with two rules:
//
//   1. The collector deletes only in statements that check, as they delete, that nothing needs
//      what they delete, and only what was written before its cutoff (its start minus the grace
//      window, PIER_GC_GRACE_SECONDS):
//        - a manifest: no tag on it, no manifest of its repository lists it as a child, and
//          its subject is gone (or it has none and the run deletes untagged manifests);
//        - a repository→blob link: no manifest of the repository references the blob;
//        - a blob: no link and no manifest row; it is not deleted but *tombstoned*
//          (blobs.state = 'deleting'), then its object is deleted, then its row, if still
//          tombstoned.
//   2. Writers write in statements that check what they rely on (worker/services/content-writes.ts):
//        - a link is inserted only while its blob is live, so once tombstoned a blob gains no
//          link; a writer refused (mount, fill for another name, re-push) stores the bytes again
//          or lets the client upload them;
//        - new bytes go under an object key no other write uses (worker/storage/keys.ts) and are
//          recorded by an upsert that revives a tombstoned row with the new key: the collector
//          deletes only the key it tombstoned, never the writer's;
//        - a manifest row is inserted only while its bytes are live and (for a push) every blob
//          and child it references is still in the repository; else the push fails with
//          MANIFEST_BLOB_UNKNOWN, and the client pushes again, never leaving a manifest that
//          points at nothing;
//        - a writer re-hashing a push of bytes already stored touches them first, so they are
//          younger than any cutoff a collection starting meanwhile uses.
// Either order of any writer's statement and the collector's is then safe: a link that exists
// keeps its blob, a reference that exists keeps its link, a tag keeps its manifest.
//
// Only one collection runs at a time: start() refuses while one is running. stop() asks the
// running collection to stop before its next step.
import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../worker/env";
import { runStep } from "../worker/lifecycle/gc-steps";
import { type GcOptions, type GcState, initialState } from "../worker/lifecycle/gc-state";
import { database } from "../worker/storage/db/client";
import { finishRun, insertRun, updateRunProgress } from "../worker/storage/db/queries/gc-runs";

const STATE_KEY = "run";
// Apart from the state: a step's alarm holds a copy of the state across its awaits, and a stop
// arriving meanwhile must not be overwritten when the step saves what it did.
const STOP_KEY = "stop";
/** A step that throws is retried this many times, a little later each time, before the run fails. */
const MAX_STEP_ATTEMPTS = 5;
/**
 * After a step, the collector rests this many times as long as the step took (it works a tenth
 * of the time), so that D1 (one primary, serving every write in the world) and R2 spend most of
 * their time on pushes and pulls rather than on the collector: a collection never makes the
 * registry feel busy (npm run bench:gc measures pulls while it runs). It is background work;
 * taking a few times longer costs nothing.
 */
const REST_PER_WORK = 9;
const MIN_REST_MS = 50;
const MAX_REST_MS = 30_000;

export interface GcRequest extends GcOptions {
  /** Seconds before the start within which anything written stays. */
  graceSeconds: number;
  upstreams: string[];
  trigger: "manual" | "schedule";
  requestedBy: string | null;
}

export type StartResult = { started: true; id: string } | { started: false; running: string };

export class RegistryLock extends DurableObject<Bindings> {
  async start(request: GcRequest): Promise<StartResult> {
    const running = await this.load();
    if (running !== null) return { started: false, running: running.id };
    const now = Date.now();
    const id = crypto.randomUUID();
    const options = { dryRun: request.dryRun, deleteUntagged: request.deleteUntagged };
    const state = initialState(id, options, now - request.graceSeconds * 1000, request.upstreams);
    await insertRun(database(this.env.DB), {
      id,
      status: "running",
      ...options,
      trigger: request.trigger,
      phase: state.phase,
      requestedBy: request.requestedBy,
      startedAt: now,
    });
    await this.ctx.storage.put(STATE_KEY, state);
    await this.ctx.storage.setAlarm(now);
    return { started: true, id };
  }

  /** Asks the running collection `id` to stop before its next step; false when it is not running. */
  async stop(id: string): Promise<boolean> {
    const state = await this.load();
    if (state === null || state.id !== id) return false;
    await this.ctx.storage.put(STOP_KEY, id);
    return true;
  }

  override async alarm(info?: AlarmInvocationInfo): Promise<void> {
    const state = await this.load();
    if (state === null) return;
    // A stopped run skips to its cleanup (forgetting what a dry run wrote down), then ends.
    if ((await this.ctx.storage.get(STOP_KEY)) === state.id && !state.stopRequested) {
      state.stopRequested = true;
      state.phase = "cleanup";
    }
    let next: GcState;
    const stepStarted = Date.now();
    try {
      next = await runStep(this.env, state);
    } catch (error) {
      const attempt = (info?.retryCount ?? 0) + 1;
      console.error(`garbage collection ${state.id}: step failed (attempt ${attempt})`, error);
      // Rethrown, the runtime retries the alarm with backoff; past the last attempt the run fails.
      if (attempt < MAX_STEP_ATTEMPTS) throw error;
      return this.finish(state, "failed", (error as Error).message ?? String(error));
    }
    await this.ctx.storage.put(STATE_KEY, next);
    await updateRunProgress(database(this.env.DB), next.id, progressOf(next));
    if (next.phase === "done") return this.finish(next, next.stopRequested ? "stopped" : "succeeded", null);
    const rest = Math.min(MAX_REST_MS, Math.max(MIN_REST_MS, (Date.now() - stepStarted) * REST_PER_WORK));
    await this.ctx.storage.setAlarm(Date.now() + rest);
  }

  private async finish(state: GcState, status: "succeeded" | "failed" | "stopped", error: string | null): Promise<void> {
    const db = database(this.env.DB);
    await updateRunProgress(db, state.id, progressOf(state));
    await finishRun(db, state.id, status, Date.now(), error);
    await this.ctx.storage.delete([STATE_KEY, STOP_KEY]);
    await this.ctx.storage.deleteAlarm();
  }

  private async load(): Promise<GcState | null> {
    return (await this.ctx.storage.get<GcState>(STATE_KEY)) ?? null;
  }
}

function progressOf(state: GcState) {
  return { phase: state.phase, ...state.counters };
}
