// Pull statistics of locally held manifests (manifests.pull_count, manifests.last_pulled_at),
// added up per isolate and written here in batches (worker/storage/pull-records.ts).
import { and, eq, sql } from "drizzle-orm";
import type { Digest } from "../../../oci/digest";
import type { RepoName } from "../../../oci/names";
import type { Database } from "../client";
import { manifests } from "../schema";

/** Pulls of one manifest in one repository since the last write. */
export interface PullCount {
  repository: RepoName;
  digest: Digest;
  /** How many GETs served it. */
  pulls: number;
  /** The latest of them, ms since the epoch. */
  at: number;
}

// One statement per manifest binds 4 parameters (D1 allows 100). A batch is one transaction on
// D1's single writer: slices of this many statements keep each short, so a burst of distinct
// pulls does not hold pushes up behind one long write.
const STATEMENTS_PER_BATCH = 500;

/**
 * Adds each count to its manifest's pull_count and moves last_pulled_at forward (never back: two
 * isolates' writes may arrive out of order). A manifest deleted since its pull matches no row.
 */
export async function addPullCounts(db: Database, counts: PullCount[]): Promise<void> {
  for (let start = 0; start < counts.length; start += STATEMENTS_PER_BATCH) {
    const statements = counts.slice(start, start + STATEMENTS_PER_BATCH).map(({ repository, digest, pulls, at }) =>
      db
        .update(manifests)
        .set({
          pullCount: sql`${manifests.pullCount} + ${pulls}`,
          lastPulledAt: sql`max(coalesce(${manifests.lastPulledAt}, 0), ${at})`,
        })
        .where(and(eq(manifests.repository, repository), eq(manifests.digest, digest))),
    );
    await db.batch(statements as [(typeof statements)[number], ...(typeof statements)[number][]]);
  }
}
