// Replication policies (worker/replication/policies.ts) and, written in the same batch, the
// schedule a scheduled policy runs on ("replication:<policy>", lifecycle/scheduled-jobs.ts):
// the two change together or not at all.
import { and, asc, eq, inArray, isNull } from "drizzle-orm";
import { d1Batch, type Database, statement } from "../client";
import { replicationExecutions, replicationPolicies, replicationTasks } from "../schema";
import { deleteScheduleQuery, putScheduleQuery } from "./schedules";

/** Also worker/replication/policies.ts policyScheduleName: storage imports nothing above it. */
const policyScheduleName = (policy: string) => `replication:${policy}`;

export type PolicyRow = typeof replicationPolicies.$inferSelect;

/** A scheduled policy's schedule: created or changed with it; null deletes it. */
export interface PolicySchedule {
  cron: string;
  nextRunAt: number;
  enabled: boolean;
}

export async function findPolicy(db: Database, name: string): Promise<PolicyRow | null> {
  const rows = await db.select().from(replicationPolicies).where(eq(replicationPolicies.name, name)).limit(1);
  return rows[0] ?? null;
}

export function listPolicies(db: Database): Promise<PolicyRow[]> {
  return db.select().from(replicationPolicies).orderBy(asc(replicationPolicies.name));
}

/** The enabled push-mode policies an event can start (trigger "event"). */
export function eventPolicies(db: Database): Promise<PolicyRow[]> {
  return db
    .select()
    .from(replicationPolicies)
    .where(and(eq(replicationPolicies.trigger, "event"), eq(replicationPolicies.enabled, true), isNull(replicationPolicies.source)));
}

/**
 * Creates the policy and its schedule (or removes a schedule left under its name) in one batch;
 * false when a policy of that name exists (the batch, a transaction, then changed nothing).
 */
export async function createPolicy(db: Database, row: PolicyRow, schedule: PolicySchedule | null): Promise<boolean> {
  try {
    await db.batch([db.insert(replicationPolicies).values(row), scheduleWrite(db, row.name, schedule)]);
    return true;
  } catch (error) {
    // A duplicate name fails the insert (a constraint error, worded by D1); any other failure
    // leaves no policy of that name behind, and is rethrown.
    if ((await findPolicy(db, row.name)) !== null) return false;
    throw error;
  }
}

/**
 * Replaces a policy's settings (not its name or creation time) and its schedule in one batch;
 * false when there is no such policy (then no schedule is written either).
 */
export async function replacePolicy(db: Database, row: PolicyRow, schedule: PolicySchedule | null): Promise<boolean> {
  const { name, createdAt: _createdAt, ...fields } = row;
  const update = db.update(replicationPolicies).set(fields).where(eq(replicationPolicies.name, name)).returning({ name: replicationPolicies.name });
  const [updated] = await d1Batch(db, [
    drizzleStatement(db, update),
    // Guarded by the policy's presence: a policy deleted meanwhile leaves no orphan schedule.
    schedule === null ? drizzleStatement(db, deleteScheduleQuery(db, policyScheduleName(name))) : guardedSchedule(db, name, schedule),
  ]);
  return updated!.length > 0;
}

/**
 * Deletes the policy and its schedule, and stops its running executions in the same batch: a
 * task needs its policy's settings to run, so none can go on without it. What they copied
 * stays; the executions and their tasks stay readable. false when there was no such policy.
 */
export async function deletePolicy(db: Database, name: string, now: number): Promise<boolean> {
  const running = db
    .select({ id: replicationExecutions.id })
    .from(replicationExecutions)
    .where(and(eq(replicationExecutions.policy, name), eq(replicationExecutions.status, "running")));
  const [deleted] = await db.batch([
    db.delete(replicationPolicies).where(eq(replicationPolicies.name, name)).returning({ name: replicationPolicies.name }),
    deleteScheduleQuery(db, policyScheduleName(name)),
    db
      .update(replicationTasks)
      .set({ status: "stopped", finishedAt: now })
      .where(and(inArray(replicationTasks.execution, running), inArray(replicationTasks.status, ["pending", "queued"]))),
    db
      .update(replicationExecutions)
      .set({ status: "stopped", finishedAt: now })
      .where(and(eq(replicationExecutions.policy, name), eq(replicationExecutions.status, "running"))),
  ]);
  return deleted.length > 0;
}

function scheduleWrite(db: Database, name: string, schedule: PolicySchedule | null) {
  const scheduleName = policyScheduleName(name);
  return schedule === null ? deleteScheduleQuery(db, scheduleName) : putScheduleQuery(db, { ...schedule, name: scheduleName, options: "{}" });
}

/** The schedule upsert, written only while the policy exists. */
function guardedSchedule(db: Database, policy: string, schedule: PolicySchedule): D1PreparedStatement {
  return statement(
    db,
    `INSERT INTO schedules (name, cron, options, enabled, next_run_at)
     SELECT ?1, ?2, '{}', ?3, ?4 WHERE EXISTS (SELECT 1 FROM replication_policies WHERE name = ?5)
     ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, enabled = excluded.enabled, next_run_at = excluded.next_run_at`,
    policyScheduleName(policy),
    schedule.cron,
    schedule.enabled ? 1 : 0,
    schedule.nextRunAt,
    policy,
  );
}

/** A drizzle query as a plain D1 statement, to batch it with raw ones (client.ts d1Batch); rows come back keyed by column. */
export function drizzleStatement(db: Database, query: { toSQL(): { sql: string; params: unknown[] } }): D1PreparedStatement {
  const { sql: text, params } = query.toSQL();
  return statement(db, text, ...params);
}
