// Schedules (worker/lifecycle/scheduler.ts): what runs when. Every cron invocation reads the due
// ones, then claims each before running it; the claim is a compare-and-set on next_run_at, so
// two overlapping invocations (a slow run and the next minute's) never start a job twice.
import { and, asc, eq, lte, sql } from "drizzle-orm";
import type { Database } from "../client";
import { schedules } from "../schema";

export type ScheduleRow = typeof schedules.$inferSelect;

/** A schedule Pier creates when it is absent; `nextRunAt` is when it first runs. */
export interface ScheduleSeed {
  name: string;
  cron: string;
  options: string;
  nextRunAt: number;
}

/**
 * Lists the enabled schedules due at `now`, longest overdue first, at most `limit`, and inserts
 * each seed whose name is absent (one that exists, changed or disabled, is left as it is).
 * One round trip: this runs every minute, and D1 queries count against the invocation's
 * subrequests.
 */
export async function seedAndListDue(db: Database, seeds: ScheduleSeed[], now: number, limit: number): Promise<ScheduleRow[]> {
  const due = db
    .select()
    .from(schedules)
    .where(and(eq(schedules.enabled, true), lte(schedules.nextRunAt, now)))
    .orderBy(asc(schedules.nextRunAt), asc(schedules.name))
    .limit(limit);
  // Read first: a seed is never due when inserted (its first run is after now).
  const [rows] = await db.batch([due, ...seeds.map((seed) => db.insert(schedules).values(seed).onConflictDoNothing({ target: schedules.name }))]);
  return rows;
}

/**
 * Claims a due schedule for one run: moves next_run_at from `seen` (what the listing read) to
 * `next`, marks it running since `now`, and returns the row. null when another invocation
 * claimed it first, or it was changed, disabled or deleted since the listing.
 */
export async function claimSchedule(db: Database, name: string, seen: number, next: number, now: number): Promise<ScheduleRow | null> {
  const rows = await db
    .update(schedules)
    .set({ nextRunAt: next, lastRunAt: now, lastResult: "running" })
    .where(and(eq(schedules.name, name), eq(schedules.nextRunAt, seen), eq(schedules.enabled, true)))
    .returning();
  return rows[0] ?? null;
}

/**
 * Records how the run that started at `startedAt` ended; `runAgainBy` brings the next run
 * forward to that time at the latest (a job that stopped at its per-invocation bound). A run
 * claimed since then (a later start) keeps its own record.
 */
export async function recordScheduleResult(db: Database, name: string, startedAt: number, result: string, runAgainBy: number | null): Promise<void> {
  await db
    .update(schedules)
    .set({ lastResult: result, ...(runAgainBy !== null && { nextRunAt: sql`min(${schedules.nextRunAt}, ${runAgainBy})` }) })
    .where(and(eq(schedules.name, name), eq(schedules.lastRunAt, startedAt)));
}

export async function listSchedules(db: Database): Promise<ScheduleRow[]> {
  return db.select().from(schedules).orderBy(asc(schedules.name));
}

export async function findSchedule(db: Database, name: string): Promise<ScheduleRow | null> {
  const rows = await db.select().from(schedules).where(eq(schedules.name, name)).limit(1);
  return rows[0] ?? null;
}

/** What PUT sets: `enabled` and `options` left undefined keep a schedule's current values. */
export interface ScheduleChange {
  name: string;
  cron: string;
  nextRunAt: number;
  enabled?: boolean;
  options?: string;
}

/** Creates or changes a schedule in one statement, returning the row as stored. */
export async function putSchedule(db: Database, change: ScheduleChange): Promise<ScheduleRow> {
  const [row] = await putScheduleQuery(db, change);
  return row!;
}

/** putSchedule's statement, for a caller that writes it in a batch with its own. */
export function putScheduleQuery(db: Database, change: ScheduleChange) {
  const { name, cron, nextRunAt, enabled, options } = change;
  const kept = { ...(enabled !== undefined && { enabled }), ...(options !== undefined && { options }) };
  return db
    .insert(schedules)
    .values({ name, cron, nextRunAt, ...kept })
    .onConflictDoUpdate({ target: schedules.name, set: { cron, nextRunAt, ...kept } })
    .returning();
}

/** false when no schedule had that name. */
export async function deleteSchedule(db: Database, name: string): Promise<boolean> {
  const rows = await deleteScheduleQuery(db, name);
  return rows.length > 0;
}

/** deleteSchedule's statement, for a caller that writes it in a batch with its own. */
export function deleteScheduleQuery(db: Database, name: string) {
  return db.delete(schedules).where(eq(schedules.name, name)).returning({ name: schedules.name });
}

/** Replaces a schedule's options (a job keeping its place between runs); false when it is gone. */
export async function setScheduleOptions(db: Database, name: string, options: string): Promise<boolean> {
  const rows = await db.update(schedules).set({ options }).where(eq(schedules.name, name)).returning({ name: schedules.name });
  return rows.length > 0;
}
