// Cache eviction's statements (worker/lifecycle/cache-eviction.ts): which cached artifacts go,
// and their removal from the pull-through cache. Eviction removes only D1 rows; the bytes are
// garbage collection's (durable-objects/registry-lock.ts): its sweep deletes a blob once no
// repository links it and no manifest row names it, so a blob a local repository (or another
// cache name) also links is never deleted.
//
// A cached artifact lives under the cache name `<upstream>/<repository>` (worker/proxy/routing.ts)
// in the ordinary tables, plus its cached_artifacts row (keyed by upstream and the upstream's
// repository, which is how the pull statistics record it).
import { d1Batch, type Database, statement } from "../client";

export interface EvictionCandidate {
  /** The upstream's repository (the cache name without its `<upstream>/` prefix). */
  repository: string;
  digest: string;
  kind: "manifest" | "blob";
  size: number;
  /** As read: the eviction goes ahead only if no pull has been recorded since. */
  lastPulledAt: number;
}

/** Least recently pulled first; ties by the oldest cached, then by digest (and repository). */
const EVICTION_ORDER = "last_pulled_at, cached_at, digest, repository";
const CANDIDATE_COLUMNS = "repository, digest, kind, size, last_pulled_at AS lastPulledAt";

/** The upstream's artifacts last pulled before `before` (ms), in eviction order. */
export async function idleArtifacts(db: Database, upstream: string, before: number, limit: number): Promise<EvictionCandidate[]> {
  const { results } = await statement(
    db,
    `SELECT ${CANDIDATE_COLUMNS} FROM cached_artifacts WHERE upstream = ?1 AND last_pulled_at < ?2 ORDER BY ${EVICTION_ORDER} LIMIT ?3`,
    upstream,
    before,
    limit,
  ).all<EvictionCandidate>();
  return results;
}

/**
 * The shortest run of the upstream's artifacts, in eviction order, whose removal brings its
 * stored bytes down to `maxBytes` (at most `limit` of them; none when it fits already): each
 * one is needed while the bytes before it in the order do not cover the excess.
 */
export async function overflowingArtifacts(db: Database, upstream: string, maxBytes: number, limit: number): Promise<EvictionCandidate[]> {
  const { results } = await statement(
    db,
    `SELECT repository, digest, kind, size, lastPulledAt FROM (
       SELECT ${CANDIDATE_COLUMNS}, cached_at, sum(size) OVER (ORDER BY ${EVICTION_ORDER} ROWS UNBOUNDED PRECEDING) AS through
       FROM cached_artifacts WHERE upstream = ?1)
     WHERE through - size < (SELECT coalesce(sum(size), 0) FROM cached_artifacts WHERE upstream = ?1) - ?2
     ORDER BY lastPulledAt, cached_at, digest, repository LIMIT ?3`,
    upstream,
    maxBytes,
    limit,
  ).all<EvictionCandidate>();
  return results;
}

/**
 * The candidates still as they were read (not pulled since), with their cache name. Every
 * statement of the batch below reads it before the last one deletes the rows, so all agree.
 */
const PAGE = `WITH page AS (
  SELECT a.repository, a.digest, a.kind, a.size, ?1 || '/' || a.repository AS name
  FROM cached_artifacts a JOIN json_each(?2) p
    ON a.upstream = ?1 AND a.repository = json_extract(p.value, '$.repository') AND a.digest = json_extract(p.value, '$.digest')
   AND a.last_pulled_at = json_extract(p.value, '$.lastPulledAt'))`;

/** Whether the cache name still holds the artifact (a pull after an eviction can record it again). */
const HELD = `CASE page.kind
  WHEN 'blob' THEN EXISTS (SELECT 1 FROM repository_blobs b WHERE b.repository = page.name AND b.digest = page.digest)
  ELSE EXISTS (SELECT 1 FROM manifests m WHERE m.repository = page.name AND m.digest = page.digest) END`;

/**
 * Removes the candidates from the upstream's cache in one batch (one transaction): for a blob,
 * its link under the cache name; for a manifest, its row, its references, and the tag answers
 * that point at it (so the tag is asked upstream again rather than naming a missing manifest);
 * then the cached_artifacts rows. What the cache still held is added to the upstream's
 * bytes_evicted / artifacts_evicted. A candidate pulled since it was read is left alone.
 * Returns the rows removed.
 */
export async function evictArtifacts(db: Database, upstream: string, candidates: EvictionCandidate[]): Promise<{ artifacts: number; bytes: number }> {
  if (candidates.length === 0) return { artifacts: 0, bytes: 0 };
  const page = JSON.stringify(candidates.map(({ repository, digest, lastPulledAt }) => ({ repository, digest, lastPulledAt })));
  const of = (kind: "blob" | "manifest") => `SELECT name, digest FROM page WHERE kind = '${kind}'`;
  const results = await d1Batch(db, [
    statement(
      db,
      `${PAGE} INSERT INTO cache_counters (upstream, bytes_evicted, artifacts_evicted)
       SELECT ?1, coalesce(sum(size), 0), count(*) FROM page WHERE ${HELD}
       ON CONFLICT (upstream) DO UPDATE SET bytes_evicted = bytes_evicted + excluded.bytes_evicted,
         artifacts_evicted = artifacts_evicted + excluded.artifacts_evicted`,
      upstream,
      page,
    ),
    statement(db, `${PAGE} DELETE FROM repository_blobs WHERE (repository, digest) IN (${of("blob")})`, upstream, page),
    statement(db, `${PAGE} DELETE FROM manifests WHERE (repository, digest) IN (${of("manifest")})`, upstream, page),
    statement(db, `${PAGE} DELETE FROM manifest_references WHERE (repository, manifest) IN (${of("manifest")})`, upstream, page),
    statement(db, `${PAGE} DELETE FROM cache_references WHERE (repository, digest) IN (${of("manifest")})`, upstream, page),
    statement(db, `${PAGE} DELETE FROM cached_artifacts WHERE upstream = ?1 AND (repository, digest) IN (SELECT repository, digest FROM page) RETURNING size`, upstream, page),
  ]);
  const removed = results.at(-1)!;
  return { artifacts: removed.length, bytes: removed.reduce((sum, row) => sum + Number(row.size), 0) };
}
