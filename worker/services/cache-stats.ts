// GET /api/v1/cache/stats: every configured upstream (zeros until it serves something) with
// its counters, and the most recently pulled cached artifacts.
import type { Config } from "../config";
import type { Bindings } from "../env";
import { readCacheStats, type UpstreamStats } from "../proxy/cache-stats";

export async function cacheStats(env: Bindings, config: Config, artifactLimit: number) {
  const { upstreams, artifacts } = await readCacheStats(env, artifactLimit);
  const byName = new Map(upstreams.map((stats) => [stats.upstream, stats]));
  const configured = config.upstreams.map((upstream) => {
    const { upstream: name, ...counters } = byName.get(upstream.name) ?? empty(upstream.name);
    return { upstream: name, url: upstream.url, type: upstream.type, ...counters };
  });
  // Upstreams removed from the configuration keep their history.
  const removed = upstreams.filter((stats) => !config.upstreams.some((upstream) => upstream.name === stats.upstream));
  return { upstreams: [...configured, ...removed], artifacts };
}

function empty(upstream: string): UpstreamStats {
  return { upstream, hits: 0, misses: 0, staleServes: 0, upstreamErrors: 0, bytesServed: 0, bytesFetched: 0, hitRatio: 0, bytesSaved: 0 };
}
