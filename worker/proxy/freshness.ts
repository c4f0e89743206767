// How long a cached answer about a manifest reference may be served without asking upstream.
// A tag → digest answer is fresh for the upstream's tagTtlSeconds. An upstream 404 is
// remembered for 30 seconds at most, and never longer than the tag TTL: long enough that a CI
// loop with a typo does not hammer the upstream, short enough that a just-pushed tag appears.
import type { CachedReference } from "../storage/db/queries/cache";
import type { Upstream } from "./upstreams";

const NEGATIVE_TTL_MS = 30_000;

type Freshness = "fresh" | "known-missing" | "expired";

export function freshness(cached: CachedReference | null, upstream: Upstream, now: number): Freshness {
  if (cached === null) return "expired";
  const age = now - cached.checkedAt;
  const ttlMs = upstream.tagTtlSeconds * 1000;
  if (cached.digest === null) return age < Math.min(NEGATIVE_TTL_MS, ttlMs) ? "known-missing" : "expired";
  return cached.manifest !== null && age < ttlMs ? "fresh" : "expired";
}
