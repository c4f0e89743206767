// Replication executions (issue 11, "The copy engine"): one run of a policy, from its start to
// its end. The queue does the work, this module decides what goes on it:
//
//   start      → the execution (running, not listed) and one "replication-listing" message (JOBS)
//   listing    → one task per artifact (listing.ts), then the execution is listed and dispatched
//   dispatch   → pending tasks become queued, at most `concurrency` queued or running at once,
//                one "replication-task" message (REPLICATION) each; every task that ends
//                dispatches again, so the window slides along the execution's tasks
//   finish     → listed with nothing pending, queued or running: failed when a task failed,
//                succeeded otherwise (a stopped execution stays stopped)
//
// A remote's 429 holds the whole execution back (throttledUntil): messages sent meanwhile are
// delayed to the end of the hold, so the execution slows down instead of failing.
import type { Bindings, WaitUntil } from "../env";
import { emitEvent } from "../events/events";
import type { ReplicationMessage } from "../jobs/messages";
import { database } from "../storage/db/client";
import { countTasks, type ExecutionRow, findExecutionWithPolicy, insertExecution } from "../storage/db/queries/replication-executions";
import type { PolicyRow } from "../storage/db/queries/replication-policies";
import { dispatchWindow, localProjectsOf } from "../storage/db/queries/replication-tasks";
import type { Endpoint } from "./endpoint";
import { localEndpoint } from "./local-endpoint";
import { remoteEndpoint } from "./remote-endpoint";

/** A remote's Retry-After is honoured up to this (s); a longer one is cut, then asked again. */
export const MAX_WAIT_SECONDS = 300;
/** Without a usable Retry-After, a 429 holds the execution this long (s). */
export const DEFAULT_WAIT_SECONDS = 30;

/** What the runner and the listing connect to: the policy's two ends. Tests pass their own. */
export type Connect = (env: Bindings, waitUntil: WaitUntil, policy: PolicyRow) => Promise<{ source: Endpoint; destination: Endpoint }>;

/** The policy's ends: this Pier on the null side, the named remote registry on the other. */
export const connectEndpoints: Connect = async (env, waitUntil, policy) => {
  const local = localEndpoint(env, waitUntil, `replication:${policy.name}`);
  if (policy.source === null) return { source: local, destination: await remoteEndpoint(env, policy.destination!) };
  return { source: await remoteEndpoint(env, policy.source), destination: local };
};

/** Starts an execution of the policy: recorded, then listed by the JOBS queue's consumer. */
export async function startExecution(env: Bindings, policy: PolicyRow, trigger: "manual" | "scheduled", now: number): Promise<ExecutionRow> {
  const execution = await insertExecution(database(env.DB), { id: crypto.randomUUID(), policy: policy.name, trigger, startedAt: now });
  try {
    await env.JOBS.send({ kind: "replication-listing", executionId: execution.id });
  } catch (error) {
    // The execution is recorded; the sweep (scheduled.ts) sends its listing again.
    console.error(`replication: the listing message of execution ${execution.id} (policy "${policy.name}") could not be sent; the sweep will send it`, error);
  }
  return execution;
}

/**
 * Fills the execution's window (see the header) and sends the messages; finishes the
 * execution when nothing is left. Safe to call any number of times: each call moves only what
 * fits the window, and only one call finishes an execution.
 */
export async function dispatch(env: Bindings, executionId: string, concurrency: number, now = Date.now()): Promise<void> {
  const { queued, finished, throttledUntil } = await dispatchWindow(database(env.DB), executionId, concurrency, now);
  if (queued.length > 0) {
    const delaySeconds = throttledUntil === null ? 0 : secondsUntil(throttledUntil, now);
    // A batch holds at most 100 messages; the window is far smaller (MAX_CONCURRENCY).
    await env.REPLICATION.sendBatch(queued.map((taskId) => ({ body: { kind: "replication-task", taskId } satisfies ReplicationMessage, delaySeconds })));
  }
  if (finished !== null) await executionFinished(env, finished);
}

/** Sends a task's message (again), delivered after `delaySeconds`. */
export async function sendTask(env: Bindings, taskId: string, delaySeconds: number): Promise<void> {
  await env.REPLICATION.send({ kind: "replication-task", taskId }, { delaySeconds });
}

/** Whole seconds from `now` until `until` (ms), within 1..MAX_WAIT_SECONDS. */
export function secondsUntil(until: number, now: number): number {
  return Math.min(MAX_WAIT_SECONDS, Math.max(1, Math.ceil((until - now) / 1000)));
}

/**
 * How long a remote's Retry-After (seconds, or an HTTP date) asks to wait, in seconds, bounded
 * to 1..MAX_WAIT_SECONDS; DEFAULT_WAIT_SECONDS when absent or unreadable.
 */
export function retryAfterSeconds(retryAfter: string | null, now: number): number {
  if (retryAfter === null) return DEFAULT_WAIT_SECONDS;
  const trimmed = retryAfter.trim();
  const seconds = /^\d+$/.test(trimmed) ? Number(trimmed) : (Date.parse(trimmed) - now) / 1000;
  if (!Number.isFinite(seconds)) return DEFAULT_WAIT_SECONDS;
  return Math.min(MAX_WAIT_SECONDS, Math.max(1, Math.ceil(seconds)));
}

/** An execution's REPLICATION events go to at most this many of the local projects it touched. */
const MAX_EVENT_PROJECTS = 10;

/**
 * An execution just ended (succeeded or failed by its tasks, or failed by its listing): called
 * once per execution, by the call that ended it. Emits a REPLICATION event (worker/events) to
 * each local project it copied into or out of, so that their webhooks hear of it; a stopped
 * execution was ended by a person and emits nothing. Never throws (emitEvent logs its failures).
 */
export async function executionFinished(env: Bindings, ended: { id: string; policy: string; status: "succeeded" | "failed" }): Promise<void> {
  try {
    const db = database(env.DB);
    const found = await findExecutionWithPolicy(db, ended.id);
    if (found === null || found.policy === null) return;
    const { execution, policy } = found;
    const [counts, projects] = await Promise.all([countTasks(db, [execution.id]), localProjectsOf(db, execution.id, policy.source === null ? "source" : "destination", MAX_EVENT_PROJECTS)]);
    const { total, succeeded, failed } = counts.get(execution.id)!;
    const data = {
      executionId: execution.id,
      policy: policy.name,
      trigger: execution.trigger,
      status: execution.status,
      source: policy.source,
      destination: policy.destination,
      total,
      succeeded,
      failed,
      startedAt: execution.startedAt,
      finishedAt: execution.finishedAt,
    };
    for (const project of projects) await emitEvent(env, null, { type: "REPLICATION", project, operator: null, data });
  } catch (error) {
    console.error(`replication: the REPLICATION event of execution ${ended.id} (policy "${ended.policy}", ${ended.status}) could not be emitted`, error);
  }
}
