// The garbage collector's statements over repositories (durable-objects/registry-lock.ts
// describes the protocol): which manifests and repository→blob links may go, deleted in the
// same statement that checks they still may, so that a push landing meanwhile is never undone.
// Every statement works on one repository and a bounded page, within D1's limits (30 s per
// query, 100 bound parameters) and so that one collection step stays small.
import type { Digest } from "../../../oci/digest";
import type { RepoName } from "../../../oci/names";
import { d1Batch, type Database, statement } from "../client";

/** Local repositories after `after`, in name order; the caches of `upstreams` have their own lifecycle (eviction). */
export async function localRepositoriesAfter(db: Database, after: string | null, upstreams: string[], limit: number): Promise<RepoName[]> {
  const { results } = await statement(
    db,
    `SELECT name FROM repositories
     WHERE name > ?1
       AND substr(name, 1, instr(name, '/') - 1) NOT IN (SELECT value FROM json_each(?2))
       AND substr(name, 1, instr(name, '/') - 1) NOT IN (SELECT name FROM projects WHERE kind = 'proxy')
     ORDER BY name LIMIT ?3`,
    after ?? "",
    JSON.stringify(upstreams),
    limit,
  ).all<{ name: string }>();
  return results.map((row) => row.name as RepoName);
}

// A manifest is collectable when nothing keeps it: no tag on it, no manifest of the repository
// lists it as a child, and it is a referrer whose subject is gone, or (deleteUntagged) it has
// no subject at all. Deleting those repeatedly reaches exactly the manifests no tag reaches
// through children and referrers (content addressing leaves no cycles).
const COLLECTABLE_MANIFEST = `
  m.repository = ?1 AND m.pushed_at < ?2
  AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository = ?1 AND t.digest = m.digest)
  AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.repository = ?1 AND r.target = m.digest AND r.kind = 'manifest')
  AND CASE WHEN m.subject IS NULL THEN ?3
      ELSE NOT EXISTS (SELECT 1 FROM manifests s WHERE s.repository = ?1 AND s.digest = m.subject) END`;

/** Deletes up to `limit` collectable manifests and their references; what went, with sizes. */
export async function deleteCollectableManifests(
  db: Database,
  repository: RepoName,
  cutoff: number,
  deleteUntagged: boolean,
  limit: number,
): Promise<{ digest: Digest; size: number }[]> {
  const { results } = await statement(
    db,
    `DELETE FROM manifests WHERE rowid IN (SELECT m.rowid FROM manifests m WHERE ${COLLECTABLE_MANIFEST} LIMIT ?4)
     RETURNING digest, size`,
    repository,
    cutoff,
    deleteUntagged ? 1 : 0,
    limit,
  ).all<{ digest: Digest; size: number }>();
  if (results.length > 0) await deleteReferencesOf(db, repository, results.map((row) => row.digest));
  return results;
}

/**
 * A dry run's manifests: what repeated deletion would remove, found at once as the complement
 * of what tags (and, without deleteUntagged, every manifest without a subject) keep through
 * children and referrers, and written to gc_candidates for the later phases to count as gone.
 */
export async function recordCollectableManifests(db: Database, run: string, repository: RepoName, cutoff: number, deleteUntagged: boolean): Promise<number> {
  const result = await statement(
    db,
    `WITH RECURSIVE kept(digest) AS (
       SELECT digest FROM manifests k
       WHERE k.repository = ?1 AND (k.pushed_at >= ?2 OR (?3 = 0 AND k.subject IS NULL)
             OR EXISTS (SELECT 1 FROM tags t WHERE t.repository = ?1 AND t.digest = k.digest))
       UNION SELECT r.target FROM manifest_references r JOIN kept ON r.manifest = kept.digest WHERE r.repository = ?1 AND r.kind = 'manifest'
       UNION SELECT m.digest FROM manifests m JOIN kept ON m.subject = kept.digest WHERE m.repository = ?1
     )
     INSERT INTO gc_candidates (run, kind, repository, digest, size)
     SELECT ?4, 'manifest', ?1, digest, size FROM manifests WHERE repository = ?1 AND digest NOT IN (SELECT digest FROM kept)
     ON CONFLICT DO NOTHING`,
    repository,
    cutoff,
    deleteUntagged ? 1 : 0,
    run,
  ).run();
  return result.meta.changes ?? 0;
}

/** References left by manifests that are gone (a collection interrupted between its two statements). */
export async function deleteOrphanReferences(db: Database, repository: RepoName): Promise<void> {
  await statement(
    db,
    `DELETE FROM manifest_references WHERE repository = ?1
       AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repository = ?1 AND m.digest = manifest_references.manifest)`,
    repository,
  ).run();
}

// One page of a repository's links in digest order, and the last digest it covers (the cursor).
const LINK_PAGE = `SELECT rowid, digest FROM repository_blobs WHERE repository = ?1 AND digest > ?2 ORDER BY digest LIMIT ?3`;

/** Where a page (a SELECT of `digest`s in digest order) ends, and how many rows it has: what nextCursor reads. */
export function pageEnd(page: string): string {
  return `SELECT max(digest) AS last, count(*) AS seen FROM (${page})`;
}

/**
 * Deletes the links of one page that no manifest of the repository references, written before
 * the cutoff. Returns how many went and where the next page starts (null: the last page).
 */
export async function deleteUnreferencedLinks(db: Database, repository: RepoName, after: string, cutoff: number, limit: number): Promise<{ deleted: number; next: string | null }> {
  const [end, deleted] = await d1Batch(db, [
    statement(db, pageEnd(LINK_PAGE), repository, after, limit),
    statement(
      db,
      `DELETE FROM repository_blobs WHERE rowid IN (SELECT rowid FROM (${LINK_PAGE}))
         AND linked_at < ?4
         AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.repository = ?1 AND r.target = repository_blobs.digest)
       RETURNING digest`,
      repository,
      after,
      limit,
      cutoff,
    ),
  ]);
  return { deleted: deleted!.length, next: nextCursor(end![0], limit) };
}

/** A dry run's links: those no manifest outside the run's candidates references. */
export async function recordUnreferencedLinks(db: Database, run: string, repository: RepoName, after: string, cutoff: number, limit: number): Promise<{ recorded: number; next: string | null }> {
  const [end, recorded] = await d1Batch(db, [
    statement(db, pageEnd(LINK_PAGE), repository, after, limit),
    statement(
      db,
      `INSERT INTO gc_candidates (run, kind, repository, digest, size)
       SELECT ?5, 'link', ?1, b.digest, 0 FROM repository_blobs b
       WHERE b.rowid IN (SELECT rowid FROM (${LINK_PAGE})) AND b.linked_at < ?4
         AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.repository = ?1 AND r.target = b.digest
               AND NOT EXISTS (SELECT 1 FROM gc_candidates c WHERE c.run = ?5 AND c.kind = 'manifest' AND c.repository = ?1 AND c.digest = r.manifest))
       ON CONFLICT DO NOTHING
       RETURNING digest`,
      repository,
      after,
      limit,
      cutoff,
      run,
    ),
  ]);
  return { recorded: recorded!.length, next: nextCursor(end![0], limit) };
}

async function deleteReferencesOf(db: Database, repository: RepoName, manifests: Digest[]): Promise<void> {
  await statement(db, "DELETE FROM manifest_references WHERE repository = ?1 AND manifest IN (SELECT value FROM json_each(?2))", repository, JSON.stringify(manifests)).run();
}

/** The page's last key, unless the page was short (nothing follows). */
export function nextCursor(end: Record<string, unknown> | undefined, limit: number): string | null {
  if (end === undefined || Number(end.seen) < limit || end.last === null) return null;
  return String(end.last);
}
