// Replication tasks (worker/replication): one artifact to copy or delete in an execution, and
// the statements that move it along pending → queued → running → succeeded | failed | stopped.
// The dispatch window and the claim are single statements, so concurrent consumers of one
// execution never put more than its concurrency on the queue, nor run one task twice at once
// from one message.
import { and, asc, eq, gt, inArray, lt, sql } from "drizzle-orm";
import { d1Batch, type Database, statement } from "../client";
import { replicationExecutions, replicationPolicies, replicationTasks } from "../schema";
import type { ExecutionRow, NewTask, TaskRow } from "./replication-executions";
import type { PolicyRow } from "./replication-policies";

/** Tasks per insert statement: one bound JSON list of a few hundred bytes each, well under D1's limits. */
const TASKS_PER_STATEMENT = 200;

/**
 * Records one page of the listing's tasks (a task already recorded for the same artifact is
 * kept: a redelivered page adds nothing twice) and, on its last page, marks the execution
 * listed, in one batch; nothing for an execution stopped meanwhile.
 */
export async function recordListing(db: Database, execution: string, tasks: NewTask[], lastPage = true): Promise<void> {
  const inserts: D1PreparedStatement[] = [];
  for (let start = 0; start < tasks.length; start += TASKS_PER_STATEMENT) {
    inserts.push(
      statement(
        db,
        `INSERT INTO replication_tasks (id, execution, operation, source_repository, destination_repository, reference, digest, status)
         SELECT json_extract(value, '$.id'), ?1, json_extract(value, '$.operation'), json_extract(value, '$.sourceRepository'),
                json_extract(value, '$.destinationRepository'), json_extract(value, '$.reference'), json_extract(value, '$.digest'), 'pending'
         FROM json_each(?2) WHERE EXISTS (SELECT 1 FROM replication_executions WHERE id = ?1 AND status = 'running')
         ON CONFLICT DO NOTHING`,
        execution,
        JSON.stringify(tasks.slice(start, start + TASKS_PER_STATEMENT)),
      ),
    );
  }
  const listed = lastPage ? [statement(db, "UPDATE replication_executions SET listed = 1 WHERE id = ?1 AND status = 'running'", execution)] : [];
  if (inserts.length + listed.length > 0) await d1Batch(db, [...inserts, ...listed]);
}

export interface Dispatch {
  /** Tasks moved to queued: one message each is to be sent. */
  queued: string[];
  /** The execution, when this call finished it (nothing left to run): succeeded or failed. */
  finished: { id: string; policy: string; status: "succeeded" | "failed" } | null;
  /** Messages sent now wait until then (ms), when a remote asked the execution to slow down. */
  throttledUntil: number | null;
}

/**
 * One batch: moves pending tasks to queued until `concurrency` are queued or running (none
 * while the execution is not running), then finishes the execution if it is listed and nothing
 * is left pending, queued or running: failed when any task failed, succeeded otherwise.
 */
export async function dispatchWindow(db: Database, execution: string, concurrency: number, now: number): Promise<Dispatch> {
  const [queued, finished, execution_] = await d1Batch(db, [
    statement(
      db,
      `UPDATE replication_tasks SET status = 'queued', started_at = ?3
       WHERE rowid IN (
         SELECT rowid FROM replication_tasks WHERE execution = ?1 AND status = 'pending' ORDER BY rowid
         LIMIT max(0, ?2 - (SELECT count(*) FROM replication_tasks WHERE execution = ?1 AND status IN ('queued', 'running'))))
       AND EXISTS (SELECT 1 FROM replication_executions WHERE id = ?1 AND status = 'running')
       RETURNING id`,
      execution,
      concurrency,
      now,
    ),
    statement(
      db,
      `UPDATE replication_executions
       SET status = CASE WHEN EXISTS (SELECT 1 FROM replication_tasks WHERE execution = ?1 AND status = 'failed') THEN 'failed' ELSE 'succeeded' END, finished_at = ?2
       WHERE id = ?1 AND status = 'running' AND listed = 1
         AND NOT EXISTS (SELECT 1 FROM replication_tasks WHERE execution = ?1 AND status IN ('pending', 'queued', 'running'))
       RETURNING id, policy, status`,
      execution,
      now,
    ),
    statement(db, "SELECT throttled_until FROM replication_executions WHERE id = ?1", execution),
  ]);
  const done = finished![0] as { id: string; policy: string; status: "succeeded" | "failed" } | undefined;
  const until = execution_![0]?.throttled_until as number | null | undefined;
  return { queued: queued!.map((row) => row.id as string), finished: done ?? null, throttledUntil: until !== undefined && until !== null && until > now ? until : null };
}

/** A task with its execution and the execution's policy (null once deleted). */
export interface TaskContext {
  task: TaskRow;
  execution: ExecutionRow;
  policy: PolicyRow | null;
}

export async function findTaskContext(db: Database, id: string): Promise<TaskContext | null> {
  const rows = await db
    .select({ task: replicationTasks, execution: replicationExecutions, policy: replicationPolicies })
    .from(replicationTasks)
    .innerJoin(replicationExecutions, eq(replicationExecutions.id, replicationTasks.execution))
    .leftJoin(replicationPolicies, eq(replicationPolicies.name, replicationExecutions.policy))
    .where(eq(replicationTasks.id, id))
    .limit(1);
  return rows[0] ?? null;
}

/**
 * Claims a task for one attempt: queued, or running (a redelivery after a consumer died mid-copy),
 * becomes running with one more attempt. null when it is done, stopped or not yet dispatched.
 */
export async function claimTask(db: Database, id: string, now: number): Promise<TaskRow | null> {
  const rows = await db
    .update(replicationTasks)
    .set({ status: "running", attempts: sql`${replicationTasks.attempts} + 1`, startedAt: now })
    .where(and(eq(replicationTasks.id, id), inArray(replicationTasks.status, ["queued", "running"])))
    .returning();
  return rows[0] ?? null;
}

export type TaskEnd = Pick<TaskRow, "status" | "error"> & Partial<Pick<TaskRow, "digest" | "bytesCopied" | "blobsCopied" | "blobsSkipped">>;

/** Records how a running task ended; false when it was not running (stopped meanwhile, or ended by another delivery). */
export async function endTask(db: Database, id: string, end: TaskEnd, now: number): Promise<boolean> {
  const rows = await db
    .update(replicationTasks)
    .set({ ...end, finishedAt: now })
    .where(and(eq(replicationTasks.id, id), eq(replicationTasks.status, "running")))
    .returning({ id: replicationTasks.id });
  return rows.length > 0;
}

/**
 * Puts a running task back on the queue (its message comes again later): with the reason the
 * attempt failed, or, for a remote's 429, `uncount` so that waiting is not an attempt.
 */
export async function requeueTask(db: Database, id: string, change: { error?: string; uncount?: boolean }, now: number): Promise<void> {
  await db
    .update(replicationTasks)
    .set({
      status: "queued",
      startedAt: now,
      ...(change.error !== undefined && { error: change.error }),
      ...(change.uncount === true && { attempts: sql`max(0, ${replicationTasks.attempts} - 1)` }),
    })
    .where(and(eq(replicationTasks.id, id), eq(replicationTasks.status, "running")));
}

/** Marks a task whose message ran out of retries failed, with its last reason; its execution id, or null when it had already ended. */
export async function deadLetterTask(db: Database, id: string, now: number): Promise<string | null> {
  const rows = await db
    .update(replicationTasks)
    .set({
      status: "failed",
      finishedAt: now,
      error: sql`coalesce(${replicationTasks.error}, 'the copy kept failing') || ' (gave up after ' || ${replicationTasks.attempts} || ' attempts)'`,
    })
    .where(and(eq(replicationTasks.id, id), inArray(replicationTasks.status, ["pending", "queued", "running"])))
    .returning({ execution: replicationTasks.execution });
  return rows[0]?.execution ?? null;
}

/** Notes that a queued task's message was sent again now (a wait for a 429): the sweep leaves it alone. */
export async function touchTask(db: Database, id: string, now: number): Promise<void> {
  await db
    .update(replicationTasks)
    .set({ startedAt: now })
    .where(and(eq(replicationTasks.id, id), eq(replicationTasks.status, "queued")));
}

/** Marks a task not yet run stopped (its execution was stopped). */
export async function stopTask(db: Database, id: string, now: number): Promise<void> {
  await db
    .update(replicationTasks)
    .set({ status: "stopped", finishedAt: now })
    .where(and(eq(replicationTasks.id, id), inArray(replicationTasks.status, ["pending", "queued", "running"])));
}

/** One page of an execution's tasks in the order they were listed; `after` is the previous page's `next`. */
export async function listTasks(db: Database, execution: string, after: number, limit: number): Promise<(TaskRow & { seq: number })[]> {
  const rows = await db
    .select({ task: replicationTasks, seq: sql<number>`${replicationTasks}.rowid` })
    .from(replicationTasks)
    .where(and(eq(replicationTasks.execution, execution), gt(sql`${replicationTasks}.rowid`, after)))
    .orderBy(asc(sql`${replicationTasks}.rowid`))
    .limit(limit);
  return rows.map(({ task, seq }) => ({ ...task, seq }));
}

/**
 * Tasks of the executions queued or running since before `before`, at most `limit`, marked as
 * re-sent now: their message was lost, or their consumer died without the queue redelivering.
 */
export async function resendStaleTasks(db: Database, executions: string[], before: number, limit: number, now: number): Promise<string[]> {
  if (executions.length === 0) return [];
  const stale = db
    .select({ id: replicationTasks.id })
    .from(replicationTasks)
    .where(and(inArray(replicationTasks.execution, executions), inArray(replicationTasks.status, ["queued", "running"]), lt(replicationTasks.startedAt, before)))
    .limit(limit);
  const rows = await db
    .update(replicationTasks)
    .set({ startedAt: now })
    .where(inArray(replicationTasks.id, stale))
    .returning({ id: replicationTasks.id });
  return rows.map((row) => row.id);
}

/** The local projects an execution's tasks touched: the first segments of their repositories on this Pier's side. */
export async function localProjectsOf(db: Database, execution: string, side: "source" | "destination", limit: number): Promise<string[]> {
  const column = side === "source" ? replicationTasks.sourceRepository : replicationTasks.destinationRepository;
  const project = sql<string>`substr(${column}, 1, instr(${column} || '/', '/') - 1)`;
  const rows = await db.selectDistinct({ project }).from(replicationTasks).where(eq(replicationTasks.execution, execution)).orderBy(project).limit(limit);
  return rows.map((row) => row.project);
}

/**
 * The destination repository of the execution's most recently finished copy other than
 * `repository`: where a blob the copy needs may already be at the destination (a base layer
 * two repositories share), so that the push can offer a cross-repository mount first.
 */
export async function recentDestination(db: Database, execution: string, repository: string): Promise<string | null> {
  const rows = await db
    .select({ repository: replicationTasks.destinationRepository })
    .from(replicationTasks)
    .where(
      and(
        eq(replicationTasks.execution, execution),
        eq(replicationTasks.status, "succeeded"),
        eq(replicationTasks.operation, "copy"),
        sql`${replicationTasks.destinationRepository} <> ${repository}`,
      ),
    )
    .orderBy(sql`${replicationTasks.finishedAt} DESC`)
    .limit(1);
  return rows[0]?.repository ?? null;
}
