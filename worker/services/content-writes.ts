// The one content-write path (DESIGN lesson 12). Every way content enters a repository goes
// through here: uploads and monolithic pushes, mounts, manifest PUTs, pull-through fills and
// prefetches. It is where references are recorded and where writers keep their half of the
// garbage collector's tombstone protocol (durable-objects/registry-lock.ts):
//   - new bytes are written under a key of their own and recorded (reviving a tombstoned row);
//   - bytes already stored are linked only while live, in the statement that checks it; when
//     collection took them, the writer stores them again (manifests, fills) or the client
//     uploads them (mounts: the spec's fallback to an upload session);
//   - a writer about to re-hash a re-push of stored bytes touches them first, so that a
//     collection starting meanwhile keeps them for its grace window.
// Pushes (never fills or prefetches: those write into proxy projects) are admitted first: the
// project's storage limit and tag immutability rules, read from its row once per request.
// A push's or delete's event (worker/events) is written here, in the batch of the change.
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import { outboxRow, type PierEvent } from "../events/events";
import { requireTagsMayMove, rulesOf } from "../lifecycle/immutability";
import { projectOf } from "../lifecycle/patterns";
import { quotaOf, requireRoom } from "../lifecycle/quotas";
import type { Digest } from "../oci/digest";
import type { RepoName, Tag } from "../oci/names";
import { writeVerified } from "../storage/blob-store";
import { database } from "../storage/db/client";
import { type BlobLocation, linkBlob, recordBlob, touchLiveBlob, unlinkBlob } from "../storage/db/queries/blobs";
import { deleteManifest, deleteTag, type ManifestRecord, type ManifestWrite, recordManifest } from "../storage/db/queries/manifests";
import { findProject, type ProjectRow } from "../storage/db/queries/principals";
import { deleteArtifacts, type Removal } from "../storage/db/queries/retention-artifacts";

/** Manifests up to this size are kept in their D1 row: a pull by tag is then one query. */
export const INLINE_MANIFEST_BYTES = 64 * 1024;

/**
 * Verified bytes stored under `objectKey` (a key no other write uses): recorded and linked to
 * the repository. When another writer recorded the digest first, its copy stays and ours is
 * deleted; the returned location is the one D1 holds.
 */
export async function recordStoredBlob(env: Bindings, repository: RepoName, blob: { digest: Digest; size: number; objectKey: string }): Promise<BlobLocation> {
  const location = await recordBlob(database(env.DB), repository, blob, Date.now());
  if (location.objectKey !== blob.objectKey) await deleteOwnCopy(env, blob.objectKey, blob.digest);
  return location;
}

/** Links stored bytes into the repository; false when collection has taken them. */
export function linkStoredBlob(env: Bindings, repository: RepoName, digest: Digest): Promise<boolean> {
  return linkBlob(database(env.DB), repository, digest, Date.now());
}

/**
 * Before re-hashing a push of bytes the registry already holds: their size when they are
 * stored and live (touched, so a collection starting now keeps them), else null.
 */
export function claimStoredBlob(env: Bindings, digest: Digest): Promise<{ size: number } | null> {
  return touchLiveBlob(database(env.DB), digest, Date.now());
}

/** The re-push was checked, but the bytes it relied on were collected meanwhile (past the grace window). */
export function collectedMeanwhile(digest: Digest): RegistryError {
  return new RegistryError("BLOB_UPLOAD_INVALID", `${digest} was removed by garbage collection while this push was checked; push it again`);
}

/**
 * Before a blob push stores or links anything: 403 DENIED when it would take the project over
 * its storage limit (worker/lifecycle/quotas.ts; there, what `digest` and `size` null mean).
 */
export async function admitBlob(env: Bindings, repository: RepoName, digest: Digest | null, size: number | null): Promise<void> {
  await requireRoom(env, quotaOf(await pushedProject(env, repository)), digest, size, repository);
}

/**
 * An upload's verified bytes, not linked yet (`objectKey`: our own copy; null when the registry
 * held them already): refused past the project's storage limit, and then deleted.
 */
export async function admitUploaded(env: Bindings, repository: RepoName, blob: { digest: Digest; size: number; objectKey: string | null }): Promise<void> {
  try {
    await admitBlob(env, repository, blob.digest, blob.size);
  } catch (error) {
    if (blob.objectKey !== null) await deleteOwnCopy(env, blob.objectKey, blob.digest);
    throw error;
  }
}

/** Before a manifest push stores anything: its tags may move (tag immutability) and its bytes fit the project's limit. */
export async function admitManifest(env: Bindings, repository: RepoName, manifest: { digest: Digest; size: number }, tags: Tag[]): Promise<void> {
  const project = await pushedProject(env, repository);
  await requireTagsMayMove(env, rulesOf(project), repository, tags, manifest.digest);
  await requireRoom(env, quotaOf(project), manifest.digest, manifest.size, repository);
}

/** The project a push goes into (local names are `<project>/…`), read once per request. */
function pushedProject(env: Bindings, repository: RepoName): Promise<ProjectRow | null> {
  return findProject(database(env.DB), projectOf(repository));
}

export interface ManifestToStore {
  manifest: ManifestRecord;
  bytes: Uint8Array;
  tags: Tag[];
  blobs: Digest[];
  children: Digest[];
  requireReferences: boolean;
  /** A push's PUSH_ARTIFACT event: recorded with the manifest, in its batch (never for fills). */
  event?: PierEvent | null;
}

/**
 * Stores a manifest's bytes (inline when small, else in R2 unless live there already) and
 * records it. False when something it points at left the repository between the caller's
 * check and the write (a concurrent delete or collection): nothing was recorded.
 */
export async function storeManifest(env: Bindings, repository: RepoName, toStore: ManifestToStore): Promise<boolean> {
  const db = database(env.DB);
  const { digest } = toStore.manifest;
  const inline = inlineText(toStore.bytes);
  let location: ManifestWrite["location"] = inline === null ? null : { objectKey: null, content: inline };
  if (location === null && (await touchLiveBlob(db, digest, Date.now())) === null) location = await writeManifestBytes(env, digest, toStore.bytes);
  const write: ManifestWrite = { ...toStore, location, event: toStore.event ? outboxRow(toStore.event) : null };
  let result = await recordManifest(db, repository, write, Date.now());
  if (result.outcome === "bytes-missing") {
    // Collection tombstoned the stored copy after we found it live: store the bytes again.
    write.location = await writeManifestBytes(env, digest, toStore.bytes);
    result = await recordManifest(db, repository, write, Date.now());
  }
  const ours = write.location?.objectKey ?? null;
  if (ours !== null && (result.outcome !== "recorded" || result.objectKey !== ours)) await deleteOwnCopy(env, ours, digest);
  if (result.outcome === "bytes-missing") throw new RegistryError("UNKNOWN", `storing manifest ${digest} failed: its bytes were collected twice while it was written`);
  return result.outcome === "recorded";
}

/**
 * By digest: the manifest, its tags and references. By tag: only the tag. True when it existed.
 * `event` (DELETE_ARTIFACT) is recorded in the delete's batch, only when something was deleted.
 */
export function removeManifest(env: Bindings, repository: RepoName, digest: Digest, event: PierEvent | null = null): Promise<boolean> {
  return deleteManifest(database(env.DB), repository, digest, event === null ? null : outboxRow(event));
}

export function removeTag(env: Bindings, repository: RepoName, tag: Tag, event: PierEvent | null = null): Promise<boolean> {
  return deleteTag(database(env.DB), repository, tag, event === null ? null : outboxRow(event));
}

/**
 * Retention's removal of artifacts of one repository with their children and referrers, each
 * re-checked as it is deleted (worker/storage/db/queries/retention-artifacts.ts); the digests
 * removed. As with removeManifest, the bytes stay until garbage collection.
 */
export function removeArtifacts(env: Bindings, repository: RepoName, removal: Removal): Promise<Set<string>> {
  return deleteArtifacts(database(env.DB), repository, removal);
}

/** Removes the repository's link to a blob; its bytes stay until garbage collection. */
export function removeBlobLink(env: Bindings, repository: RepoName, digest: Digest): Promise<boolean> {
  return unlinkBlob(database(env.DB), repository, digest);
}

async function writeManifestBytes(env: Bindings, digest: Digest, bytes: Uint8Array): Promise<{ objectKey: string; content: null }> {
  const written = await writeVerified(env.BLOBS, digest, bytes, bytes.byteLength);
  // The digest was computed from these very bytes; a mismatch means storage misbehaved.
  if (!written.ok) throw new RegistryError("UNKNOWN", `storing manifest ${digest} failed`);
  return { objectKey: written.objectKey, content: null };
}

/** Our copy lost to another writer's, or was never recorded: nothing names it. */
async function deleteOwnCopy(env: Bindings, objectKey: string, digest: Digest): Promise<void> {
  await env.BLOBS.delete(objectKey).catch((error: unknown) => console.error(`deleting an unrecorded copy of ${digest} (${objectKey}) failed; collection will find it`, error));
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * A small manifest's exact text, for its D1 row; null when it goes to R2. TEXT holds the exact
 * bytes of valid UTF-8 (pushed manifests always are: they are checked JSON; an upstream's might
 * not be, and then goes to R2).
 */
function inlineText(bytes: Uint8Array): string | null {
  if (bytes.byteLength > INLINE_MANIFEST_BYTES) return null;
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}
