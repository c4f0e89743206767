// What the pull-through cache records: per upstream, requests served from the cache vs.
// fetched, bytes served vs. fetched, upstream errors and stale serves; per cached artifact,
// its last pull and pull count. GET /api/v1/cache/stats reads it; retention will too.
//
// A D1 write on every pull would cost the hot path a round trip (and serialise warm pulls on
// D1's writer), so each isolate adds events up in memory and writes them about a second later
// in one batch (worker/storage/deferred-writes.ts). Counters are therefore about a second
// behind, and an isolate that dies loses its last second of counts: fine for statistics.
import { sql } from "drizzle-orm";
import type { Bindings, WaitUntil } from "../env";
import { database } from "../storage/db/client";
import { cacheCounters, cachedArtifacts } from "../storage/db/schema";
import { deferredWrites } from "../storage/deferred-writes";

export type CacheOutcome = "hit" | "miss" | "stale";

/** Every proxied answer says which it was: served from the cache, fetched, or stale. */
export const CACHE_HEADER = "X-Pier-Cache";

export interface ServedArtifact {
  upstream: string;
  /** The upstream's repository name (normalised). */
  repository: string;
  digest: string;
  kind: "manifest" | "blob";
  size: number;
  outcome: CacheOutcome;
  /** Bytes sent to the client (0 for HEAD). */
  bytesServed: number;
  /** Bytes this request fetched from upstream. */
  bytesFetched: number;
}

interface Counters {
  hits: number;
  misses: number;
  staleServes: number;
  upstreamErrors: number;
  bytesServed: number;
  bytesFetched: number;
}

// Bounded without an ExpiringMap (lesson 15): a collection lives about a second, until its write
// (deferred-writes.ts takes it out of memory before writing, whether the write succeeds or
// not), so it holds one entry per upstream (configured, few) and per artifact pulled from
// this isolate within that second, never more than that second's requests.
interface Pending {
  counters: Map<string, Counters>;
  artifacts: Map<string, { upstream: string; repository: string; digest: string; kind: "manifest" | "blob"; size: number; pulls: number; at: number }>;
}

const deferred = deferredWrites<Pending>(
  "cache statistics",
  () => ({ counters: new Map(), artifacts: new Map() }),
  (pending) => pending.counters.size === 0 && pending.artifacts.size === 0,
  writeCounts,
);

export function recordServed(env: Bindings, waitUntil: WaitUntil, served: ServedArtifact): void {
  const pending = deferred.pending(env, waitUntil);
  const counters = countersFor(pending, served.upstream);
  if (served.outcome === "hit") counters.hits++;
  else if (served.outcome === "miss") counters.misses++;
  else counters.staleServes++;
  counters.bytesServed += served.bytesServed;
  counters.bytesFetched += served.bytesFetched;
  const key = `${served.upstream} ${served.repository} ${served.digest}`;
  const artifact = pending.artifacts.get(key);
  if (artifact) {
    artifact.pulls++;
    artifact.at = Date.now();
  } else {
    const { upstream, repository, digest, kind, size } = served;
    pending.artifacts.set(key, { upstream, repository, digest, kind, size, pulls: 1, at: Date.now() });
  }
}

/** Bytes fetched outside a client's request (prefetch, a fill whose client left). */
export function recordFetched(env: Bindings, waitUntil: WaitUntil, upstream: string, bytes: number): void {
  countersFor(deferred.pending(env, waitUntil), upstream).bytesFetched += bytes;
}

export function recordUpstreamError(env: Bindings, waitUntil: WaitUntil, upstream: string): void {
  countersFor(deferred.pending(env, waitUntil), upstream).upstreamErrors++;
}

export interface UpstreamStats extends Counters {
  upstream: string;
  /** Share of requests answered without fetching (hits and stale serves). */
  hitRatio: number;
  /** Bytes served that did not have to come from upstream. */
  bytesSaved: number;
  /** What cache eviction removed (worker/lifecycle/cache-eviction.ts). */
  bytesEvicted: number;
  artifactsEvicted: number;
}

export interface CachedArtifactStats {
  upstream: string;
  repository: string;
  digest: string;
  kind: "manifest" | "blob";
  size: number;
  pullCount: number;
  lastPulledAt: string;
  cachedAt: string;
}

/** Totals per upstream and the most recently pulled artifacts. */
export async function readCacheStats(env: Bindings, artifactLimit: number): Promise<{ upstreams: UpstreamStats[]; artifacts: CachedArtifactStats[] }> {
  await flushCacheStats(env);
  const db = database(env.DB);
  const [counterRows, artifactRows] = await Promise.all([
    db.select().from(cacheCounters).orderBy(cacheCounters.upstream),
    db.select().from(cachedArtifacts).orderBy(sql`${cachedArtifacts.lastPulledAt} desc`).limit(artifactLimit),
  ]);
  return {
    upstreams: counterRows.map(({ updatedAt: _, ...row }) => {
      const requests = row.hits + row.misses + row.staleServes;
      return {
        ...row,
        hitRatio: requests === 0 ? 0 : (row.hits + row.staleServes) / requests,
        bytesSaved: Math.max(0, row.bytesServed - row.bytesFetched),
      };
    }),
    artifacts: artifactRows.map((row) => ({
      ...row,
      lastPulledAt: new Date(row.lastPulledAt).toISOString(),
      cachedAt: new Date(row.cachedAt).toISOString(),
    })),
  };
}

/** Writes this isolate's pending counts to D1 now. */
export function flushCacheStats(env: Bindings): Promise<void> {
  return deferred.flush(env);
}

async function writeCounts(env: Bindings, pending: Pending): Promise<void> {
  const db = database(env.DB);
  const now = Date.now();
  const counterStatements = [...pending.counters].map(([upstream, delta]) =>
    db
      .insert(cacheCounters)
      .values({ upstream, ...delta, updatedAt: now })
      .onConflictDoUpdate({
        target: cacheCounters.upstream,
        set: {
          hits: sql`${cacheCounters.hits} + ${delta.hits}`,
          misses: sql`${cacheCounters.misses} + ${delta.misses}`,
          staleServes: sql`${cacheCounters.staleServes} + ${delta.staleServes}`,
          upstreamErrors: sql`${cacheCounters.upstreamErrors} + ${delta.upstreamErrors}`,
          bytesServed: sql`${cacheCounters.bytesServed} + ${delta.bytesServed}`,
          bytesFetched: sql`${cacheCounters.bytesFetched} + ${delta.bytesFetched}`,
          updatedAt: now,
        },
      }),
  );
  const artifactStatements = [...pending.artifacts.values()].map(({ pulls, at, ...artifact }) =>
    db
      .insert(cachedArtifacts)
      .values({ ...artifact, pullCount: pulls, lastPulledAt: at, cachedAt: at })
      .onConflictDoUpdate({
        target: [cachedArtifacts.upstream, cachedArtifacts.repository, cachedArtifacts.digest],
        set: { pullCount: sql`${cachedArtifacts.pullCount} + ${pulls}`, lastPulledAt: at },
      }),
  );
  const statements = [...counterStatements, ...artifactStatements];
  if (statements.length > 0) await db.batch(statements as [(typeof statements)[number], ...(typeof statements)[number][]]);
}

function countersFor(pending: Pending, upstream: string): Counters {
  let counters = pending.counters.get(upstream);
  if (counters === undefined) {
    counters = { hits: 0, misses: 0, staleServes: 0, upstreamErrors: 0, bytesServed: 0, bytesFetched: 0 };
    pending.counters.set(upstream, counters);
  }
  return counters;
}
