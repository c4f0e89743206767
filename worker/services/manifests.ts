// Manifests (OCI distribution spec v1.1, "Pulling manifests", "Pushing manifests",
// "Deleting manifests"). The exact bytes pushed are the bytes served, with the media type
// they were pushed as. A push, a delete and a pull (GET) of a local repository are events
// (worker/events): PUSH_ARTIFACT and DELETE_ARTIFACT recorded in the change's own batch,
// PULL_ARTIFACT after the answer and only for a project whose webhooks subscribe to it.
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import { announceEvent, type EventCause, notePull, pierEvent } from "../events/events";
import { requireDeletable } from "../lifecycle/immutability";
import { projectOf } from "../lifecycle/patterns";
import { type Digest, digestAlgorithm, digestOf } from "../oci/digest";
import { parseManifest, type ParsedManifest } from "../oci/manifest";
import type { Reference, RepoName, Tag } from "../oci/names";
import { readStoredBytes } from "../storage/blob-store";
import { database } from "../storage/db/client";
import { heldBlobDigests } from "../storage/db/queries/blobs";
import { findManifestByDigest, findManifestByTag, heldManifestDigests, type StoredManifest } from "../storage/db/queries/manifests";
import { readBounded } from "../bounded-body";
import { missingBytes } from "./blobs";
import { admitManifest, removeManifest, removeTag, storeManifest } from "./content-writes";

/** Manifests up to this size are accepted; the spec asks registries to take at least 4 MiB. */
export const MAX_MANIFEST_BYTES = 8 * 1024 * 1024;

export interface ManifestContent {
  digest: Digest;
  mediaType: string;
  size: number;
  /** Null for HEAD. */
  body: ReadableStream<Uint8Array> | null;
}

/**
 * A local manifest. `pull`: who pulls it, when this GET is a client's pull (a PULL_ARTIFACT
 * event); null for HEADs and Pier's own reads (a replication reading its source).
 */
export async function getManifest(env: Bindings, repository: RepoName, reference: Reference, withBody: boolean, pull: EventCause | null = null): Promise<ManifestContent> {
  const manifest = await findManifest(env, repository, reference);
  if (manifest === null) throw unknownManifest(repository, reference);
  const content = await serveStoredManifest(env, manifest, withBody);
  if (withBody && pull !== null) {
    const tags = reference.kind === "tag" ? [reference.tag] : [];
    notePull(env, pull, projectOf(repository), { repository, digest: manifest.digest, tags, mediaType: manifest.mediaType, size: manifest.size });
  }
  return content;
}

/** A stored manifest's answer: its headers, and its bytes unless this is a HEAD. */
export async function serveStoredManifest(env: Bindings, manifest: StoredManifest, withBody: boolean): Promise<ManifestContent> {
  const content = { digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.size };
  if (!withBody) return { ...content, body: null };
  const body = await readStoredBytes(env.BLOBS, manifest, null);
  if (body === null) throw missingBytes(manifest.digest);
  return { ...content, body };
}

/**
 * Validates and stores a manifest. Everything it points at (config, layers, child manifests)
 * must already be in the repository; its subject need not be, as the spec requires. `cause`
 * names who pushed it (a login name, or "replication:<policy>") for its PUSH_ARTIFACT event.
 */
export async function putManifest(
  env: Bindings,
  repository: RepoName,
  reference: Reference,
  bytes: Uint8Array,
  contentType: string | null,
  extraTags: Tag[],
  cause: EventCause,
): Promise<{ digest: Digest; subject: Digest | null }> {
  const manifest = parseManifest(bytes, contentType);
  const digest = await digestOf(bytes, reference.kind === "digest" ? digestAlgorithm(reference.digest) : "sha256");
  if (reference.kind === "digest" && reference.digest !== digest) {
    throw new RegistryError("DIGEST_INVALID", `manifest content has digest ${digest}, not ${reference.digest}`);
  }
  await requireReferencedContent(env, repository, manifest);
  const tags = reference.kind === "tag" ? [reference.tag, ...extraTags] : extraTags;
  await admitManifest(env, repository, { digest, size: bytes.byteLength }, tags);

  const subject = manifest.subject?.digest ?? null;
  const event = pierEvent(
    { type: "PUSH_ARTIFACT", project: projectOf(repository), operator: cause.operator, origin: cause.origin, data: { repository, digest, tags, mediaType: manifest.mediaType, size: bytes.byteLength } },
    Date.now(),
  );
  const stored = await storeManifest(env, repository, {
    manifest: { digest, mediaType: manifest.mediaType, size: bytes.byteLength, subject, artifactType: manifest.artifactType },
    bytes,
    tags,
    blobs: registryBlobs(manifest),
    children: manifest.children.map((child) => child.digest),
    requireReferences: true,
    event,
  });
  // The check above passed, then a delete or a collection took something away before the write.
  if (!stored) throw new RegistryError("MANIFEST_BLOB_UNKNOWN", `content this manifest references left repository ${repository} while it was pushed; push it again`);
  await announceEvent(env, cause.waitUntil, event.id);
  return { digest, subject };
}

/** By digest: the manifest and every tag on it. By tag: only the tag. `cause`: who deletes it, for its DELETE_ARTIFACT event. */
export async function deleteManifest(env: Bindings, repository: RepoName, reference: Reference, cause: EventCause): Promise<void> {
  await requireDeletable(env, repository, reference);
  // The delete's statement fills in what it found: the digest a tag pointed at, a manifest's tags, media type and size.
  const facts = { repository, digest: reference.kind === "digest" ? reference.digest : null, tags: reference.kind === "tag" ? [reference.tag] : [], mediaType: null, size: null };
  const event = pierEvent({ type: "DELETE_ARTIFACT", project: projectOf(repository), operator: cause.operator, origin: cause.origin, data: facts }, Date.now());
  const deleted = reference.kind === "digest" ? await removeManifest(env, repository, reference.digest, event) : await removeTag(env, repository, reference.tag, event);
  if (!deleted) throw unknownManifest(repository, reference);
  await announceEvent(env, cause.waitUntil, event.id);
}

/**
 * Reads a manifest body (an upstream's, a stored one) of at most MAX_MANIFEST_BYTES, refusing
 * larger ones before or while reading (413 SIZE_INVALID, bounded-body.ts).
 */
export function readManifestBody(body: ReadableStream<Uint8Array> | null, declaredLength: number | null): Promise<Uint8Array> {
  return readBounded(body, declaredLength, MAX_MANIFEST_BYTES, "the manifest");
}

function findManifest(env: Bindings, repository: RepoName, reference: Reference): Promise<StoredManifest | null> {
  const db = database(env.DB);
  return reference.kind === "tag" ? findManifestByTag(db, repository, reference.tag) : findManifestByDigest(db, repository, reference.digest);
}

async function requireReferencedContent(env: Bindings, repository: RepoName, manifest: ParsedManifest): Promise<void> {
  const db = database(env.DB);
  const blobDigests = unique(registryBlobs(manifest));
  const childDigests = unique(manifest.children.map((child) => child.digest));
  const [heldBlobs, heldChildren] = await Promise.all([
    heldBlobDigests(db, repository, blobDigests),
    heldManifestDigests(db, repository, childDigests),
  ]);
  const missing = [...blobDigests.filter((digest) => !heldBlobs.has(digest)), ...childDigests.filter((digest) => !heldChildren.has(digest))];
  if (missing.length > 0) {
    throw new RegistryError("MANIFEST_BLOB_UNKNOWN", `manifest references content not in repository ${repository}: ${missing.slice(0, 5).join(", ")}`, {
      detail: missing.slice(0, 20).map((digest) => ({ digest })),
    });
  }
}

function unknownManifest(repository: RepoName, reference: Reference): RegistryError {
  const what = reference.kind === "tag" ? `tag ${reference.tag}` : `manifest ${reference.digest}`;
  return new RegistryError("MANIFEST_UNKNOWN", `${what} is not in repository ${repository}`);
}

/** The blobs a manifest needs from the registry: non-distributable layers (with `urls`) live outside it. */
export function registryBlobs(manifest: ParsedManifest): Digest[] {
  return manifest.blobs.filter((blob) => blob.urls === undefined).map((blob) => blob.digest);
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
