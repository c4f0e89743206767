// Prefetch jobs (POST /api/v1/cache/prefetch): created by the API, advanced by the queue consumer.
import { desc, eq, sql } from "drizzle-orm";
import type { Database } from "../client";
import { prefetchJobs } from "../schema";

export type PrefetchJob = typeof prefetchJobs.$inferSelect;

export async function createPrefetchJob(
  db: Database,
  job: { id: string; upstream: string; repository: string; reference: string; platform: string | null },
): Promise<PrefetchJob> {
  const now = Date.now();
  const [row] = await db
    .insert(prefetchJobs)
    .values({ ...job, status: "queued", createdAt: now, updatedAt: now })
    .returning();
  return row!;
}

export async function findPrefetchJob(db: Database, id: string): Promise<PrefetchJob | null> {
  const rows = await db.select().from(prefetchJobs).where(eq(prefetchJobs.id, id)).limit(1);
  return rows[0] ?? null;
}

export async function recentPrefetchJobs(db: Database, limit: number): Promise<PrefetchJob[]> {
  return db.select().from(prefetchJobs).orderBy(desc(prefetchJobs.createdAt)).limit(limit);
}

type Progress = Partial<Pick<PrefetchJob, "status" | "manifestsDone" | "blobsTotal" | "error">> & { blobsDone?: number; bytesFetched?: number };

/** Updates a job's status and counters; `blobsDone` and `bytesFetched` are added, not set. */
export async function updatePrefetchJob(db: Database, id: string, progress: Progress): Promise<void> {
  const { blobsDone, bytesFetched, ...fields } = progress;
  await db
    .update(prefetchJobs)
    .set({
      ...fields,
      ...(blobsDone === undefined ? {} : { blobsDone: sql`${prefetchJobs.blobsDone} + ${blobsDone}` }),
      ...(bytesFetched === undefined ? {} : { bytesFetched: sql`${prefetchJobs.bytesFetched} + ${bytesFetched}` }),
      updatedAt: Date.now(),
    })
    .where(eq(prefetchJobs.id, id));
}
