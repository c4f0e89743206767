// When each locally held manifest was last pulled, and how often (manifests.last_pulled_at and
// pull_count): what retention's "most recently pulled" / "pulled within N days" rules and the
// portal read. A pull is a GET of the manifest, by tag or digest, counted against the digest
// served; HEADs are clients checking for updates and do not count (Harbor counts the same way,
// as the audit log does: worker/auth/registry-audit.ts). Proxied content is counted in
// cached_artifacts instead (worker/proxy/cache-stats.ts), not here.
//
// Like the cache statistics and the audit log, pulls are added up per isolate and written about
// a second later in one batch, off the response path (worker/storage/deferred-writes.ts): a
// burst of pulls of one image is one UPDATE, not one per pull. Counts are therefore about a
// second behind, and an isolate that dies loses its last second of them.
import type { Bindings, WaitUntil } from "../env";
import type { Digest } from "../oci/digest";
import type { RepoName } from "../oci/names";
import { database } from "./db/client";
import { addPullCounts, type PullCount } from "./db/queries/pulls";
import { deferredWrites } from "./deferred-writes";

/**
 * Most distinct manifests one isolate collects between writes (lesson 15: memory stays bounded).
 * A collection lives about a second, so this is only reached by a flood of distinct pulls; the
 * pulls of further manifests in that second are dropped (and logged), while manifests already
 * collected keep counting.
 */
export const MAX_PENDING_PULLS = 10_000;

interface Pending {
  /** Keyed by `repository@digest`. */
  counts: Map<string, PullCount>;
  /** Whether this collection has dropped a pull already (one warning per collection). */
  dropped: boolean;
}

const deferred = deferredWrites<Pending>(
  "pull records",
  () => ({ counts: new Map(), dropped: false }),
  (pending) => pending.counts.size === 0,
  (env, pending) => addPullCounts(database(env.DB), [...pending.counts.values()]),
);

/** Counts one pull (a successful manifest GET) of `digest` from `repository`. */
export function recordPull(env: Bindings, waitUntil: WaitUntil, repository: RepoName, digest: Digest): void {
  const pending = deferred.pending(env, waitUntil);
  const key = `${repository}@${digest}`;
  const at = Date.now();
  const count = pending.counts.get(key);
  if (count !== undefined) {
    count.pulls++;
    count.at = at;
  } else if (pending.counts.size < MAX_PENDING_PULLS) {
    pending.counts.set(key, { repository, digest, pulls: 1, at });
  } else if (!pending.dropped) {
    pending.dropped = true;
    console.warn(`pull records: more than ${MAX_PENDING_PULLS} distinct manifests pulled within a second; not counting pulls of the others, such as ${key}`);
  }
}

/** Writes this isolate's pending pulls now (before reading pull_count or last_pulled_at). */
export function flushPulls(env: Bindings): Promise<void> {
  return deferred.flush(env);
}
