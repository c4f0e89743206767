// Replication executions (worker/replication/executions.ts): one run of a policy, its status,
// and the counts of its tasks by status. The tasks themselves are in replication-tasks.ts.
import { and, desc, eq, gt, inArray, lt, ne, sql } from "drizzle-orm";
import { d1Batch, type Database, statement } from "../client";
import { replicationExecutions, replicationPolicies, replicationTasks } from "../schema";
import { drizzleStatement, type PolicyRow } from "./replication-policies";

export type ExecutionRow = typeof replicationExecutions.$inferSelect;
export type TaskRow = typeof replicationTasks.$inferSelect;

export interface TaskCounts {
  total: number;
  succeeded: number;
  failed: number;
  stopped: number;
  /** pending, queued or running. */
  inProgress: number;
}

/** What a new execution starts with; status running. */
export type NewExecution = Pick<ExecutionRow, "id" | "policy" | "trigger" | "startedAt"> & { listed?: boolean; eventId?: string | null };

/** Where a task's artifact comes from and goes to. */
export type NewTask = Pick<TaskRow, "id" | "operation" | "sourceRepository" | "destinationRepository" | "reference"> & { digest: string | null };

export async function insertExecution(db: Database, execution: NewExecution): Promise<ExecutionRow> {
  const rows = await db
    .insert(replicationExecutions)
    .values({ ...execution, status: "running" })
    .returning();
  return rows[0]!;
}

/**
 * Starts an execution of exactly one task, already listed (an event's). The (policy, event)
 * index lets one event start one execution per policy: for a redelivered event this inserts
 * nothing, and returns false.
 */
export async function insertEventExecution(db: Database, execution: NewExecution & { eventId: string }, task: NewTask): Promise<boolean> {
  const insert = db
    .insert(replicationExecutions)
    .values({ ...execution, status: "running", listed: true })
    .onConflictDoNothing()
    .returning({ id: replicationExecutions.id });
  const [inserted] = await d1Batch(db, [
    drizzleStatement(db, insert),
    statement(
      db,
      `INSERT INTO replication_tasks (id, execution, operation, source_repository, destination_repository, reference, digest, status)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending' WHERE EXISTS (SELECT 1 FROM replication_executions WHERE id = ?2)`,
      task.id,
      execution.id,
      task.operation,
      task.sourceRepository,
      task.destinationRepository,
      task.reference,
      task.digest,
    ),
  ]);
  return inserted!.length > 0;
}

export async function findExecution(db: Database, id: string): Promise<ExecutionRow | null> {
  const rows = await db.select().from(replicationExecutions).where(eq(replicationExecutions.id, id)).limit(1);
  return rows[0] ?? null;
}

/** The execution and its policy (null once the policy is deleted). */
export async function findExecutionWithPolicy(db: Database, id: string): Promise<{ execution: ExecutionRow; policy: PolicyRow | null } | null> {
  const rows = await db
    .select({ execution: replicationExecutions, policy: replicationPolicies })
    .from(replicationExecutions)
    .leftJoin(replicationPolicies, eq(replicationPolicies.name, replicationExecutions.policy))
    .where(eq(replicationExecutions.id, id))
    .limit(1);
  return rows[0] ?? null;
}

/** A running execution of the policy started by hand or by its schedule (not by an event), or null. */
export async function runningExecutionOf(db: Database, policy: string): Promise<ExecutionRow | null> {
  const rows = await db
    .select()
    .from(replicationExecutions)
    .where(and(eq(replicationExecutions.policy, policy), eq(replicationExecutions.status, "running"), ne(replicationExecutions.trigger, "event")))
    .limit(1);
  return rows[0] ?? null;
}

/** Executions newest first, of one policy or of all. */
export function listExecutions(db: Database, policy: string | null, limit: number): Promise<ExecutionRow[]> {
  return db
    .select()
    .from(replicationExecutions)
    .where(policy === null ? undefined : eq(replicationExecutions.policy, policy))
    .orderBy(desc(replicationExecutions.startedAt), desc(replicationExecutions.id))
    .limit(limit);
}

/** Each execution's task counts (one grouped query over the (execution, status) index). */
export async function countTasks(db: Database, executions: string[]): Promise<Map<string, TaskCounts>> {
  const counts = new Map(executions.map((id) => [id, { total: 0, succeeded: 0, failed: 0, stopped: 0, inProgress: 0 }]));
  if (executions.length === 0) return counts;
  const rows = await db
    .select({ execution: replicationTasks.execution, status: replicationTasks.status, count: sql<number>`count(*)` })
    .from(replicationTasks)
    .where(inArray(replicationTasks.execution, executions))
    .groupBy(replicationTasks.execution, replicationTasks.status);
  for (const { execution, status, count } of rows) {
    const entry = counts.get(execution)!;
    entry.total += count;
    if (status === "succeeded" || status === "failed" || status === "stopped") entry[status] += count;
    else entry.inProgress += count;
  }
  return counts;
}

/** Marks a running execution failed as a whole (its listing failed); null when it is not running. */
export async function failExecution(db: Database, id: string, error: string, now: number): Promise<ExecutionRow | null> {
  const rows = await db
    .update(replicationExecutions)
    .set({ status: "failed", error, finishedAt: now })
    .where(and(eq(replicationExecutions.id, id), eq(replicationExecutions.status, "running")))
    .returning();
  return rows[0] ?? null;
}

/** Holds back the execution's tasks until `until` (a remote's Retry-After); never shortens a hold. */
export async function throttleExecution(db: Database, id: string, until: number): Promise<void> {
  await db
    .update(replicationExecutions)
    .set({ throttledUntil: sql`max(coalesce(${replicationExecutions.throttledUntil}, 0), ${until})` })
    .where(eq(replicationExecutions.id, id));
}

/**
 * Stops a running execution: its tasks not yet started are stopped in the same batch; tasks a
 * consumer is copying finish (a copy in flight cannot be called back). null when not running.
 */
export async function stopExecution(db: Database, id: string, now: number): Promise<ExecutionRow | null> {
  const [, rows] = await db.batch([
    db
      .update(replicationTasks)
      .set({ status: "stopped", finishedAt: now })
      .where(and(eq(replicationTasks.execution, id), inArray(replicationTasks.status, ["pending", "queued"]), sql`EXISTS (SELECT 1 FROM replication_executions WHERE id = ${id} AND status = 'running')`)),
    db
      .update(replicationExecutions)
      .set({ status: "stopped", finishedAt: now })
      .where(and(eq(replicationExecutions.id, id), eq(replicationExecutions.status, "running")))
      .returning(),
  ]);
  return rows[0] ?? null;
}

/**
 * Running executions started between `since` and `before`, at most `limit`, picked at random,
 * with their policy's concurrency, for the sweep. Read per policy through the (policy,
 * started_at) index, so the sweep's cost follows the number of policies and recent
 * executions, not every execution ever recorded.
 */
export function staleRunningExecutions(db: Database, since: number, before: number, limit: number): Promise<{ execution: ExecutionRow; concurrency: number }[]> {
  return db
    .select({ execution: replicationExecutions, concurrency: replicationPolicies.concurrency })
    .from(replicationPolicies)
    .innerJoin(
      replicationExecutions,
      and(eq(replicationExecutions.policy, replicationPolicies.name), gt(replicationExecutions.startedAt, since), lt(replicationExecutions.startedAt, before)),
    )
    .where(eq(replicationExecutions.status, "running"))
    .orderBy(sql`random()`)
    .limit(limit);
}
