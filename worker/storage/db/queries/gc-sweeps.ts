// The garbage collector's statements over stored bytes (durable-objects/registry-lock.ts
// describes the protocol): blobs no repository links and no manifest row names are tombstoned
// in the statement that checks it, their objects deleted, then their rows. Pages in digest
// order, bounded, within D1's limits.
import type { Digest } from "../../../oci/digest";
import { d1Batch, type Database, statement } from "../client";
import { nextCursor, pageEnd } from "./gc-marks";

export interface DoomedBlob {
  digest: Digest;
  objectKey: string | null;
  size: number;
}

const BLOB_PAGE = `SELECT digest FROM blobs WHERE digest > ?1 ORDER BY digest LIMIT ?2`;
// "+state" (a unary plus) keeps SQLite from choosing the blobs_state index, which is there for the
// few tombstoned rows: with it, "state = 'live'" read every live row for each page (measured by
// bench:gc, 24,000 rows read per 500-row page of a 22,000-blob registry) instead of the page.
const PAGE_END = pageEnd(BLOB_PAGE);

/**
 * Tombstones the blobs of one page nothing needs: live, untouched since the cutoff, linked by
 * no repository, named by no manifest row. From this statement on, no writer links them.
 */
export async function tombstoneUnneededBlobs(db: Database, after: string, cutoff: number, limit: number): Promise<{ doomed: DoomedBlob[]; next: string | null }> {
  const [end, doomed] = await d1Batch(db, [
    statement(db, PAGE_END, after, limit),
    statement(
      db,
      `UPDATE blobs SET state = 'deleting'
       WHERE digest IN (${BLOB_PAGE}) AND +state = 'live' AND touched_at < ?3
         AND NOT EXISTS (SELECT 1 FROM repository_blobs b WHERE b.digest = blobs.digest)
         AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = blobs.digest)
       RETURNING digest, object_key AS objectKey, size`,
      after,
      limit,
      cutoff,
    ),
  ]);
  return { doomed: doomed as unknown as DoomedBlob[], next: nextCursor(end![0], limit) };
}

/** Tombstoned blobs still in D1: a step that was interrupted after tombstoning, or this one. */
export async function tombstonedBlobs(db: Database, limit: number): Promise<DoomedBlob[]> {
  const { results } = await statement(db, "SELECT digest, object_key AS objectKey, size FROM blobs WHERE state = 'deleting' LIMIT ?1", limit).all<DoomedBlob>();
  return results;
}

/** Deletes the rows of tombstoned blobs whose objects are gone; a row a writer revived meanwhile stays. */
export async function deleteTombstonedRows(db: Database, digests: Digest[]): Promise<number> {
  const result = await statement(db, "DELETE FROM blobs WHERE digest IN (SELECT value FROM json_each(?1)) AND state = 'deleting'", JSON.stringify(digests)).run();
  return result.meta.changes ?? 0;
}

/** A dry run's blobs of one page: those only the run's candidate links and manifests need. */
export async function countUnneededBlobs(db: Database, run: string, after: string, cutoff: number, limit: number): Promise<{ count: number; bytes: number; next: string | null }> {
  const [end, counted] = await d1Batch(db, [
    statement(db, PAGE_END, after, limit),
    statement(
      db,
      `SELECT count(*) AS count, coalesce(sum(size), 0) AS bytes FROM blobs x
       WHERE x.digest IN (${BLOB_PAGE}) AND +x.state = 'live' AND x.touched_at < ?3
         AND NOT EXISTS (SELECT 1 FROM repository_blobs b WHERE b.digest = x.digest
               AND NOT EXISTS (SELECT 1 FROM gc_candidates c WHERE c.run = ?4 AND c.kind = 'link' AND c.repository = b.repository AND c.digest = b.digest))
         AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = x.digest
               AND NOT EXISTS (SELECT 1 FROM gc_candidates c WHERE c.run = ?4 AND c.kind = 'manifest' AND c.repository = m.repository AND c.digest = m.digest))`,
      after,
      limit,
      cutoff,
      run,
    ),
  ]);
  const row = counted![0] ?? { count: 0, bytes: 0 };
  return { count: Number(row.count), bytes: Number(row.bytes), next: nextCursor(end![0], limit) };
}

/** Which of `keys` a blob row names: an object no row names is an orphan (an interrupted write). */
export async function namedObjectKeys(db: Database, keys: string[]): Promise<Set<string>> {
  const { results } = await statement(db, "SELECT object_key FROM blobs WHERE object_key IN (SELECT value FROM json_each(?1))", JSON.stringify(keys)).all<{ object_key: string }>();
  return new Set(results.map((row) => row.object_key));
}

/**
 * Forgets dry runs' candidates, a page at a time; how many went. Every run's last phase calls
 * it, so one that failed or was stopped part way leaves nothing for long (one runs at a time).
 */
export async function deleteCandidates(db: Database, limit: number): Promise<number> {
  const result = await statement(db, "DELETE FROM gc_candidates WHERE rowid IN (SELECT rowid FROM gc_candidates LIMIT ?1)", limit).run();
  return result.meta.changes ?? 0;
}
