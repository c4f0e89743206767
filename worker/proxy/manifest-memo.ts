// The isolate's memory of small cached manifests, so that a warm pull by tag at the edge is
// answered without a D1 round trip (D1 lives in one region; a pull in Sydney would otherwise
// cross the world for every tag).
//
// This changes no answer: an entry is kept only until the moment its D1 answer would expire
// (a tag: checked + tagTtlSeconds; a digest: never, content-addressed), and within that time the
// D1 answer cannot change either, since a cached reference is only ever refreshed after it
// expired. Proxied names are read-only, so no push or delete can move them meanwhile. It is a
// cache, not coordination: losing it costs one D1 query.
import type { StoredManifest } from "../storage/db/queries/manifests";

interface Entry {
  manifest: StoredManifest;
  /** ms since the epoch; Infinity for a digest. */
  freshUntil: number;
}

/** Bounds: about 4 MiB of manifest text per isolate (of 128 MB), in at most 2,000 entries. */
const MAX_ENTRIES = 2_000;
const MAX_CHARS = 4 * 1024 * 1024;

/** Least recently used first (a Map keeps insertion order; a hit re-inserts). */
class ManifestMemo {
  private readonly entries = new Map<string, Entry>();
  private chars = 0;

  recall(name: string, now: number): StoredManifest | null {
    const entry = this.entries.get(name);
    if (entry === undefined) return null;
    this.remove(name, entry);
    if (entry.freshUntil <= now) return null;
    this.add(name, entry);
    return entry.manifest;
  }

  remember(name: string, entry: Entry): void {
    const previous = this.entries.get(name);
    if (previous !== undefined) this.remove(name, previous);
    this.add(name, entry);
    for (const [oldest, old] of this.entries) {
      if (this.entries.size <= MAX_ENTRIES && this.chars <= MAX_CHARS) break;
      this.remove(oldest, old);
    }
  }

  private add(name: string, entry: Entry): void {
    this.entries.set(name, entry);
    this.chars += entry.manifest.content!.length;
  }

  private remove(name: string, entry: Entry): void {
    this.entries.delete(name);
    this.chars -= entry.manifest.content!.length;
  }
}

const memos = new WeakMap<D1Database, ManifestMemo>();

export function recallManifest(db: D1Database, cacheName: string, key: string, now: number): StoredManifest | null {
  return memos.get(db)?.recall(`${cacheName}:${key}`, now) ?? null;
}

/** Remembers a manifest held inline in D1 (larger ones are read from R2 anyway). */
export function rememberManifest(db: D1Database, cacheName: string, key: string, manifest: StoredManifest, freshUntil: number): void {
  if (manifest.content === null || freshUntil <= Date.now()) return;
  let memo = memos.get(db);
  if (memo === undefined) {
    memo = new ManifestMemo();
    memos.set(db, memo);
  }
  memo.remember(`${cacheName}:${key}`, { manifest, freshUntil });
}
