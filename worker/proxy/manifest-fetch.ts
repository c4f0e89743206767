// Asking upstream what a manifest reference is now, and storing what it sends. Runs inside the
// ManifestRefresh Durable Object of the reference (durable-objects/manifest-refresh.ts), so
// that however many clients miss the same tag at once, upstream sees one request: Docker Hub
// counts every manifest GET against its pull limit.
//   Pier holds the last answer: a HEAD revalidates it (Docker Hub does not count HEADs), and
//     only a digest that moved is fetched again.
//   Otherwise: a GET, the bytes verified against the digest asked for (or announced), stored.
//   Upstream 404: remembered as a negative answer (manifest-cache.ts decides for how long).
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import { type Digest, digestAlgorithm, digestOf, tryParseDigest } from "../oci/digest";
import { parseManifest } from "../oci/manifest";
import { bareMediaType, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST } from "../oci/media-types";
import { storeManifest } from "../services/content-writes";
import { MAX_MANIFEST_BYTES, readManifestBody, registryBlobs } from "../services/manifests";
import { database } from "../storage/db/client";
import { recordCachedReference } from "../storage/db/queries/cache";
import type { ProxyTarget } from "./routing";
import { exchangeDeadline, upstreamFetch, UpstreamError, type UpstreamFailure } from "./upstream-client";

/** Every manifest shape Pier serves; upstream picks what it has. */
const ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST].join(", ");

export type RefreshResult =
  /** The reference names `digest`, now stored; `fetched`: manifest bytes GET from upstream (0 when a HEAD confirmed). */
  | { kind: "current"; digest: Digest; fetched: number }
  | { kind: "missing" }
  | { kind: "failed"; failure: UpstreamFailure };

/** `key` is a tag or a digest; `cachedDigest` is what Pier last stored for it, if anything. */
export async function refreshReference(env: Bindings, target: ProxyTarget, key: string, cachedDigest: Digest | null): Promise<RefreshResult> {
  try {
    return await askUpstream(env, target, key, cachedDigest);
  } catch (error) {
    if (error instanceof UpstreamError) return { kind: "failed", failure: error.failure };
    throw error;
  }
}

async function askUpstream(env: Bindings, target: ProxyTarget, key: string, cachedDigest: Digest | null): Promise<RefreshResult> {
  const db = database(env.DB);
  const request = { repository: target.repository, path: `/v2/${target.repository}/manifests/${key}`, accept: ACCEPT, deadline: exchangeDeadline(target.upstream) };
  if (cachedDigest !== null) {
    const head = await upstreamFetch(env, target.upstream, { ...request, method: "HEAD" });
    await head.body?.cancel();
    if (head.status === 404) return forget(env, target, key);
    if (head.headers.get("Docker-Content-Digest") === cachedDigest) {
      await recordCachedReference(db, target.cacheName, key, cachedDigest, Date.now());
      return { kind: "current", digest: cachedDigest, fetched: 0 };
    }
  }
  const response = await upstreamFetch(env, target.upstream, { ...request, method: "GET" });
  if (response.status === 404) {
    await response.body?.cancel();
    return forget(env, target, key);
  }
  const stored = await storeFetched(env, target, key, response);
  await recordCachedReference(db, target.cacheName, key, stored.digest, Date.now());
  return { kind: "current", digest: stored.digest, fetched: stored.size };
}

/** Reads, verifies and stores a manifest upstream sent. Bytes that do not match their digest are never stored. */
async function storeFetched(env: Bindings, target: ProxyTarget, key: string, response: Response): Promise<{ digest: Digest; size: number }> {
  const declared = Number(response.headers.get("Content-Length") ?? NaN);
  let bytes: Uint8Array;
  try {
    bytes = await readManifestBody(response.body, Number.isSafeInteger(declared) ? declared : null);
  } catch (error) {
    if (error instanceof RegistryError) throw invalid(target, `a manifest larger than ${MAX_MANIFEST_BYTES} bytes`);
    throw new UpstreamError(target.upstream.name, { kind: "unreachable", message: `the manifest body broke off: ${(error as Error).message}` });
  }
  // The digest to check against: the reference itself, else the one upstream announced.
  const expected = tryParseDigest(key) ?? tryParseDigest(response.headers.get("Docker-Content-Digest") ?? "");
  const digest = await digestOf(bytes, expected === null ? "sha256" : digestAlgorithm(expected));
  if (expected !== null && digest !== expected) throw invalid(target, `a manifest whose digest is ${digest}, not ${expected}`);

  const contentType = bareMediaType(response.headers.get("Content-Type"));
  let details: { mediaType: string; subject: Digest | null; artifactType: string | null };
  let references: { blobs: Digest[]; children: Digest[] } = { blobs: [], children: [] };
  try {
    const manifest = parseManifest(bytes, contentType);
    details = { mediaType: manifest.mediaType, subject: manifest.subject?.digest ?? null, artifactType: manifest.artifactType };
    references = { blobs: registryBlobs(manifest), children: manifest.children.map((child) => child.digest) };
  } catch {
    // Pier serves what upstream serves: a shape it cannot index is still cached as bytes.
    if (contentType === null) throw invalid(target, "a manifest without a Content-Type");
    details = { mediaType: contentType, subject: null, artifactType: null };
  }
  // Its blobs are fetched when a client asks for them: recorded as references, not required.
  await storeManifest(env, target.cacheName, {
    manifest: { digest, size: bytes.byteLength, ...details },
    bytes,
    tags: [],
    ...references,
    requireReferences: false,
  });
  return { digest, size: bytes.byteLength };
}

async function forget(env: Bindings, target: ProxyTarget, key: string): Promise<RefreshResult> {
  await recordCachedReference(database(env.DB), target.cacheName, key, null, Date.now());
  return { kind: "missing" };
}

function invalid(target: ProxyTarget, what: string): UpstreamError {
  return new UpstreamError(target.upstream.name, { kind: "invalid", message: `it sent ${what}` });
}
