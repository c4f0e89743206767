// Manifests, tags and referrers of a repository.
import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import type { Digest } from "../../../oci/digest";
import type { RepoName, Tag } from "../../../oci/names";
import { type Database, inBatches } from "../client";
import { blobs, manifests, repositories, tags } from "../schema";
import type { BlobLocation } from "./blobs";

export interface StoredManifest extends BlobLocation {
  mediaType: string;
}

export interface ManifestRecord {
  digest: Digest;
  mediaType: string;
  size: number;
  subject: Digest | null;
  artifactType: string | null;
}

export interface ReferrerRow extends StoredManifest {
  artifactType: string | null;
}

const manifestColumns = {
  digest: manifests.digest,
  mediaType: manifests.mediaType,
  size: manifests.size,
  objectKey: blobs.objectKey,
  content: blobs.content,
};

// The two reads behind every pull are built once per isolate (drizzle prepared queries with
// placeholders): building the SQL again on each request cost a visible share of a manifest GET.
const byTag = (db: Database) =>
  db
    .select(manifestColumns)
    .from(tags)
    .innerJoin(manifests, and(eq(manifests.repository, tags.repository), eq(manifests.digest, tags.digest)))
    .innerJoin(blobs, eq(blobs.digest, manifests.digest))
    .where(and(eq(tags.repository, sql.placeholder("repository")), eq(tags.name, sql.placeholder("tag"))))
    .limit(1)
    .prepare();

const byDigest = (db: Database) =>
  db
    .select(manifestColumns)
    .from(manifests)
    .innerJoin(blobs, eq(blobs.digest, manifests.digest))
    .where(and(eq(manifests.repository, sql.placeholder("repository")), eq(manifests.digest, sql.placeholder("digest"))))
    .limit(1)
    .prepare();

const preparedByTag = new WeakMap<Database, ReturnType<typeof byTag>>();
const preparedByDigest = new WeakMap<Database, ReturnType<typeof byDigest>>();

/** The manifest a tag points at: one query, the hot path of every pull. */
export async function findManifestByTag(db: Database, repository: RepoName, tag: Tag): Promise<StoredManifest | null> {
  const query = preparedByTag.get(db) ?? preparedByTag.set(db, byTag(db)).get(db)!;
  return ((await query.get({ repository, tag })) as StoredManifest | undefined) ?? null;
}

export async function findManifestByDigest(db: Database, repository: RepoName, digest: Digest): Promise<StoredManifest | null> {
  const query = preparedByDigest.get(db) ?? preparedByDigest.set(db, byDigest(db)).get(db)!;
  return ((await query.get({ repository, digest })) as StoredManifest | undefined) ?? null;
}

/** Which of `digests` the repository holds as manifests. */
export function heldManifestDigests(db: Database, repository: RepoName, digests: Digest[]): Promise<Set<Digest>> {
  return inBatches(digests, async (slice) => {
    const rows = await db
      .select({ digest: manifests.digest })
      .from(manifests)
      .where(and(eq(manifests.repository, repository), inArray(manifests.digest, slice)));
    return rows.map((row) => row.digest as Digest);
  });
}

/**
 * Records a manifest, where its bytes are, and the tags pointing at it, in one batch.
 * Pushing the same manifest again changes nothing but the tags.
 */
export async function recordManifest(
  db: Database,
  repository: RepoName,
  manifest: ManifestRecord,
  location: { objectKey: string | null; content: string | null },
  tagNames: Tag[],
): Promise<void> {
  const statements = [
    db
      .insert(blobs)
      .values({ digest: manifest.digest, size: manifest.size, objectKey: location.objectKey, content: location.content })
      .onConflictDoNothing(),
    db.insert(repositories).values({ name: repository }).onConflictDoNothing(),
    db
      .insert(manifests)
      .values({
        repository,
        digest: manifest.digest,
        mediaType: manifest.mediaType,
        size: manifest.size,
        subject: manifest.subject,
        artifactType: manifest.artifactType,
      })
      .onConflictDoNothing(),
  ] as const;
  const tagStatements = tagNames.map((name) =>
    db
      .insert(tags)
      .values({ repository, name, digest: manifest.digest })
      .onConflictDoUpdate({ target: [tags.repository, tags.name], set: { digest: manifest.digest, updatedAt: sql`(unixepoch())` } }),
  );
  await db.batch([...statements, ...tagStatements]);
}

/** Deletes a manifest and every tag pointing at it; true when it existed. */
export async function deleteManifest(db: Database, repository: RepoName, digest: Digest): Promise<boolean> {
  const [, deleted] = await db.batch([
    db.delete(tags).where(and(eq(tags.repository, repository), eq(tags.digest, digest))),
    db
      .delete(manifests)
      .where(and(eq(manifests.repository, repository), eq(manifests.digest, digest)))
      .returning({ digest: manifests.digest }),
  ]);
  return deleted.length > 0;
}

/** Deletes one tag, leaving the manifest; true when it existed. */
export async function deleteTag(db: Database, repository: RepoName, tag: Tag): Promise<boolean> {
  const deleted = await db
    .delete(tags)
    .where(and(eq(tags.repository, repository), eq(tags.name, tag)))
    .returning({ name: tags.name });
  return deleted.length > 0;
}

/** Tag names in lexical (byte) order, after `last`. */
export async function listTags(db: Database, repository: RepoName, last: string | null, limit: number): Promise<string[]> {
  const condition = last === null ? eq(tags.repository, repository) : and(eq(tags.repository, repository), gt(tags.name, last));
  const rows = await db.select({ name: tags.name }).from(tags).where(condition).orderBy(asc(tags.name)).limit(limit);
  return rows.map((row) => row.name);
}

/** Manifests whose subject is `subject`, in digest order after `last`. */
export async function listReferrers(
  db: Database,
  repository: RepoName,
  subject: Digest,
  artifactType: string | null,
  last: string | null,
  limit: number,
): Promise<ReferrerRow[]> {
  // The manifest's bytes come along (inline for small manifests) for their annotations.
  const conditions = [eq(manifests.repository, repository), eq(manifests.subject, subject)];
  if (artifactType !== null) conditions.push(eq(manifests.artifactType, artifactType));
  if (last !== null) conditions.push(gt(manifests.digest, last));
  const rows = await db
    .select({
      digest: manifests.digest,
      mediaType: manifests.mediaType,
      size: manifests.size,
      artifactType: manifests.artifactType,
      objectKey: blobs.objectKey,
      content: blobs.content,
    })
    .from(manifests)
    .innerJoin(blobs, eq(blobs.digest, manifests.digest))
    .where(and(...conditions))
    .orderBy(asc(manifests.digest))
    .limit(limit);
  return rows as ReferrerRow[];
}
