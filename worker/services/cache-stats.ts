// GET /api/v1/cache/stats: every configured upstream (zeros until it serves something) with
// its counters, the bytes it holds (the sum of its cached artifacts' sizes), what eviction
// removed, and its eviction settings; and the most recently pulled cached artifacts.
import type { Config } from "../config";
import type { Bindings } from "../env";
import { readCacheStats, type UpstreamStats } from "../proxy/cache-stats";
import { database } from "../storage/db/client";
import { storedBytesByUpstream } from "../storage/db/queries/cache";

export async function cacheStats(env: Bindings, config: Config, artifactLimit: number) {
  const { upstreams, artifacts } = await readCacheStats(env, artifactLimit);
  // After readCacheStats, which writes this isolate's pending pulls first.
  const stored = await storedBytesByUpstream(database(env.DB));
  const byName = new Map(upstreams.map((stats) => [stats.upstream, stats]));
  const configured = config.upstreams.map((upstream) => {
    const { upstream: name, ...counters } = byName.get(upstream.name) ?? empty(upstream.name);
    const settings = { maxBytes: upstream.maxBytes, maxIdleDays: upstream.maxIdleDays };
    return { upstream: name, url: upstream.url, type: upstream.type, ...counters, bytesStored: stored.get(name) ?? 0, ...settings };
  });
  // Upstreams removed from the configuration keep their history (and their cached artifacts,
  // which nothing evicts without settings).
  const removed = upstreams
    .filter((stats) => !config.upstreams.some((upstream) => upstream.name === stats.upstream))
    .map((stats) => ({ ...stats, bytesStored: stored.get(stats.upstream) ?? 0 }));
  return { upstreams: [...configured, ...removed], artifacts };
}

function empty(upstream: string): UpstreamStats {
  return { upstream, hits: 0, misses: 0, staleServes: 0, upstreamErrors: 0, bytesServed: 0, bytesFetched: 0, hitRatio: 0, bytesSaved: 0, bytesEvicted: 0, artifactsEvicted: 0 };
}
