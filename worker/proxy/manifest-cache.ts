// Manifests through the pull-through cache.
//   By digest: once cached, served forever without asking upstream (content-addressed).
//   By tag:    the tag → digest answer is fresh for the upstream's tagTtlSeconds (zero upstream
//              requests), then revalidated with a HEAD (Docker Hub does not count HEADs against
//              its pull limit) and fetched again only when the digest moved.
//   Upstream failing (429, 5xx, timeout, network): a cached answer is served, marked stale.
//   Upstream 404: remembered briefly (negative cache), so a typo in a CI loop does not hammer it.
// Indexes are stored whole, byte for byte; their children are fetched when a client asks.
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import { type Digest, digestAlgorithm, digestOf, tryParseDigest } from "../oci/digest";
import { parseManifest } from "../oci/manifest";
import { bareMediaType, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST } from "../oci/media-types";
import type { Reference } from "../oci/names";
import { database } from "../storage/db/client";
import { type CachedReference, findCachedReference, recordCachedReference } from "../storage/db/queries/cache";
import { findManifestByDigest, recordManifest, type StoredManifest } from "../storage/db/queries/manifests";
import { manifestLocation, type ManifestContent, MAX_MANIFEST_BYTES, readManifestBody, serveStoredManifest } from "../services/manifests";
import { type CacheOutcome, recordServed, recordUpstreamError } from "./cache-stats";
import type { ProxyTarget } from "./routing";
import { exchangeDeadline, upstreamFetch, UpstreamError } from "./upstream-client";
import { upstreamFailureToError } from "./upstream-errors";

export interface ProxiedManifest extends ManifestContent {
  cache: CacheOutcome;
}

type WaitUntil = (promise: Promise<unknown>) => void;

/** Every manifest shape Pier serves; upstream picks what it has. */
const ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST].join(", ");
/** Upstream 404s are remembered this long at most (and never longer than the tag TTL). */
const NEGATIVE_TTL_MS = 30_000;

export async function getProxiedManifest(env: Bindings, waitUntil: WaitUntil, target: ProxyTarget, reference: Reference, withBody: boolean): Promise<ProxiedManifest> {
  const db = database(env.DB);
  const key = reference.kind === "tag" ? reference.tag : reference.digest;
  if (reference.kind === "digest") {
    const stored = await findManifestByDigest(db, target.cacheName, reference.digest);
    if (stored !== null) return serve(env, waitUntil, target, stored, "hit", withBody, 0);
  }
  const cached = await findCachedReference(db, target.cacheName, key);
  const now = Date.now();
  const ttlMs = target.upstream.tagTtlSeconds * 1000;
  if (cached !== null && cached.digest === null && now - cached.checkedAt < Math.min(NEGATIVE_TTL_MS, ttlMs)) throw unknown(target, key);
  if (cached?.manifest != null && now - cached.checkedAt < ttlMs) return serve(env, waitUntil, target, cached.manifest, "hit", withBody, 0);

  try {
    return await refresh(env, waitUntil, target, key, cached, withBody);
  } catch (error) {
    if (!(error instanceof UpstreamError)) throw error;
    recordUpstreamError(env, waitUntil, target.upstream.name);
    if (cached?.manifest != null) return serve(env, waitUntil, target, cached.manifest, "stale", withBody, 0);
    throw upstreamFailureToError(error.upstream, error.failure);
  }
}

/** Asks upstream: a HEAD when Pier holds the last answer (revalidation), else a GET. */
async function refresh(env: Bindings, waitUntil: WaitUntil, target: ProxyTarget, key: string, cached: CachedReference | null, withBody: boolean): Promise<ProxiedManifest> {
  const db = database(env.DB);
  const deadline = exchangeDeadline(target.upstream);
  const request = { repository: target.repository, path: `/v2/${target.repository}/manifests/${key}`, accept: ACCEPT, deadline };
  if (cached?.manifest != null) {
    const head = await upstreamFetch(env, target.upstream, { ...request, method: "HEAD" });
    await head.body?.cancel();
    if (head.status === 404) return forget(env, target, key);
    if (head.headers.get("Docker-Content-Digest") === cached.manifest.digest) {
      await recordCachedReference(db, target.cacheName, key, cached.manifest.digest, Date.now());
      return serve(env, waitUntil, target, cached.manifest, "hit", withBody, 0);
    }
  }
  const response = await upstreamFetch(env, target.upstream, { ...request, method: "GET" });
  if (response.status === 404) {
    await response.body?.cancel();
    return forget(env, target, key);
  }
  const stored = await storeFetched(env, target, key, response);
  await recordCachedReference(db, target.cacheName, key, stored.digest, Date.now());
  return serve(env, waitUntil, target, stored, "miss", withBody, stored.size);
}

/** Reads, verifies and stores a manifest upstream sent. Bytes that do not match their digest are never stored. */
async function storeFetched(env: Bindings, target: ProxyTarget, key: string, response: Response): Promise<StoredManifest> {
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
  try {
    const manifest = parseManifest(bytes, contentType);
    details = { mediaType: manifest.mediaType, subject: manifest.subject?.digest ?? null, artifactType: manifest.artifactType };
  } catch {
    // Pier serves what upstream serves: a shape it cannot index is still cached as bytes.
    if (contentType === null) throw invalid(target, "a manifest without a Content-Type");
    details = { mediaType: contentType, subject: null, artifactType: null };
  }
  const location = await manifestLocation(env, digest, bytes);
  const record = { digest, size: bytes.byteLength, ...details };
  await recordManifest(database(env.DB), target.cacheName, record, location, []);
  return { digest, mediaType: details.mediaType, size: bytes.byteLength, ...location };
}

async function forget(env: Bindings, target: ProxyTarget, key: string): Promise<never> {
  await recordCachedReference(database(env.DB), target.cacheName, key, null, Date.now());
  throw unknown(target, key);
}

async function serve(
  env: Bindings,
  waitUntil: WaitUntil,
  target: ProxyTarget,
  manifest: StoredManifest,
  cache: CacheOutcome,
  withBody: boolean,
  bytesFetched: number,
): Promise<ProxiedManifest> {
  const content = await serveStoredManifest(env, manifest, withBody);
  recordServed(env, waitUntil, {
    upstream: target.upstream.name,
    repository: target.repository,
    digest: manifest.digest,
    kind: "manifest",
    size: manifest.size,
    outcome: cache,
    bytesServed: withBody ? manifest.size : 0,
    bytesFetched,
  });
  return { ...content, cache };
}

function unknown(target: ProxyTarget, key: string): RegistryError {
  return new RegistryError("MANIFEST_UNKNOWN", `${key} is not in ${target.repository} on upstream ${target.upstream.name}`);
}

function invalid(target: ProxyTarget, what: string): UpstreamError {
  return new UpstreamError(target.upstream.name, { kind: "invalid", message: `it sent ${what}` });
}
