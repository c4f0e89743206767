// Pull-through cache state: what upstream last said a reference resolves to (cache_references),
// joined with the cached manifest itself so that a warm pull by tag is one query; and what the
// cache holds per upstream (cached_artifacts).
import { and, asc, eq, gt, isNotNull, sql } from "drizzle-orm";
import type { Digest } from "../../../oci/digest";
import type { RepoName } from "../../../oci/names";
import type { Database } from "../client";
import { blobs, cacheReferences, cachedArtifacts, manifests } from "../schema";
import type { StoredManifest } from "./manifests";

export interface CachedReference {
  /** Null: upstream said it does not have the reference. */
  digest: Digest | null;
  /** When upstream last said so (ms since the epoch). */
  checkedAt: number;
  /** The cached manifest the digest names, when Pier holds it. */
  manifest: StoredManifest | null;
}

const byReference = (db: Database) =>
  db
    .select({
      digest: cacheReferences.digest,
      checkedAt: cacheReferences.checkedAt,
      mediaType: manifests.mediaType,
      size: manifests.size,
      objectKey: blobs.objectKey,
      content: blobs.content,
    })
    .from(cacheReferences)
    .leftJoin(manifests, and(eq(manifests.repository, cacheReferences.repository), eq(manifests.digest, cacheReferences.digest)))
    .leftJoin(blobs, eq(blobs.digest, manifests.digest))
    .where(and(eq(cacheReferences.repository, sql.placeholder("repository")), eq(cacheReferences.reference, sql.placeholder("reference"))))
    .limit(1)
    .prepare();

const prepared = new WeakMap<Database, ReturnType<typeof byReference>>();

/** The cached answer for a tag (or a digest upstream did not have), with its manifest. */
export async function findCachedReference(db: Database, repository: RepoName, reference: string): Promise<CachedReference | null> {
  const query = prepared.get(db) ?? prepared.set(db, byReference(db)).get(db)!;
  const row = await query.get({ repository, reference });
  if (row === undefined) return null;
  const digest = row.digest as Digest | null;
  const manifest =
    digest !== null && row.mediaType !== null && row.size !== null
      ? { digest, mediaType: row.mediaType, size: row.size, objectKey: row.objectKey, content: row.content }
      : null;
  return { digest, checkedAt: row.checkedAt, manifest };
}

/** Records upstream's answer for a reference: a digest, or null for "not found". */
export async function recordCachedReference(db: Database, repository: RepoName, reference: string, digest: Digest | null, checkedAt: number): Promise<void> {
  await db
    .insert(cacheReferences)
    .values({ repository, reference, digest, checkedAt })
    .onConflictDoUpdate({ target: [cacheReferences.repository, cacheReferences.reference], set: { digest, checkedAt } });
}

/** Tags Pier has resolved for a cached repository (the answer when upstream cannot list them). */
export async function listCachedTags(db: Database, repository: RepoName, last: string | null, limit: number): Promise<string[]> {
  const conditions = [eq(cacheReferences.repository, repository), isNotNull(cacheReferences.digest)];
  if (last !== null) conditions.push(gt(cacheReferences.reference, last));
  const rows = await db
    .select({ reference: cacheReferences.reference })
    .from(cacheReferences)
    .where(and(...conditions))
    .orderBy(asc(cacheReferences.reference))
    .limit(limit);
  return rows.map((row) => row.reference);
}

/** Bytes the cache holds per upstream: the sum of its cached artifacts' sizes. */
export async function storedBytesByUpstream(db: Database): Promise<Map<string, number>> {
  const rows = await db
    .select({ upstream: cachedArtifacts.upstream, bytes: sql<number>`coalesce(sum(${cachedArtifacts.size}), 0)` })
    .from(cachedArtifacts)
    .groupBy(cachedArtifacts.upstream);
  return new Map(rows.map((row) => [row.upstream, Number(row.bytes)]));
}
