// Garbage collection runs as the API shows them (gc_runs). The RegistryLock object is the
// authority on the running collection (its state and cursor live in its storage); it copies
// the counters here after every step, so that listing runs never has to wake it.
import { desc, eq } from "drizzle-orm";
import type { Database } from "../client";
import { gcRuns } from "../schema";

export type GcRunRow = typeof gcRuns.$inferSelect;
export type GcStatus = GcRunRow["status"];

/** What a step changes: the phase, and the counters so far. */
export type GcProgress = Pick<GcRunRow, "phase" | "steps" | "manifestsDeleted" | "linksDeleted" | "blobsDeleted" | "bytesFreed" | "largestStepCalls" | "largestStepMs">;

export async function insertRun(db: Database, run: typeof gcRuns.$inferInsert): Promise<void> {
  await db.insert(gcRuns).values(run);
}

export async function updateRunProgress(db: Database, id: string, progress: GcProgress): Promise<void> {
  await db.update(gcRuns).set(progress).where(eq(gcRuns.id, id));
}

export async function finishRun(db: Database, id: string, status: Exclude<GcStatus, "running">, finishedAt: number, error: string | null): Promise<void> {
  await db.update(gcRuns).set({ status, finishedAt, error }).where(eq(gcRuns.id, id));
}

export async function findRun(db: Database, id: string): Promise<GcRunRow | null> {
  const rows = await db.select().from(gcRuns).where(eq(gcRuns.id, id)).limit(1);
  return rows[0] ?? null;
}

/** Newest first. */
export function listRuns(db: Database, limit: number): Promise<GcRunRow[]> {
  return db.select().from(gcRuns).orderBy(desc(gcRuns.startedAt)).limit(limit);
}
