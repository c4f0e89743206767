// The consumer of "replication-task" messages: one artifact copied (or deleted) per message.
//
// - Claim first: a queued task, or a running one (its consumer died mid-copy and the queue
//   delivered again), becomes running with one more attempt. A task already ended is
//   acknowledged without work, so a redelivered message copies nothing twice; and the copy
//   itself skips what the destination has (HEAD first), so an interrupted copy run again
//   transfers only what it had not finished.
// - How a failure ends (`classify`): a remote's 429 is a wait, not an attempt: the execution is
//   held back for its Retry-After, the task goes back to queued and a new message is sent with
//   that delay (a retry of this one would count towards max_retries). What retrying can fix
//   (5xx, timeouts, unreachable remotes, unexpected errors) is retried with backoff, the reason
//   kept on the task; after the queue's last retry the dead-letter queue calls
//   `taskDeadLettered`. What it cannot fix (refused content, names, quota, permissions, a
//   project that does not exist) fails the task at once.
// - Every task that ends dispatches the next one (executions.ts).
import type { Bindings, WaitUntil } from "../env";
import { RegistryError } from "../errors";
import { backoffSeconds, DONE, type Outcome } from "../jobs/messages";
import { UpstreamError } from "../proxy/upstream-client";
import { database } from "../storage/db/client";
import { findProject } from "../storage/db/queries/principals";
import { throttleExecution } from "../storage/db/queries/replication-executions";
import type { PolicyRow } from "../storage/db/queries/replication-policies";
import { claimTask, deadLetterTask, endTask, findTaskContext, recentDestination, requeueTask, stopTask, type TaskEnd, touchTask } from "../storage/db/queries/replication-tasks";
import type { TaskRow } from "../storage/db/queries/replication-executions";
import { copyArtifact, deleteArtifact } from "./copy-artifact";
import { type Connect, connectEndpoints, dispatch, retryAfterSeconds, secondsUntil, sendTask } from "./executions";
import { policySpec } from "./policies";

/** What a failure means for the work that met it. */
export type Failure = { kind: "wait"; seconds: number; reason: string } | { kind: "retry"; reason: string } | { kind: "fail"; reason: string };

/** Pier's own refusals that another attempt could pass: a transient storage or platform failure, its own rate limit. */
const RETRYABLE_CODES = new Set(["UNKNOWN", "TOOMANYREQUESTS"]);

export function classify(error: unknown, now: number): Failure {
  const reason = error instanceof Error ? error.message : String(error);
  if (error instanceof UpstreamError) {
    const { failure } = error;
    if (failure.kind === "status" && failure.status === 429) return { kind: "wait", seconds: retryAfterSeconds(failure.retryAfter, now), reason };
    // Credentials, permissions, a name the remote refuses: the same request fails the same way.
    if (failure.kind === "status" && failure.status >= 400 && failure.status < 500 && failure.status !== 408) return { kind: "fail", reason };
    return { kind: "retry", reason };
  }
  if (error instanceof RegistryError) return RETRYABLE_CODES.has(error.code) ? { kind: "retry", reason } : { kind: "fail", reason };
  return { kind: "retry", reason };
}

export function runReplicationTask(env: Bindings, taskId: string, attempts: number, waitUntil: WaitUntil): Promise<Outcome> {
  return runTask(env, taskId, attempts, waitUntil, connectEndpoints);
}

/** runReplicationTask with the endpoints `connect` gives (tests interrupt a copy through them). */
export async function runTask(env: Bindings, taskId: string, attempts: number, waitUntil: WaitUntil, connect: Connect): Promise<Outcome> {
  const db = database(env.DB);
  const now = Date.now();
  const found = await findTaskContext(db, taskId);
  if (found === null) {
    console.error(`replication: task ${taskId} is not recorded; its message is dropped`);
    return DONE;
  }
  const { task, execution, policy } = found;
  if (execution.status !== "running" || policy === null) {
    await stopTask(db, taskId, now);
    return DONE;
  }
  if (task.status !== "queued" && task.status !== "running") {
    // Already ended: a redelivery, maybe of a message whose handler ended the task and then
    // failed to dispatch. Dispatching again copies nothing and keeps the window full.
    if (task.status !== "pending") await dispatch(env, execution.id, policy.concurrency, now);
    return DONE;
  }
  if (execution.throttledUntil !== null && execution.throttledUntil > now) {
    await touchTask(db, taskId, now);
    await sendTask(env, taskId, secondsUntil(execution.throttledUntil, now));
    return DONE;
  }
  const claimed = await claimTask(db, taskId, now);
  if (claimed === null) return DONE;
  let end: TaskEnd;
  try {
    end = await perform(env, waitUntil, policy, claimed, connect);
  } catch (error) {
    const failure = classify(error, Date.now());
    if (failure.kind === "wait") {
      await throttleExecution(db, execution.id, Date.now() + failure.seconds * 1000);
      await requeueTask(db, taskId, { uncount: true }, Date.now());
      await sendTask(env, taskId, failure.seconds);
      return DONE;
    }
    if (failure.kind === "retry") {
      console.error(`replication: task ${taskId} (${claimed.sourceRepository}:${claimed.reference}) failed on attempt ${attempts}; it will be retried`, error);
      await requeueTask(db, taskId, { error: failure.reason }, Date.now());
      return { kind: "retry", delaySeconds: backoffSeconds(attempts) };
    }
    end = { status: "failed", error: failure.reason };
  }
  await endTask(db, taskId, end, Date.now());
  await dispatch(env, execution.id, policy.concurrency);
  return DONE;
}

/** The dead-letter queue's record of a task whose message ran out of retries: failed, with its last reason. */
export async function taskDeadLettered(env: Bindings, taskId: string): Promise<void> {
  const db = database(env.DB);
  const execution = await deadLetterTask(db, taskId, Date.now());
  if (execution === null) return;
  const found = await findTaskContext(db, taskId);
  if (found?.policy != null) await dispatch(env, execution, found.policy.concurrency);
}

async function perform(env: Bindings, waitUntil: WaitUntil, policy: PolicyRow, task: TaskRow, connect: Connect): Promise<TaskEnd> {
  const spec = policySpec(policy);
  if (policy.destination === null) {
    // Pull mode lands in a local project, which the policy cannot create: a clear reason, no retries.
    const project = task.destinationRepository.split("/")[0]!;
    const row = await findProject(database(env.DB), project);
    if (row === null || row.kind !== "local") {
      throw new RegistryError("NAME_UNKNOWN", `${task.destinationRepository} would land in project "${project}", which ${row === null ? "does not exist" : "is a proxy project"} in this Pier: create a local project "${project}", or give the policy a destinationNamespace in one`);
    }
  }
  const { source, destination } = await connect(env, waitUntil, policy);
  if (task.operation === "delete") {
    const deleted = await deleteArtifact(destination, task.destinationRepository, task.reference);
    return { status: "succeeded", error: deleted ? null : `${task.destinationRepository}:${task.reference} was not at ${destination.name}; nothing deleted` };
  }
  const bytesPerSecond = policy.bandwidthMbps === null ? null : Math.max(1, Math.floor((policy.bandwidthMbps * 125_000) / policy.concurrency));
  // Push mode: a repository this execution already copied to may hold the blobs this one needs
  // (a shared base layer); the remote then mounts them instead of receiving them again. Offering
  // a mount costs nothing when it fails: its answer opens the upload session the push needed anyway.
  const mountFrom = policy.destination === null ? null : await recentDestination(database(env.DB), task.execution, task.destinationRepository);
  const result = await copyArtifact(
    source,
    destination,
    { repository: task.sourceRepository, reference: task.reference },
    { repository: task.destinationRepository },
    { override: policy.override, artifactTypes: spec.filters.artifactTypes, bytesPerSecond, mountFrom },
  );
  if (result === null) return { status: "failed", error: `${task.sourceRepository}:${task.reference} is no longer at ${source.name}` };
  return {
    status: "succeeded",
    error: result.skipped,
    digest: result.digest,
    bytesCopied: result.bytesCopied,
    blobsCopied: result.blobsCopied,
    blobsSkipped: result.blobsSkipped,
  };
}
