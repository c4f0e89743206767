// A bounded per-isolate memory whose entries expire (lesson 15): what Pier remembers between
// requests (verified tokens, project facts, upstream tokens and challenges, small manifests,
// request-limit leases) so that a warm request asks neither D1, WebCrypto nor an upstream.
// Only plain values go in: an isolate's requests may share data, never each other's I/O.
//
// Two bounds hold at every moment: at most `limit` entries, and (when `weight` is given) at
// most `weight.max` in total of `weight.of(value)`. An isolate has 128 MB; a map that grows
// with the number of repositories, tokens or clients would eventually take it all.
// When a bound is exceeded, entries that have expired go first (they answer nothing anyway),
// then the oldest: the first inserted, or with `refreshOnHit` the least recently used.

export interface ExpiringMapOptions<V> {
  /** Most entries held. */
  limit: number;
  /** A second bound, on a size of the values (e.g. characters of manifest text). */
  weight?: { max: number; of: (value: V) => number };
  /** A hit moves the entry to the back of the eviction order (least recently used goes first). */
  refreshOnHit?: boolean;
}

interface Entry<V> {
  value: V;
  /** ms since the epoch; the entry answers while `until > now`. */
  until: number;
  weight: number;
}

export class ExpiringMap<V> {
  /** In eviction order: a Map iterates in insertion order. */
  private readonly entries = new Map<string, Entry<V>>();
  private readonly options: ExpiringMapOptions<V>;
  private totalWeight = 0;
  /** No entry expires before this, so a sweep before it would find nothing to drop. */
  private earliestUntil = Infinity;

  /** `limit` alone: at most that many entries, the oldest-inserted dropped beyond it. */
  constructor(limitOrOptions: number | ExpiringMapOptions<V>) {
    this.options = typeof limitOrOptions === "number" ? { limit: limitOrOptions } : limitOrOptions;
  }

  /** Entries held, including expired ones not yet dropped; never more than the limit. */
  get size(): number {
    return this.entries.size;
  }

  /** The value, while `until` (ms since the epoch) has not passed. */
  get(key: string, now = Date.now()): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.remove(key, entry);
      return undefined;
    }
    if (this.options.refreshOnHit) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry.value;
  }

  /** Remembers `value` until `until`; one that is already expired, or alone too heavy, is not kept. */
  set(key: string, value: V, until: number, now = Date.now()): void {
    const previous = this.entries.get(key);
    if (previous !== undefined) this.remove(key, previous);
    const weight = this.options.weight?.of(value) ?? 0;
    if (until <= now || weight > (this.options.weight?.max ?? Infinity)) return;
    this.entries.set(key, { value, until, weight });
    this.totalWeight += weight;
    this.earliestUntil = Math.min(this.earliestUntil, until);
    this.shrink(now);
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry !== undefined) this.remove(key, entry);
  }

  private overBounds(): boolean {
    return this.entries.size > this.options.limit || this.totalWeight > (this.options.weight?.max ?? Infinity);
  }

  private shrink(now: number): void {
    if (!this.overBounds()) return;
    // A full scan, but only when something can have expired since the last one; every set()
    // follows a D1 query, a signature check or an upstream request, which cost far more.
    if (this.earliestUntil <= now) this.dropExpired(now);
    for (const [key, entry] of this.entries) {
      if (!this.overBounds()) break;
      this.remove(key, entry);
    }
  }

  private dropExpired(now: number): void {
    this.earliestUntil = Infinity;
    for (const [key, entry] of this.entries) {
      if (entry.until <= now) this.remove(key, entry);
      else this.earliestUntil = Math.min(this.earliestUntil, entry.until);
    }
  }

  private remove(key: string, entry: Entry<V>): void {
    this.entries.delete(key);
    this.totalWeight -= entry.weight;
  }
}

/** One ExpiringMap per owner object (a configuration, a D1 binding), made on first use. */
export function expiringMapsBy<O extends object, V>(limitOrOptions: number | ExpiringMapOptions<V>): (owner: O) => ExpiringMap<V> {
  const maps = new WeakMap<O, ExpiringMap<V>>();
  return (owner) => {
    let map = maps.get(owner);
    if (map === undefined) maps.set(owner, (map = new ExpiringMap<V>(limitOrOptions)));
    return map;
  };
}
