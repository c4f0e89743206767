// Manifests through the pull-through cache.
//   By digest: once cached, served forever without asking upstream (content-addressed).
//   By tag:    the tag → digest answer is fresh for the upstream's tagTtlSeconds (zero upstream
//              requests), then revalidated (worker/proxy/manifest-fetch.ts: a HEAD, and a GET
//              only when the digest moved), through the reference's ManifestRefresh Durable
//              Object, so concurrent misses make one upstream request.
//   Upstream failing (429, 5xx, timeout, network): a cached answer is served, marked stale.
//   Upstream 404: remembered briefly (worker/proxy/freshness.ts).
// Small manifests are also remembered by the isolate for as long as their answer is fresh
// (worker/proxy/manifest-memo.ts): a warm pull at the edge then needs no D1 round trip.
// Indexes are stored whole, byte for byte; their children are fetched when a client asks.
import type { Bindings, WaitUntil } from "../env";
import { RegistryError } from "../errors";
import type { Reference } from "../oci/names";
import { database } from "../storage/db/client";
import { findCachedReference } from "../storage/db/queries/cache";
import { findManifestByDigest, type StoredManifest } from "../storage/db/queries/manifests";
import { type ManifestContent, serveStoredManifest } from "../services/manifests";
import { CACHE_HEADER, type CacheOutcome, recordServed, recordUpstreamError } from "./cache-stats";
import { freshness } from "./freshness";
import { recallManifest, rememberManifest } from "./manifest-memo";
import type { ProxyTarget } from "./routing";
import { upstreamFailureToError } from "./upstream-errors";

export interface ProxiedManifest extends ManifestContent {
  cache: CacheOutcome;
}

/** `retried`: this is the second look, after the copy a HEAD confirmed was evicted meanwhile. */
export async function getProxiedManifest(env: Bindings, waitUntil: WaitUntil, target: ProxyTarget, reference: Reference, withBody: boolean, retried = false): Promise<ProxiedManifest> {
  const db = database(env.DB);
  const key = reference.kind === "tag" ? reference.tag : reference.digest;
  const now = Date.now();
  const recalled = recallManifest(env.DB, target.cacheName, key, now);
  if (recalled !== null) return serve(env, waitUntil, target, recalled, "hit", withBody, 0);
  if (reference.kind === "digest") {
    const stored = await findManifestByDigest(db, target.cacheName, reference.digest);
    if (stored !== null) return serve(env, waitUntil, target, remember(env, target, key, stored, Infinity), "hit", withBody, 0);
  }
  const cached = await findCachedReference(db, target.cacheName, key);
  const state = freshness(cached, target.upstream, now);
  if (state === "known-missing") throw unknown(target, key, "hit");
  if (state === "fresh") {
    const freshUntil = cached!.checkedAt + target.upstream.tagTtlSeconds * 1000;
    return serve(env, waitUntil, target, remember(env, target, key, cached!.manifest!, freshUntil), "hit", withBody, 0);
  }

  const answer = await refreshStub(env, target, key).refresh({ upstream: target.upstream.name, repository: target.repository, key });
  switch (answer.kind) {
    case "missing":
      throw unknown(target, key, "miss");
    case "failed":
      // Counted once, by the request that asked upstream.
      if (!answer.joined) recordUpstreamError(env, waitUntil, target.upstream.name);
      if (cached?.manifest != null) return serve(env, waitUntil, target, cached.manifest, "stale", withBody, 0);
      throw upstreamFailureToError(target.upstream.name, answer.failure);
    case "current": {
      const manifest = await findManifestByDigest(db, target.cacheName, answer.digest);
      // Upstream's HEAD confirmed the copy the lookup found, and cache eviction removed it
      // before this read (worker/lifecycle/cache-eviction.ts): the next lookup finds no copy
      // and fetches it.
      if (manifest === null && answer.fetched === 0 && !retried) return getProxiedManifest(env, waitUntil, target, reference, withBody, true);
      if (manifest === null) throw new RegistryError("UNKNOWN", `manifest ${answer.digest} was fetched but is not recorded`);
      remember(env, target, key, manifest, reference.kind === "digest" ? Infinity : Date.now() + target.upstream.tagTtlSeconds * 1000);
      // Fetched bytes: a miss (and only the request that fetched them counts them).
      const fetched = answer.fetched > 0;
      return serve(env, waitUntil, target, manifest, fetched ? "miss" : "hit", withBody, fetched && !answer.joined ? answer.fetched : 0);
    }
  }
}

function remember(env: Bindings, target: ProxyTarget, key: string, manifest: StoredManifest, freshUntil: number): StoredManifest {
  rememberManifest(env.DB, target.cacheName, key, manifest, freshUntil);
  return manifest;
}

function refreshStub(env: Bindings, target: ProxyTarget, key: string) {
  return env.MANIFEST_REFRESHES.get(env.MANIFEST_REFRESHES.idFromName(`${target.cacheName}:${key}`));
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

/** `cache`: whether upstream was asked now ("miss") or its recent 404 was remembered ("hit"). */
function unknown(target: ProxyTarget, key: string, cache: CacheOutcome): RegistryError {
  return new RegistryError("MANIFEST_UNKNOWN", `${key} is not in ${target.repository} on upstream ${target.upstream.name}`, {
    headers: { [CACHE_HEADER]: cache },
  });
}
