// Replication executions and their tasks as the management API shows, starts and stops them
// (system admins only, as policies are). Starting and stopping are audited as
// `replication.start` and `replication.stop` on "replication/<execution id>".
// - A manual start of a disabled policy is 409 CONFLICT, and so is one while an execution of
//   the policy started by hand or by its schedule is still running (executions started by
//   events run beside it: each copies its own artifact).
// - Stopping: tasks not started are stopped at once; tasks being copied finish. Stopping an
//   execution that is not running is 409 CONFLICT.
import type { Bindings } from "../../env";
import { RegistryError } from "../../errors";
import { startExecution } from "../../replication/executions";
import { database } from "../../storage/db/client";
import { countTasks, type ExecutionRow, findExecution, listExecutions, runningExecutionOf, stopExecution, type TaskCounts, type TaskRow } from "../../storage/db/queries/replication-executions";
import { listTasks } from "../../storage/db/queries/replication-tasks";
import type { Actor } from "./actor";
import { audit } from "./audit-trail";
import { type Body, invalid } from "./inputs";
import { admin, requirePolicy } from "./replication";
import { isoOrNull } from "./views";

/** Task counts: `stopped` are tasks that never ran (the execution was stopped), `inProgress` pending, queued or running. */
export interface ExecutionView extends TaskCounts {
  id: string;
  policy: string;
  trigger: ExecutionRow["trigger"];
  status: ExecutionRow["status"];
  /** Why the execution failed as a whole, apart from its tasks: its listing failed. */
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
}

export interface TaskView {
  id: string;
  operation: TaskRow["operation"];
  sourceRepository: string;
  destinationRepository: string;
  reference: string;
  /** The digest copied; null until a copy succeeds. */
  digest: string | null;
  status: TaskRow["status"];
  attempts: number;
  bytesCopied: number;
  blobsCopied: number;
  blobsSkipped: number;
  /** Why it failed, or why its last attempt did while it is retried. */
  error: string | null;
  /** What a succeeded task left alone (an artifact type filtered out, a tag not overridden, nothing to delete). */
  note: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

const START_FIELDS = new Set(["policy"]);

/** POST {"policy"}: 201 the execution, running; the JOBS queue lists and copies. */
export async function startManualExecution(env: Bindings, actor: Actor, body: Body, now: number): Promise<ExecutionView> {
  const unknown = Object.keys(body).find((key) => !START_FIELDS.has(key));
  if (unknown !== undefined) throw invalid(`the body has an unknown field "${unknown.slice(0, 50)}"; it has only "policy"`);
  if (typeof body.policy !== "string" || body.policy === "") throw invalid('"policy" must be the name of a replication policy');
  await admin(env, actor, "replication.start", body.policy.slice(0, 100), "start replications");
  const policy = await requirePolicy(env, body.policy);
  if (!policy.enabled) throw new RegistryError("CONFLICT", `replication policy "${policy.name}" is disabled; enable it first`);
  const running = await runningExecutionOf(database(env.DB), policy.name);
  if (running !== null) throw new RegistryError("CONFLICT", `execution ${running.id} of policy "${policy.name}" is running; stop it or wait for it to finish`);
  const execution = await startExecution(env, policy, "manual", now);
  await audit(env, actor, { action: "replication.start", resource: `replication/${execution.id}`, project: null });
  return executionView(execution, { total: 0, succeeded: 0, failed: 0, stopped: 0, inProgress: 0 });
}

/** Newest first, of one policy (`policy`) or of all. */
export async function listReplicationExecutions(env: Bindings, actor: Actor, policy: string | null, limit: number): Promise<{ items: ExecutionView[] }> {
  await admin(env, actor, "replication.read", policy ?? "replication", "read replication executions");
  const db = database(env.DB);
  const rows = await listExecutions(db, policy, limit);
  const counts = await countTasks(db, rows.map((row) => row.id));
  return { items: rows.map((row) => executionView(row, counts.get(row.id)!)) };
}

export async function getReplicationExecution(env: Bindings, actor: Actor, id: string): Promise<ExecutionView> {
  await admin(env, actor, "replication.read", `replication/${id.slice(0, 100)}`, "read replication executions");
  const execution = await requireExecution(env, id);
  return executionView(execution, (await countTasks(database(env.DB), [id])).get(id)!);
}

/** One page of the execution's tasks, in the order they were listed; `next` continues it. */
export async function getReplicationTasks(env: Bindings, actor: Actor, id: string, after: string | undefined, limit: number): Promise<{ items: TaskView[]; next: string | null }> {
  await admin(env, actor, "replication.read", `replication/${id.slice(0, 100)}`, "read replication executions");
  if (after !== undefined && !/^\d{1,15}$/.test(after)) throw invalid(`"next" must be the "next" value of a previous page, got "${after.slice(0, 20)}"`);
  await requireExecution(env, id);
  const rows = await listTasks(database(env.DB), id, after === undefined ? 0 : Number(after), limit + 1);
  const page = rows.slice(0, limit);
  return { items: page.map(taskView), next: rows.length > limit ? String(page[page.length - 1]!.seq) : null };
}

/** Stops a running execution: the execution, stopped. */
export async function stopReplicationExecution(env: Bindings, actor: Actor, id: string, now: number): Promise<ExecutionView> {
  const entry = { action: "replication.stop", resource: `replication/${id.slice(0, 100)}`, project: null };
  await admin(env, actor, entry.action, entry.resource, "stop replications");
  const db = database(env.DB);
  const stopped = await stopExecution(db, id, now);
  if (stopped === null) {
    const execution = await requireExecution(env, id);
    throw new RegistryError("CONFLICT", `execution ${id} is not running: it ${execution.status}`);
  }
  await audit(env, actor, entry);
  return executionView(stopped, (await countTasks(db, [id])).get(id)!);
}

async function requireExecution(env: Bindings, id: string): Promise<ExecutionRow> {
  const execution = await findExecution(database(env.DB), id);
  if (execution === null) throw new RegistryError("NAME_UNKNOWN", `no replication execution has the id "${id.slice(0, 100)}"`);
  return execution;
}

function executionView(row: ExecutionRow, counts: TaskCounts): ExecutionView {
  return {
    id: row.id,
    policy: row.policy,
    trigger: row.trigger,
    status: row.status,
    ...counts,
    error: row.error,
    startedAt: new Date(row.startedAt).toISOString(),
    finishedAt: isoOrNull(row.finishedAt),
  };
}

function taskView(row: TaskRow): TaskView {
  const succeeded = row.status === "succeeded";
  return {
    id: row.id,
    operation: row.operation,
    sourceRepository: row.sourceRepository,
    destinationRepository: row.destinationRepository,
    reference: row.reference,
    digest: row.digest,
    status: row.status,
    attempts: row.attempts,
    bytesCopied: row.bytesCopied,
    blobsCopied: row.blobsCopied,
    blobsSkipped: row.blobsSkipped,
    error: succeeded ? null : row.error,
    note: succeeded ? row.error : null,
    startedAt: isoOrNull(row.startedAt),
    finishedAt: isoOrNull(row.finishedAt),
  };
}
