// Blob records: where each digest's bytes live (`blobs`), and which repositories hold them
// (`repository_blobs`). A blob is visible in a repository only through its link row.
import { and, eq, inArray } from "drizzle-orm";
import type { Digest } from "../../../oci/digest";
import type { RepoName } from "../../../oci/names";
import { type Database, inBatches } from "../client";
import { blobs, repositories, repositoryBlobs } from "../schema";

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

/** The blob's location, whichever repository holds it. Never shown to clients as such. */
export async function findStoredBlob(db: Database, digest: Digest): Promise<BlobLocation | null> {
  const rows = await db.select(locationColumns).from(blobs).where(eq(blobs.digest, digest)).limit(1);
  return (rows[0] as BlobLocation | undefined) ?? null;
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
 * Records a verified blob and links it to the repository, in one batch. When another writer
 * recorded the digest first, its location stays (the bytes are the same) and the caller's copy
 * is redundant: the returned location says which one is authoritative.
 */
export async function recordBlob(
  db: Database,
  repository: RepoName,
  blob: { digest: Digest; size: number; objectKey: string | null; content?: string | null },
): Promise<BlobLocation> {
  const [, , , rows] = await db.batch([
    db
      .insert(blobs)
      .values({ digest: blob.digest, size: blob.size, objectKey: blob.objectKey, content: blob.content ?? null })
      .onConflictDoNothing(),
    db.insert(repositories).values({ name: repository }).onConflictDoNothing(),
    db.insert(repositoryBlobs).values({ repository, digest: blob.digest }).onConflictDoNothing(),
    db.select(locationColumns).from(blobs).where(eq(blobs.digest, blob.digest)),
  ]);
  return rows[0] as BlobLocation;
}

/** Links an already-stored blob into a repository (mounts, and re-pushes of known content). */
export async function linkBlob(db: Database, repository: RepoName, digest: Digest): Promise<void> {
  await db.batch([
    db.insert(repositories).values({ name: repository }).onConflictDoNothing(),
    db.insert(repositoryBlobs).values({ repository, digest }).onConflictDoNothing(),
  ]);
}

/** Removes the repository's link; true when there was one. The bytes stay for GC. */
export async function unlinkBlob(db: Database, repository: RepoName, digest: Digest): Promise<boolean> {
  const deleted = await db
    .delete(repositoryBlobs)
    .where(and(eq(repositoryBlobs.repository, repository), eq(repositoryBlobs.digest, digest)))
    .returning({ digest: repositoryBlobs.digest });
  return deleted.length > 0;
}
