// A bounded per-isolate memory whose entries expire: what the access checks remember between
// requests (verified tokens, project facts) so that a warm pull asks neither D1 nor WebCrypto.
// Only plain values go in: an isolate's requests may share data, never each other's I/O.

export class ExpiringMap<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  /** At most `limit` entries; beyond it the oldest-inserted is dropped. */
  constructor(private readonly limit: number) {}

  /** The value, while `until` (ms since the epoch) has not passed. */
  get(key: string, now = Date.now()): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until > now) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, until: number): void {
    this.entries.delete(key);
    if (this.entries.size >= this.limit) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, until });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}

/** One ExpiringMap per owner object (a configuration, a D1 binding), made on first use. */
export function expiringMapsBy<O extends object, V>(limit: number): (owner: O) => ExpiringMap<V> {
  const maps = new WeakMap<O, ExpiringMap<V>>();
  return (owner) => {
    let map = maps.get(owner);
    if (map === undefined) maps.set(owner, (map = new ExpiringMap<V>(limit)));
    return map;
  };
}
