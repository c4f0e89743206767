// The isolate's memory of small cached manifests, so that a warm pull by tag at the edge is
// answered without a D1 round trip (D1 lives in one region; a pull in Sydney would otherwise
// cross the world for every tag).
//
// This changes no answer: an entry is kept only until the moment its D1 answer would expire
// (a tag: checked + tagTtlSeconds; a digest: never, content-addressed), and within that time the
// D1 answer cannot change either, since a cached reference is only ever refreshed after it
// expired. Proxied names are read-only, so no push or delete can move them meanwhile. It is a
// cache, not coordination: losing it costs one D1 query.
import { expiringMapsBy } from "../expiring-map";
import type { StoredManifest } from "../storage/db/queries/manifests";

/**
 * Bounds: about 4 MiB of manifest text per isolate (of 128 MB), in at most 2,000 entries; the
 * least recently used goes first, so the tags a location keeps pulling stay in memory.
 */
const memoFor = expiringMapsBy<D1Database, StoredManifest>({
  limit: 2_000,
  weight: { max: 4 * 1024 * 1024, of: (manifest) => manifest.content!.length },
  refreshOnHit: true,
});

export function recallManifest(db: D1Database, cacheName: string, key: string, now: number): StoredManifest | null {
  return memoFor(db).get(`${cacheName}:${key}`, now) ?? null;
}

/**
 * Remembers a manifest held inline in D1 (larger ones are read from R2 anyway) until
 * `freshUntil` (ms since the epoch; Infinity for a digest).
 */
export function rememberManifest(db: D1Database, cacheName: string, key: string, manifest: StoredManifest, freshUntil: number): void {
  if (manifest.content === null) return;
  memoFor(db).set(`${cacheName}:${key}`, manifest, freshUntil);
}
