// ManifestRefresh: one Durable Object per cached manifest reference (`<cache name>:<tag or
// digest>`), the single flight of manifest lookups. A rollout of a hundred pods on a cold
// cache misses the same tag a hundred times at once; they all reach this object, the first
// asks upstream (worker/proxy/manifest-fetch.ts) and the others wait for its answer. Docker
// Hub counts every manifest GET against its pull limit: this makes the rollout cost one.
//
// Like BlobFill, it answers with values (RefreshResult), never thrown RegistryErrors.
import { DurableObject } from "cloudflare:workers";
import { configFrom } from "../worker/config";
import type { Bindings } from "../worker/env";
import type { Digest } from "../worker/oci/digest";
import type { RepoName } from "../worker/oci/names";
import { freshness } from "../worker/proxy/freshness";
import { refreshReference, type RefreshResult } from "../worker/proxy/manifest-fetch";
import { proxyTarget } from "../worker/proxy/routing";
import { database } from "../worker/storage/db/client";
import { findCachedReference } from "../worker/storage/db/queries/cache";

export interface RefreshRequest {
  upstream: string;
  /** The upstream's repository (normalised). */
  repository: string;
  /** A tag or a digest. */
  key: string;
}

/** `joined`: this request waited for another one's lookup (that request counts the fetch). */
export type RefreshAnswer = RefreshResult & { joined: boolean };

export class ManifestRefresh extends DurableObject<Bindings> {
  /** The lookup under way, if any. In memory only: a lookup dies with the object, harmlessly. */
  private inFlight: Promise<RefreshResult> | null = null;

  async refresh(request: RefreshRequest): Promise<RefreshAnswer> {
    if (this.inFlight !== null) return { ...(await this.inFlight), joined: true };
    const lookup = this.lookUp(request);
    this.inFlight = lookup;
    try {
      return { ...(await lookup), joined: false };
    } finally {
      if (this.inFlight === lookup) this.inFlight = null;
    }
  }

  private async lookUp(request: RefreshRequest): Promise<RefreshResult> {
    const upstream = configFrom(this.env).upstreams.find((candidate) => candidate.name === request.upstream);
    if (upstream === undefined) return { kind: "failed", failure: { kind: "invalid", message: `no upstream is named "${request.upstream}" any more` } };
    const target = proxyTarget(upstream, request.repository);
    // The caller read the cache before calling; a lookup that ended in between answers for it.
    const cached = await findCachedReference(database(this.env.DB), target.cacheName as RepoName, request.key);
    const now = freshness(cached, upstream, Date.now());
    if (now === "fresh") return { kind: "current", digest: cached!.digest!, fetched: 0 };
    if (now === "known-missing") return { kind: "missing" };
    return refreshReference(this.env, target, request.key, (cached?.manifest?.digest ?? null) as Digest | null);
  }
}
