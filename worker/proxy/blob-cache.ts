// Blobs through the pull-through cache.
//   Cached for this repository: served from R2 like any local blob (ranges too), no upstream
//     request at all.
//   Stored, but for another repository (another upstream, a local push): the bytes are here,
//     but this upstream repository must really have them, or Pier would tell a client about
//     content its upstream would refuse it (a cross-repository oracle). One upstream HEAD
//     confirms, then the blob is linked and served.
//   Missing: the BlobFill Durable Object of the digest fetches it, exactly once however many
//     clients ask at the same time, and streams it to them as it arrives
//     (durable-objects/blob-fill.ts). A HEAD on a miss is answered by an upstream HEAD alone.
// Upstream failures become the client errors of upstream-errors.ts: nothing is cached to fall
// back on, since a digest names the same bytes forever and a cached blob is always served.
import type { FillRequest } from "../../durable-objects/blob-fill";
import type { Bindings, WaitUntil } from "../env";
import { RegistryError } from "../errors";
import type { Digest } from "../oci/digest";
import { type ByteRange, parseRangeHeader } from "../oci/ranges";
import { type BlobContent, missingBytes, satisfiableRange } from "../services/blobs";
import { readStoredBytes } from "../storage/blob-store";
import { database } from "../storage/db/client";
import { type BlobLocation, findRepositoryBlob, findStoredBlob } from "../storage/db/queries/blobs";
import { linkStoredBlob } from "../services/content-writes";
import { CACHE_HEADER, type CacheOutcome, recordFetched, recordServed, recordUpstreamError } from "./cache-stats";
import type { ProxyTarget } from "./routing";
import { headBlob, UpstreamError, type UpstreamFailure } from "./upstream-client";
import { upstreamFailureToError } from "./upstream-errors";

/** HEAD: the blob's size, from the cache or (on a miss) from an upstream HEAD; nothing is fetched. */
export async function statProxiedBlob(env: Bindings, waitUntil: WaitUntil, target: ProxyTarget, digest: Digest): Promise<{ digest: Digest; size: number; cache: CacheOutcome }> {
  const db = database(env.DB);
  const held = await findRepositoryBlob(db, target.cacheName, digest);
  if (held !== null) return served(env, waitUntil, target, digest, held.size, "hit", 0, 0);
  const [size, stored] = await Promise.all([upstreamHead(env, waitUntil, target, digest), findStoredBlob(db, digest)]);
  // Upstream just confirmed the repository has it, and the bytes are here: link, it is a hit
  // (unless collection took them meanwhile: then it is a miss like any other).
  if (stored === null || !(await linkStoredBlob(env, target.cacheName, digest))) return served(env, waitUntil, target, digest, size, "miss", 0, 0);
  return served(env, waitUntil, target, digest, stored.size, "hit", 0, 0);
}

/** GET: the blob (or the range asked for) from the cache, or streamed from its fill. */
export async function openProxiedBlob(
  env: Bindings,
  waitUntil: WaitUntil,
  target: ProxyTarget,
  digest: Digest,
  rangeHeader: string | null,
): Promise<BlobContent & { cache: CacheOutcome }> {
  const db = database(env.DB);
  const cached = await findCachedBlob(env, waitUntil, target, digest);
  if (cached !== null) return serveStored(env, waitUntil, target, cached, rangeHeader, "hit", 0);

  // A range on a miss needs the size before the fill can serve it: one upstream HEAD.
  let range: ByteRange | null = null;
  let size: number | undefined;
  if (rangeHeader !== null && parseRangeHeader(rangeHeader, Number.MAX_SAFE_INTEGER) !== null) {
    size = await upstreamHead(env, waitUntil, target, digest);
    range = satisfiableRange(rangeHeader, size);
  }
  const answer = await fillStub(env, digest).open(fillRequest(target, digest, range, size));
  switch (answer.kind) {
    case "stored": {
      const blob = await findRepositoryBlob(db, target.cacheName, digest);
      if (blob === null) throw new RegistryError("UNKNOWN", `the fill of ${digest} reported it stored, but it is not recorded`);
      return serveStored(env, waitUntil, target, blob, rangeHeader, answer.fetched > 0 ? "miss" : "hit", answer.fetched);
    }
    case "missing":
      throw unknownBlob(target, digest);
    case "failed":
      throw failedUpstream(env, waitUntil, target.upstream.name, answer.failure);
    case "streaming": {
      const length = range?.length ?? answer.size;
      // A stream arriving over RPC carries no length: give the answer one, so that a fill that
      // fails mid-way reaches the client as a truncated body, never as a complete one.
      const sized = new FixedLengthStream(length);
      answer.body.pipeTo(sized.writable).catch(() => {});
      const outcome = served(env, waitUntil, target, digest, answer.size, "miss", length, answer.fetched);
      return { digest, size: answer.size, range, body: sized.readable, cache: outcome.cache };
    }
  }
}

/**
 * Makes sure the blob is cached for the target, fetching it if needed (prefetch). Resolves
 * once it is stored; `fetched` counts the bytes this call had fetched from upstream.
 */
export async function ensureProxiedBlob(env: Bindings, waitUntil: WaitUntil, target: ProxyTarget, digest: Digest): Promise<{ fetched: number }> {
  if ((await findCachedBlob(env, waitUntil, target, digest)) !== null) return { fetched: 0 };
  const result = await fillStub(env, digest).fill(fillRequest(target, digest, null, undefined));
  if (result.kind === "missing") throw unknownBlob(target, digest);
  if (result.kind === "failed") throw failedUpstream(env, waitUntil, target.upstream.name, result.failure);
  if (result.fetched > 0) recordFetched(env, waitUntil, target.upstream.name, result.fetched);
  return { fetched: result.fetched };
}

/** The blob if this repository holds it, or once upstream confirmed it may (stored elsewhere). */
async function findCachedBlob(env: Bindings, waitUntil: WaitUntil, target: ProxyTarget, digest: Digest): Promise<BlobLocation | null> {
  const db = database(env.DB);
  const held = await findRepositoryBlob(db, target.cacheName, digest);
  if (held !== null) return held;
  const stored = await findStoredBlob(db, digest);
  if (stored === null) return null;
  await upstreamHead(env, waitUntil, target, digest);
  // Collected meanwhile: not cached after all, the fill fetches it again.
  return (await linkStoredBlob(env, target.cacheName, digest)) ? stored : null;
}

async function serveStored(
  env: Bindings,
  waitUntil: WaitUntil,
  target: ProxyTarget,
  blob: BlobLocation,
  rangeHeader: string | null,
  cache: CacheOutcome,
  fetched: number,
): Promise<BlobContent & { cache: CacheOutcome }> {
  const range = satisfiableRange(rangeHeader, blob.size);
  const body = await readStoredBytes(env.BLOBS, blob, range);
  if (body === null) throw missingBytes(blob.digest);
  served(env, waitUntil, target, blob.digest, blob.size, cache, range?.length ?? blob.size, fetched);
  return { digest: blob.digest, size: blob.size, range, body, cache };
}

/** An upstream HEAD of the blob: its size. Throws the client's error on 404 or failure. */
async function upstreamHead(env: Bindings, waitUntil: WaitUntil, target: ProxyTarget, digest: Digest): Promise<number> {
  let head: { size: number | null } | null;
  try {
    head = await headBlob(env, target.upstream, target.repository, digest);
  } catch (error) {
    if (error instanceof UpstreamError) throw failedUpstream(env, waitUntil, error.upstream, error.failure);
    throw error;
  }
  if (head === null) throw unknownBlob(target, digest);
  if (head.size === null) {
    throw failedUpstream(env, waitUntil, target.upstream.name, { kind: "invalid", message: `HEAD of blob ${digest} answered without a Content-Length` });
  }
  return head.size;
}

function fillStub(env: Bindings, digest: Digest) {
  return env.BLOB_FILLS.get(env.BLOB_FILLS.idFromName(digest));
}

function fillRequest(target: ProxyTarget, digest: Digest, range: ByteRange | null, size: number | undefined): FillRequest {
  const request: FillRequest = { upstream: target.upstream.name, repository: target.repository, cacheName: target.cacheName, digest, range };
  if (size !== undefined) request.size = size;
  return request;
}

function failedUpstream(env: Bindings, waitUntil: WaitUntil, upstream: string, failure: UpstreamFailure): RegistryError {
  recordUpstreamError(env, waitUntil, upstream);
  return upstreamFailureToError(upstream, failure);
}

/** Upstream was asked (a GET or a HEAD) and does not have it. */
function unknownBlob(target: ProxyTarget, digest: Digest): RegistryError {
  return new RegistryError("BLOB_UNKNOWN", `blob ${digest} is not in ${target.repository} on upstream ${target.upstream.name}`, { headers: { [CACHE_HEADER]: "miss" } });
}

function served(
  env: Bindings,
  waitUntil: WaitUntil,
  target: ProxyTarget,
  digest: Digest,
  size: number,
  cache: CacheOutcome,
  bytesServed: number,
  bytesFetched: number,
): { digest: Digest; size: number; cache: CacheOutcome } {
  recordServed(env, waitUntil, { upstream: target.upstream.name, repository: target.repository, digest, kind: "blob", size, outcome: cache, bytesServed, bytesFetched });
  return { digest, size, cache };
}
