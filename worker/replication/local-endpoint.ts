// This Pier as one end of a replication (endpoint.ts). Everything goes through the services a
// client's push or pull goes through, so content replicated in takes the one content-write path
// (lesson 12): quota and tag immutability are admitted, references and GC coordination are kept,
// events are emitted where the services emit them. Nothing here names a table or an R2 key.
//
// Blobs: R2 is deduplicated across the whole registry, so a blob whose bytes are stored and live
// anywhere here is linked into the destination repository without reading the source (a
// "mount", whatever `mountFrom` says: any holder will do, as for a mount without `from`). New
// bytes stream into R2 through the monolithic-push path, where R2 checks the digest on the way
// in: bytes that do not match store nothing.
import type { Bindings, WaitUntil } from "../env";
import { RegistryError } from "../errors";
import type { EventCause } from "../events/events";
import { type Digest, digestAlgorithm, digestOf, parseDigest } from "../oci/digest";
import { parseReference, parseRepoName, type RepoName } from "../oci/names";
import { MAX_PAGE_SIZE, type Page } from "../oci/pagination";
import { openBlob, statBlob } from "../services/blobs";
import { admitBlob, claimStoredBlob, linkStoredBlob } from "../services/content-writes";
import { listCatalog, type Listing, listReferrers, listTags } from "../services/listings";
import { deleteManifest, getManifest, putManifest, readManifestBody } from "../services/manifests";
import { pushMonolithic } from "../services/uploads";
import type { BlobBody, Endpoint, ManifestBytes, ReferrerDescriptor } from "./endpoint";

/** R2's largest single put: bigger blobs would need the multipart path, which replication does not take yet. */
export const MAX_REPLICATED_BLOB_BYTES = 5 * 1024 * 1024 * 1024;

export interface LocalEndpointOptions {
  /** Entries per listing page (tests make it small to cross pages). */
  pageSize?: number;
}

/**
 * `operator` is who the writes are attributed to in their events ("replication:<policy>");
 * `waitUntil` queues those events after the write, as a request's would.
 */
export function localEndpoint(env: Bindings, waitUntil: WaitUntil, operator: string, options: LocalEndpointOptions = {}): Endpoint {
  const pageSize = Math.min(options.pageSize ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE);
  // Replicated pushes and deletions are events like a client's, attributed to `operator`
  // (worker/events). There is no request, so no origin.
  const cause: EventCause = { operator, origin: null, waitUntil };

  return {
    name: "this Pier",

    async listRepositories() {
      return allPages(pageSize, (page) => listCatalog(env, page, null), (name) => name);
    },

    async listTags(repository) {
      const name = parseRepoName(repository);
      return allPages(pageSize, (page) => listTags(env, name, page), (tag) => tag).catch(absentAs("NAME_UNKNOWN", []));
    },

    async getManifest(repository, reference) {
      const found = await getManifest(env, parseRepoName(repository), parseReference(reference), true).catch(absentAs("MANIFEST_UNKNOWN", null));
      if (found === null) return null;
      const bytes = await readManifestBody(found.body, found.size);
      return { digest: found.digest, mediaType: found.mediaType, bytes };
    },

    async manifestDigest(repository, reference) {
      const found = await getManifest(env, parseRepoName(repository), parseReference(reference), false).catch(absentAs("MANIFEST_UNKNOWN", null));
      return found?.digest ?? null;
    },

    async putManifest(repository, reference, manifest: ManifestBytes) {
      const name = parseRepoName(repository);
      const parsed = parseReference(reference);
      // Under a tag the service would take whatever digest the bytes have: check the one named.
      const actual = await digestOf(manifest.bytes, digestAlgorithm(manifest.digest));
      if (actual !== manifest.digest) throw new RegistryError("DIGEST_INVALID", `manifest bytes have digest ${actual}, not ${manifest.digest}; nothing was stored`);
      await putManifest(env, name, parsed, manifest.bytes, manifest.mediaType, [], cause);
    },

    async deleteManifest(repository, reference) {
      return deleteManifest(env, parseRepoName(repository), parseReference(reference), cause).then(
        () => true,
        absentAs("MANIFEST_UNKNOWN", false),
      );
    },

    async hasBlob(repository, digest) {
      return statBlob(env, parseRepoName(repository), digest).then(() => true, absentAs("BLOB_UNKNOWN", false));
    },

    async getBlob(repository, digest): Promise<BlobBody | null> {
      const blob = await openBlob(env, parseRepoName(repository), digest, null).catch(absentAs("BLOB_UNKNOWN", null));
      return blob === null ? null : { size: blob.size, body: blob.body };
    },

    async putBlob(repository, digest, blob, mountFrom) {
      const name = parseRepoName(repository);
      if (mountFrom !== null) parseRepoName(mountFrom);
      if (await mountStored(env, name, digest)) return { transferred: false };
      await pushNew(env, name, digest, await blob());
      return { transferred: true };
    },

    async listReferrers(repository, digest) {
      const name = parseRepoName(repository);
      const items = await allPages(pageSize, (page) => listReferrers(env, name, digest, null, page), (item) => item.digest);
      return items.map(
        (item): ReferrerDescriptor => ({
          mediaType: item.mediaType,
          digest: parseDigest(item.digest),
          size: item.size,
          ...(item.artifactType !== undefined && { artifactType: item.artifactType }),
        }),
      );
    },
  };
}

/**
 * Links bytes stored anywhere in the registry (touched first, so a collection starting now
 * keeps them), after the project's quota admits them. False when they are not stored, or were
 * collected before the link: the caller stores them.
 */
async function mountStored(env: Bindings, repository: RepoName, digest: Digest): Promise<boolean> {
  if ((await claimStoredBlob(env, digest)) === null) return false;
  await admitBlob(env, repository, digest, null);
  return linkStoredBlob(env, repository, digest);
}

/** New bytes, through the monolithic push (quota first, R2 verifying the digest, then the record). */
async function pushNew(env: Bindings, repository: RepoName, digest: Digest, blob: BlobBody): Promise<void> {
  try {
    if (blob.size > MAX_REPLICATED_BLOB_BYTES) {
      throw new RegistryError("SIZE_INVALID", `blob ${digest} has ${blob.size} bytes; Pier replicates blobs of at most ${MAX_REPLICATED_BLOB_BYTES} bytes (R2's single put)`);
    }
    await pushMonolithic(env, repository, digest, blob.body, blob.size);
  } catch (error) {
    // A refusal before the body was read leaves the source's stream open: release it.
    if (!blob.body.locked) await blob.body.cancel().catch((cause: unknown) => console.error(`releasing the source stream of ${digest} failed`, cause));
    throw rephrased(error, digest);
  }
}

/** pushMonolithic speaks to a client; here the bytes came from a replication source. */
function rephrased(error: unknown, digest: Digest): unknown {
  if (!(error instanceof RegistryError)) return error;
  if (error.code === "DIGEST_INVALID") return new RegistryError("DIGEST_INVALID", `the bytes read for ${digest} do not match it; nothing was stored`);
  if (error.code === "BLOB_UPLOAD_INVALID") return new RegistryError("BLOB_UPLOAD_INVALID", `the bytes of ${digest} did not arrive whole; nothing was stored`);
  return error;
}

/** Every entry of a paginated listing, page after page. */
async function allPages<T>(limit: number, read: (page: Page) => Promise<Listing<T>>, keyOf: (item: T) => string): Promise<T[]> {
  const all: T[] = [];
  let last: string | null = null;
  for (;;) {
    const listing = await read({ limit, last });
    all.push(...listing.items);
    if (listing.next === null || listing.items.length === 0) return all;
    last = keyOf(listing.items[listing.items.length - 1]!);
  }
}

/** Absence is a value (DESIGN convention 2): the service's "unknown" error becomes `value`. */
function absentAs<T>(code: RegistryError["code"], value: T): (error: unknown) => T {
  return (error) => {
    if (error instanceof RegistryError && error.code === code) return value;
    throw error;
  };
}
