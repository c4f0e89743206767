// Blob records: where each digest's bytes live (`blobs`), and which repositories hold them
// (`repository_blobs`). A blob is visible in a repository only through its link row.
import { and, eq, inArray } from "drizzle-orm";
import type { Digest } from "../../../oci/digest";
import type { RepoName } from "../../../oci/names";
import { d1Batch, type Database, inBatches, statement } from "../client";
import { blobs, repositoryBlobs } from "../schema";

/** Where a blob's bytes are: an R2 key, or inline bytes (small manifests). */
export interface BlobLocation {
  digest: Digest;
  size: number;
  objectKey: string | null;
  /** A small manifest's exact text (see schema.ts). */
  content: string | null;
}

const locationColumns = {
  digest: blobs.digest,
  size: blobs.size,
  objectKey: blobs.objectKey,
  content: blobs.content,
};

/** The blob, if `repository` holds it. */
export async function findRepositoryBlob(db: Database, repository: RepoName, digest: Digest): Promise<BlobLocation | null> {
  const rows = await db
    .select(locationColumns)
    .from(repositoryBlobs)
    .innerJoin(blobs, eq(blobs.digest, repositoryBlobs.digest))
    .where(and(eq(repositoryBlobs.repository, repository), eq(repositoryBlobs.digest, digest)))
    .limit(1);
  return (rows[0] as BlobLocation | undefined) ?? null;
}

/** The blob's location, whichever repository holds it, unless collection has tombstoned it. */
export async function findStoredBlob(db: Database, digest: Digest): Promise<BlobLocation | null> {
  const rows = await db
    .select(locationColumns)
    .from(blobs)
    .where(and(eq(blobs.digest, digest), eq(blobs.state, "live")))
    .limit(1);
  return (rows[0] as BlobLocation | undefined) ?? null;
}

/**
 * A live blob a writer is about to rely on (the same bytes pushed again): touched, so that a
 * collection starting from now on keeps it for its grace window, and its size. Null when it is
 * not stored, or tombstoned: the writer stores the bytes itself.
 */
export async function touchLiveBlob(db: Database, digest: Digest, now: number): Promise<{ size: number } | null> {
  const rows = await db
    .update(blobs)
    .set({ touchedAt: now })
    .where(and(eq(blobs.digest, digest), eq(blobs.state, "live")))
    .returning({ size: blobs.size });
  return rows[0] ?? null;
}

/** Which of `digests` the repository holds as blobs. */
export function heldBlobDigests(db: Database, repository: RepoName, digests: Digest[]): Promise<Set<Digest>> {
  return inBatches(digests, async (slice) => {
    const rows = await db
      .select({ digest: repositoryBlobs.digest })
      .from(repositoryBlobs)
      .where(and(eq(repositoryBlobs.repository, repository), inArray(repositoryBlobs.digest, slice)));
    return rows.map((row) => row.digest as Digest);
  });
}

/** Some repositories that hold the blob (for mounts without `from`). */
export async function repositoriesHolding(db: Database, digest: Digest, limit: number): Promise<RepoName[]> {
  const rows = await db
    .select({ repository: repositoryBlobs.repository })
    .from(repositoryBlobs)
    .where(eq(repositoryBlobs.digest, digest))
    .limit(limit);
  return rows.map((row) => row.repository as RepoName);
}

/**
 * Records verified bytes stored under the caller's own key, and links them to the repository,
 * in one batch. A live row for the digest (another writer was first) keeps its location: the
 * returned location says which copy is authoritative, and the caller deletes its own if it is
 * not that one. A tombstoned row is revived with the caller's location: the collector deletes
 * only the object it tombstoned, never the caller's (worker/storage/keys.ts).
 */
export async function recordBlob(
  db: Database,
  repository: RepoName,
  blob: { digest: Digest; size: number; objectKey: string | null; content?: string | null },
  now: number,
): Promise<BlobLocation> {
  const [, , , rows] = await d1Batch(db, [
    upsertLiveBlob(db, { ...blob, content: blob.content ?? null }, now),
    insertRepositoryIfLive(db, repository, blob.digest),
    insertLinkIfLive(db, repository, blob.digest, now),
    statement(db, "SELECT digest, size, object_key AS objectKey, content FROM blobs WHERE digest = ?", blob.digest),
  ]);
  return rows![0] as unknown as BlobLocation;
}

/**
 * Links an already-stored blob into a repository (mounts, re-pushes of known content, fills
 * for another cache name). Only a live blob is linked, in the same statement that checks it:
 * false means the collector has tombstoned (or deleted) it, and the caller must store the
 * bytes again, or let the client upload them.
 */
export async function linkBlob(db: Database, repository: RepoName, digest: Digest, now: number): Promise<boolean> {
  const [, , linked] = await d1Batch(db, [
    insertRepositoryIfLive(db, repository, digest),
    insertLinkIfLive(db, repository, digest, now),
    statement(db, "SELECT 1 FROM repository_blobs WHERE repository = ? AND digest = ?", repository, digest),
  ]);
  return linked!.length > 0;
}

/**
 * Inserts the row, or revives a tombstoned one with this location; a live row keeps its
 * location and is touched. (SQLite evaluates every SET expression against the old row.)
 */
export function upsertLiveBlob(db: Database, blob: { digest: Digest; size: number; objectKey: string | null; content: string | null }, now: number): D1PreparedStatement {
  return statement(
    db,
    `INSERT INTO blobs (digest, size, object_key, content, state, touched_at) VALUES (?1, ?2, ?3, ?4, 'live', ?5)
     ON CONFLICT (digest) DO UPDATE SET
       object_key = CASE WHEN blobs.state = 'deleting' THEN excluded.object_key ELSE blobs.object_key END,
       content = CASE WHEN blobs.state = 'deleting' THEN excluded.content ELSE blobs.content END,
       state = 'live',
       touched_at = excluded.touched_at`,
    blob.digest,
    blob.size,
    blob.objectKey,
    blob.content,
    now,
  );
}

function insertRepositoryIfLive(db: Database, repository: RepoName, digest: Digest): D1PreparedStatement {
  return statement(
    db,
    `INSERT INTO repositories (name) SELECT ?1 WHERE EXISTS (SELECT 1 FROM blobs WHERE digest = ?2 AND state = 'live')
     ON CONFLICT DO NOTHING`,
    repository,
    digest,
  );
}

/** The link, written only while the blob is live: the half of the tombstone protocol writers keep. */
function insertLinkIfLive(db: Database, repository: RepoName, digest: Digest, now: number): D1PreparedStatement {
  return statement(
    db,
    `INSERT INTO repository_blobs (repository, digest, linked_at) SELECT ?1, digest, ?3 FROM blobs WHERE digest = ?2 AND state = 'live'
     ON CONFLICT (repository, digest) DO UPDATE SET linked_at = excluded.linked_at`,
    repository,
    digest,
    now,
  );
}

/** Removes the repository's link; true when there was one. The bytes stay for GC. */
export async function unlinkBlob(db: Database, repository: RepoName, digest: Digest): Promise<boolean> {
  const deleted = await db
    .delete(repositoryBlobs)
    .where(and(eq(repositoryBlobs.repository, repository), eq(repositoryBlobs.digest, digest)))
    .returning({ digest: repositoryBlobs.digest });
  return deleted.length > 0;
}
