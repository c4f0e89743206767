// Retention (worker/lifecycle/retention.ts): a project's policy, its runs, and what each run
// removed. The artifacts themselves are listed and removed in retention-artifacts.ts.
import { and, asc, desc, eq, lt } from "drizzle-orm";
import { type Database, statement } from "../client";
import { retentionPolicies, retentionRunItems, retentionRuns } from "../schema";
import { deleteScheduleQuery, putScheduleQuery, type ScheduleChange } from "./schedules";

export type RetentionPolicyRow = typeof retentionPolicies.$inferSelect;
export type RetentionRunRow = typeof retentionRuns.$inferSelect;
export type RetentionRunItemRow = typeof retentionRunItems.$inferSelect;

export async function findPolicy(db: Database, project: string): Promise<RetentionPolicyRow | null> {
  const rows = await db.select().from(retentionPolicies).where(eq(retentionPolicies.project, project)).limit(1);
  return rows[0] ?? null;
}

/**
 * Stores the policy and, in the same batch, its schedule: upserted when it has one, deleted
 * (`scheduleName`) when it runs only on request. Either both change or neither does.
 */
export async function savePolicy(db: Database, policy: RetentionPolicyRow, scheduleName: string, schedule: ScheduleChange | null): Promise<RetentionPolicyRow> {
  const { project, ...fields } = policy;
  const [rows] = await db.batch([
    db.insert(retentionPolicies).values(policy).onConflictDoUpdate({ target: retentionPolicies.project, set: fields }).returning(),
    schedule === null ? deleteScheduleQuery(db, scheduleName) : putScheduleQuery(db, schedule),
  ]);
  return rows[0]!;
}

/** Deletes the policy and its schedule; false when there was no policy. */
export async function deletePolicy(db: Database, project: string, scheduleName: string): Promise<boolean> {
  const [deleted] = await db.batch([
    db.delete(retentionPolicies).where(eq(retentionPolicies.project, project)).returning({ project: retentionPolicies.project }),
    deleteScheduleQuery(db, scheduleName),
  ]);
  return deleted.length > 0;
}

/**
 * Records a run as started. A run of the project still "running" since before `staleBefore` was
 * cut off (its invocation ended without finishing it) and is marked failed in the same batch,
 * so that no run shows as running forever.
 */
export async function startRun(db: Database, run: Pick<RetentionRunRow, "id" | "project" | "dryRun" | "trigger" | "startedAt">, staleBefore: number): Promise<RetentionRunRow> {
  const [, rows] = await db.batch([
    db
      .update(retentionRuns)
      .set({ status: "failed", error: "cut off before it finished (its invocation ended)", finishedAt: run.startedAt })
      .where(and(eq(retentionRuns.project, run.project), eq(retentionRuns.status, "running"), lt(retentionRuns.startedAt, staleBefore))),
    db
      .insert(retentionRuns)
      .values({ ...run, status: "running" })
      .returning(),
  ]);
  return rows[0]!;
}

export async function finishRun(db: Database, id: string, end: Pick<RetentionRunRow, "status" | "examined" | "removed" | "error" | "finishedAt">): Promise<RetentionRunRow | null> {
  const rows = await db.update(retentionRuns).set(end).where(eq(retentionRuns.id, id)).returning();
  return rows[0] ?? null;
}

export async function findRun(db: Database, project: string, id: string): Promise<RetentionRunRow | null> {
  const rows = await db
    .select()
    .from(retentionRuns)
    .where(and(eq(retentionRuns.project, project), eq(retentionRuns.id, id)))
    .limit(1);
  return rows[0] ?? null;
}

/** The project's runs, newest first. */
export function listRuns(db: Database, project: string, limit: number): Promise<RetentionRunRow[]> {
  return db
    .select()
    .from(retentionRuns)
    .where(eq(retentionRuns.project, project))
    .orderBy(desc(retentionRuns.startedAt), desc(retentionRuns.id))
    .limit(limit);
}

/** What a run recorded, by repository and digest. */
export function listRunItems(db: Database, run: string, limit: number): Promise<RetentionRunItemRow[]> {
  return db
    .select()
    .from(retentionRunItems)
    .where(eq(retentionRunItems.run, run))
    .orderBy(asc(retentionRunItems.repository), asc(retentionRunItems.digest))
    .limit(limit);
}

/** A manifest as a run judged it: what retention_run_items records of each one removed. */
export interface ManifestFacts {
  digest: string;
  tags: string[];
  /** ms since the epoch. */
  pushedAt: number;
  /** ms since the epoch, or null when never pulled. */
  lastPulledAt: number | null;
}

/**
 * Records `items` of one repository for `run` (one bound JSON list, not a parameter per column:
 * D1 binds at most 100). With `ifRemoved`, only those no longer held: the statement then goes
 * last in the batch that removes them, and records exactly what that batch removed.
 */
export function recordItemsStatement(db: Database, run: string, repository: string, items: ManifestFacts[], ifRemoved: boolean): D1PreparedStatement {
  const removed = ifRemoved ? "AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repository = ?2 AND m.digest = json_extract(value, '$.digest'))" : "";
  return statement(
    db,
    `INSERT INTO retention_run_items (run, repository, digest, tags, pushed_at, last_pulled_at)
     SELECT ?1, ?2, json_extract(value, '$.digest'), json_extract(value, '$.tags'), json_extract(value, '$.pushedAt'), json_extract(value, '$.lastPulledAt')
     FROM json_each(?3) WHERE 1 ${removed}
     ON CONFLICT DO NOTHING`,
    run,
    repository,
    JSON.stringify(items),
  );
}

/** Records `items` of one repository for `run` (a dry run's: nothing is removed). */
export async function recordItems(db: Database, run: string, repository: string, items: ManifestFacts[]): Promise<void> {
  await recordItemsStatement(db, run, repository, items, false).run();
}
