// GET /v2/<proxied name>/tags/list: tags change upstream all the time, so the list is asked for
// each time (it is not a pull: Docker Hub does not count it). When upstream fails, the tags
// Pier has already resolved for the repository are listed instead, marked stale.
import type { Bindings, WaitUntil } from "../env";
import { RegistryError } from "../errors";
import type { Page } from "../oci/pagination";
import { database } from "../storage/db/client";
import { listCachedTags } from "../storage/db/queries/cache";
import { readAtMost } from "../streams";
import type { Listing } from "../services/listings";
import { type CacheOutcome, recordUpstreamError } from "./cache-stats";
import type { ProxyTarget } from "./routing";
import { exchangeDeadline, upstreamFetch, UpstreamError } from "./upstream-client";
import { upstreamFailureToError } from "./upstream-errors";

/** A page of at most 1,000 tags of at most 128 characters, with room to spare; more is not a tag list. */
const MAX_TAG_LIST_BYTES = 1024 * 1024;

export async function listProxiedTags(env: Bindings, waitUntil: WaitUntil, target: ProxyTarget, page: Page): Promise<Listing<string> & { cache: CacheOutcome }> {
  const query = new URLSearchParams({ n: String(page.limit) });
  if (page.last !== null) query.set("last", page.last);
  try {
    const response = await upstreamFetch(env, target.upstream, {
      method: "GET",
      repository: target.repository,
      path: `/v2/${target.repository}/tags/list?${query}`,
      deadline: exchangeDeadline(target.upstream),
    });
    if (response.status === 404) {
      await response.body?.cancel();
      throw new RegistryError("NAME_UNKNOWN", `repository ${target.repository} is not known to upstream ${target.upstream.name}`);
    }
    const body = parseJson(await readAtMost(response.body, MAX_TAG_LIST_BYTES).catch(() => null)) as { tags?: unknown } | null;
    const tags = Array.isArray(body?.tags) ? body.tags.filter((tag): tag is string => typeof tag === "string").slice(0, page.limit) : null;
    if (tags === null) throw new UpstreamError(target.upstream.name, { kind: "invalid", message: "its tag list is not JSON with a tags array" });
    // Upstream says more follow with its own Link; Pier's Link points at itself.
    const next = response.headers.has("Link") && tags.length > 0 ? tags[tags.length - 1]! : null;
    return { items: tags, next, cache: "miss" };
  } catch (error) {
    if (!(error instanceof UpstreamError)) throw error;
    recordUpstreamError(env, waitUntil, target.upstream.name);
    const cached = await listCachedTags(database(env.DB), target.cacheName, page.last, page.limit + 1);
    if (cached.length === 0) throw upstreamFailureToError(error.upstream, error.failure);
    const more = cached.length > page.limit;
    const items = cached.slice(0, page.limit);
    return { items, next: more ? items[items.length - 1]! : null, cache: "stale" };
  }
}

function parseJson(bytes: Uint8Array | null): unknown {
  if (bytes === null) return null;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}
