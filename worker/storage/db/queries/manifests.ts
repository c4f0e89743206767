// Manifests, tags and referrers of a repository.
import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import type { Digest } from "../../../oci/digest";
import type { RepoName, Tag } from "../../../oci/names";
import { d1Batch, type Database, inBatches, statement } from "../client";
import { blobs, manifests, tags } from "../schema";
import { type BlobLocation, upsertLiveBlob } from "./blobs";
import { insertEventFrom, type OutboxRow } from "./events";

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

/** A manifest to record, with what it points at and the tags to put on it. */
export interface ManifestWrite {
  manifest: ManifestRecord;
  /** Where its bytes are; null when a live blob row holds them already (they were not written again). */
  location: { objectKey: string | null; content: string | null } | null;
  tags: Tag[];
  /** The config and layers it needs from the registry (non-distributable layers aside). */
  blobs: Digest[];
  /** An index's child manifests. */
  children: Digest[];
  /**
   * A push needs everything it points at in the repository already, checked in the statement
   * that inserts it; a cached upstream manifest is recorded before its blobs are fetched.
   */
  requireReferences: boolean;
  /**
   * The push's event (worker/events): its outbox row is inserted in the batch, only when the
   * manifest is recorded. Absent for writes that are no push (pull-through fills, prefetches).
   */
  event?: OutboxRow | null;
}

/**
 * "bytes-missing": the collector tombstoned the bytes the writer meant to rely on; store them
 * and retry. `objectKey` is where D1 says the bytes are (a writer whose copy is not that one
 * deletes its copy).
 */
export type ManifestWriteResult = { outcome: "recorded"; objectKey: string | null } | { outcome: "bytes-missing" | "references-missing" };

/**
 * Records a manifest, its references and its tags in one batch, each statement conditional on
 * the one before: the manifest row only while its bytes are live and (for a push) everything
 * it points at is still in the repository, so that a collection deleting a link or a child
 * meanwhile makes the push fail rather than leave a manifest pointing at nothing. Pushing the
 * same manifest again changes its push time and its tags.
 */
export async function recordManifest(db: Database, repository: RepoName, write: ManifestWrite, now: number): Promise<ManifestWriteResult> {
  const { manifest } = write;
  const blobList = unique(write.blobs);
  const childList = unique(write.children);
  // ?1 repository, ?2 digest, ?3 the blobs (JSON), ?4 the children (JSON), then each statement's
  // own; D1 wants exactly as many values as the highest ?N a statement names.
  const bound = (text: string, ...more: unknown[]) => {
    const values = [repository, manifest.digest, JSON.stringify(blobList), JSON.stringify(childList), ...more];
    const highest = Math.max(...[...text.matchAll(/\?(\d+)/g)].map((match) => Number(match[1])));
    return statement(db, text, ...values.slice(0, highest));
  };
  const present = "EXISTS (SELECT 1 FROM manifests WHERE repository = ?1 AND digest = ?2)";
  const referencesHeld = write.requireReferences
    ? `(SELECT count(*) FROM repository_blobs WHERE repository = ?1 AND digest IN (SELECT value FROM json_each(?3))) = ${blobList.length}
       AND (SELECT count(*) FROM manifests WHERE repository = ?1 AND digest IN (SELECT value FROM json_each(?4))) = ${childList.length}`
    : "1";
  const statements = [
    bound(
      `INSERT INTO manifests (repository, digest, media_type, size, subject, artifact_type, pushed_at, references_recorded)
       SELECT ?1, ?2, ?5, ?6, ?7, ?8, ?9, 1
       WHERE EXISTS (SELECT 1 FROM blobs WHERE digest = ?2 AND state = 'live') AND ${referencesHeld}
       ON CONFLICT (repository, digest) DO UPDATE SET pushed_at = excluded.pushed_at, references_recorded = 1`,
      manifest.mediaType,
      manifest.size,
      manifest.subject,
      manifest.artifactType,
      now,
    ),
    ...referenceInserts(db, repository, manifest.digest, { blobs: blobList, children: childList }, present),
    bound(`INSERT INTO repositories (name) SELECT ?1 WHERE ${present} ON CONFLICT DO NOTHING`),
    bound(
      `INSERT INTO tags (repository, name, digest, updated_at) SELECT ?1, value, ?2, unixepoch() FROM json_each(?5) WHERE ${present}
       ON CONFLICT (repository, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
      JSON.stringify(write.tags),
    ),
    ...(write.event ? [insertEventFrom(db, write.event, "manifests WHERE repository = ?6 AND digest = ?7", {}, repository, manifest.digest)] : []),
    bound("SELECT 1 FROM manifests WHERE repository = ?1 AND digest = ?2"),
    bound("SELECT state, object_key AS objectKey FROM blobs WHERE digest = ?2"),
  ];
  if (write.location !== null) statements.unshift(upsertLiveBlob(db, { digest: manifest.digest, size: manifest.size, ...write.location }, now));
  const results = await d1Batch(db, statements);
  const [recorded, bytes] = results.slice(-2) as [unknown[], { state: string; objectKey: string | null }[]];
  if (recorded.length > 0) return { outcome: "recorded", objectKey: bytes[0]?.objectKey ?? null };
  return { outcome: bytes[0]?.state === "live" ? "references-missing" : "bytes-missing" };
}

/**
 * The statements recording what a manifest points at (its blobs and child manifests), each
 * inserting only when `onlyWhen` holds: SQL over ?1 (the repository) and ?2 (the manifest).
 * The push records them with its manifest; the backfill (reference-backfill.ts) for older ones.
 */
export function referenceInserts(
  db: Database,
  repository: RepoName,
  manifest: Digest,
  targets: { blobs: Digest[]; children: Digest[] },
  onlyWhen = "1",
): D1PreparedStatement[] {
  return (
    [
      ["blob", targets.blobs],
      ["manifest", targets.children],
    ] as const
  ).map(([kind, digests]) =>
    statement(
      db,
      `INSERT INTO manifest_references (repository, manifest, target, kind)
       SELECT ?1, ?2, value, '${kind}' FROM json_each(?3) WHERE ${onlyWhen} ON CONFLICT DO NOTHING`,
      repository,
      manifest,
      JSON.stringify(unique(digests)),
    ),
  );
}

/**
 * Deletes a manifest, every tag pointing at it and its references; true when it existed. The
 * delete's event (`event`, worker/events) goes first in the batch, inserted only while the
 * manifest exists, with its media type, size and tags as the delete found them.
 */
export async function deleteManifest(db: Database, repository: RepoName, digest: Digest, event: OutboxRow | null = null): Promise<boolean> {
  const facts = {
    "$.data.mediaType": "m.media_type",
    "$.data.size": "m.size",
    "$.data.tags": "json((SELECT json_group_array(name) FROM (SELECT name FROM tags WHERE repository = ?6 AND digest = ?7 ORDER BY name)))",
  };
  const results = await d1Batch(db, [
    ...(event === null ? [] : [insertEventFrom(db, event, "manifests m WHERE m.repository = ?6 AND m.digest = ?7", facts, repository, digest)]),
    statement(db, "DELETE FROM tags WHERE repository = ?1 AND digest = ?2", repository, digest),
    statement(db, "DELETE FROM manifests WHERE repository = ?1 AND digest = ?2 RETURNING digest", repository, digest),
    statement(db, "DELETE FROM manifest_references WHERE repository = ?1 AND manifest = ?2", repository, digest),
  ]);
  return results.at(-2)!.length > 0;
}

/**
 * Deletes one tag, leaving the manifest; true when it existed. The event, when given, goes
 * first in the batch with the digest the tag pointed at.
 */
export async function deleteTag(db: Database, repository: RepoName, tag: Tag, event: OutboxRow | null = null): Promise<boolean> {
  const source = "tags t LEFT JOIN manifests m ON m.repository = t.repository AND m.digest = t.digest WHERE t.repository = ?6 AND t.name = ?7";
  const results = await d1Batch(db, [
    ...(event === null ? [] : [insertEventFrom(db, event, source, { "$.data.digest": "t.digest", "$.data.mediaType": "m.media_type", "$.data.size": "m.size" }, repository, tag)]),
    statement(db, "DELETE FROM tags WHERE repository = ?1 AND name = ?2 RETURNING name", repository, tag),
  ]);
  return results.at(-1)!.length > 0;
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

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

