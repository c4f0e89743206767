// Pull-through cache eviction: the scheduled job "cache-eviction" (hourly by default). For each
// configured upstream (worker/proxy/upstreams.ts), in this order:
//   1. what was not pulled for its maxIdleDays goes;
//   2. while its stored bytes (the sum of its cached_artifacts sizes) exceed its maxBytes, the
//      least recently pulled goes (ties: the oldest cached, then by digest).
// Evicting removes the cache's D1 rows only (worker/storage/db/queries/cache-eviction.ts); the
// bytes go at the next garbage collection's sweep, which this job starts when it evicted
// anything, and which never deletes a blob anything else still links.
//
// After an eviction, pulls keep working: a blob no longer linked is found stored (until the
// sweep) and linked again after an upstream HEAD, or fetched again (worker/proxy/blob-cache.ts);
// a manifest is fetched again, as its tag answers went with it. An isolate may still serve an
// evicted small manifest from memory (worker/proxy/manifest-memo.ts: a tag until its TTL, a
// digest for as long as the isolate keeps it): the bytes are right (content-addressed), and
// the blobs a client then asks for take the paths above. Such a pull records the artifact
// again (worker/proxy/cache-stats.ts) though the cache no longer holds it; the row counts in
// bytesStored until a later eviction removes it, and is not counted as evicted twice.
//
// Upstreams removed from PIER_UPSTREAMS have no settings: their artifacts stay until the
// upstream comes back (their statistics are kept too, services/cache-stats.ts).
import { configFrom } from "../config";
import type { Bindings } from "../env";
import type { Upstream } from "../proxy/upstreams";
import { database, type Database } from "../storage/db/client";
import { type EvictionCandidate, evictArtifacts, idleArtifacts, overflowingArtifacts } from "../storage/db/queries/cache-eviction";
import { requestGc } from "./gc-start";
import type { ScheduledJob } from "./scheduled-jobs";

const DAY = 86_400_000;

export interface EvictionBounds {
  /** Artifacts per page: one query reads them, one batch removes them. */
  pageSize: number;
  /**
   * D1 queries per invocation, each a subrequest: an invocation may make 50 on the Free plan,
   * shared with the scheduler's own queries and the other jobs due that minute.
   */
  maxQueries: number;
}

export const DEFAULT_EVICTION_BOUNDS: EvictionBounds = { pageSize: 100, maxQueries: 20 };
const MAX_QUERIES = 10_000;

export interface UpstreamEviction {
  upstream: string;
  /** Removed for not being pulled within maxIdleDays. */
  idle: { artifacts: number; bytes: number };
  /** Removed to bring the upstream within maxBytes. */
  overflow: { artifacts: number; bytes: number };
}

export interface CacheEviction {
  upstreams: UpstreamEviction[];
  /** false when the run stopped at its bound with work possibly left. */
  complete: boolean;
}

/** Evicts what the upstreams' settings say should go, within `bounds`. `now`: ms. */
export async function evictCache(env: Bindings, upstreams: Upstream[], now: number, bounds: EvictionBounds = DEFAULT_EVICTION_BOUNDS): Promise<CacheEviction> {
  const db = database(env.DB);
  const pager = new Pager(db, bounds);
  const done: UpstreamEviction[] = [];
  for (const upstream of upstreams) {
    const before = now - upstream.maxIdleDays * DAY;
    const idle = await pager.evictAll(upstream.name, (limit) => idleArtifacts(db, upstream.name, before, limit));
    const { maxBytes } = upstream;
    let overflow: Pass = { evicted: { artifacts: 0, bytes: 0 }, complete: true };
    if (idle.complete && maxBytes !== null) overflow = await pager.evictAll(upstream.name, (limit) => overflowingArtifacts(db, upstream.name, maxBytes, limit));
    done.push({ upstream: upstream.name, idle: idle.evicted, overflow: overflow.evicted });
    if (!idle.complete || !overflow.complete) return { upstreams: done, complete: false };
  }
  return { upstreams: done, complete: true };
}

interface Pass {
  evicted: { artifacts: number; bytes: number };
  /** false when the query budget ran out first. */
  complete: boolean;
}

/** Pages through one kind of candidates while the invocation's query budget lasts. */
class Pager {
  private queries = 0;

  constructor(
    private readonly db: Database,
    private readonly bounds: EvictionBounds,
  ) {}

  async evictAll(upstream: string, candidates: (limit: number) => Promise<EvictionCandidate[]>): Promise<Pass> {
    const evicted = { artifacts: 0, bytes: 0 };
    // A page is a read and a batch: stop before a read whose batch would not fit.
    while (this.queries + 2 <= this.bounds.maxQueries) {
      this.queries++;
      const page = await candidates(this.bounds.pageSize);
      if (page.length > 0) {
        this.queries++;
        const removed = await evictArtifacts(this.db, upstream, page);
        evicted.artifacts += removed.artifacts;
        evicted.bytes += removed.bytes;
      }
      // A short page was the last one. (A candidate pulled since it was read stays, and the
      // next page reads what is due now, so a full page that removed little is no loop.)
      if (page.length < this.bounds.pageSize) return { evicted, complete: true };
    }
    return { evicted, complete: false };
  }
}

/**
 * The job "cache-eviction". Options: {"maxQueries": n} raises or lowers the D1 queries one run
 * may make (the Paid plan allows 10,000 subrequests per invocation).
 */
export const cacheEvictionJob: ScheduledJob = async (env, options, now, run) => {
  const config = configFrom(env);
  const eviction = await evictCache(env, config.upstreams, now, evictionBounds(options));
  if (!eviction.complete) run.runAgain();
  const evicted = eviction.upstreams.filter(({ idle, overflow }) => idle.artifacts + overflow.artifacts > 0);
  const parts = evicted.map(({ upstream, idle, overflow }) => `${upstream}: ${describe(idle)} idle, ${describe(overflow)} over maxBytes`);
  let summary = parts.length === 0 ? "nothing to evict" : `evicted ${parts.join("; ")}`;
  if (parts.length > 0) {
    // The evicted bytes are freed by a collection's sweep; one already running may have swept
    // past them, and then they go at the next one (the next eviction, or the weekly "gc").
    const gc = await requestGc(env, config, { dryRun: false, deleteUntagged: false }, "schedule", null);
    summary += gc.started ? `; started garbage collection ${gc.id}` : `; garbage collection ${gc.running} was already running`;
  }
  return eviction.complete ? summary : `${summary} (stopped at this run's bound; continuing in a minute)`;
};

function describe({ artifacts, bytes }: { artifacts: number; bytes: number }): string {
  return `${artifacts} artifact${artifacts === 1 ? "" : "s"} (${bytes} bytes)`;
}

function evictionBounds(options: unknown): EvictionBounds {
  const { maxQueries = DEFAULT_EVICTION_BOUNDS.maxQueries, ...rest } = (options ?? {}) as { maxQueries?: unknown };
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new Error(`unknown option "${unknown[0]}" (the cache-eviction schedule takes "maxQueries")`);
  if (typeof maxQueries !== "number" || !Number.isInteger(maxQueries) || maxQueries < 2 || maxQueries > MAX_QUERIES) {
    throw new Error(`the option "maxQueries" must be a whole number from 2 to ${MAX_QUERIES}`);
  }
  return { ...DEFAULT_EVICTION_BOUNDS, maxQueries };
}
