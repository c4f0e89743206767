// The upstream token cache (worker/proxy/upstream-client.ts) is per-isolate memory, and a
// pull-through cache sees an unbounded number of repositories, each with a token of its own:
// it stays bounded (lesson 15), the oldest tokens making room for new ones. The upstream is
// scripted in the test's isolate (test/helpers/scripted-upstream.ts), so thousands of repositories
// cost no sockets.
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Bindings } from "../../worker/env";
import { cachedTokenCount, MAX_CACHED_TOKENS, upstreamFetch } from "../../worker/proxy/upstream-client";
import type { Upstream } from "../../worker/proxy/upstreams";
import { scriptedUpstreamConfig, scriptUpstream, uniqueOrigin } from "../helpers/scripted-upstream";

const REALM = "https://auth.example.test/token";

afterEach(() => {
  vi.unstubAllGlobals();
});

async function pull(upstream: Upstream, repository: string): Promise<void> {
  const response = await upstreamFetch(env as unknown as Bindings, upstream, {
    method: "GET",
    repository,
    path: `/v2/${repository}/manifests/v1`,
    deadline: Date.now() + 10_000,
  });
  expect(response.status).toBe(200);
  await response.body?.cancel();
}

describe("the upstream token cache", () => {
  // Five times the limit proves the bound; the timeout is generous because a loaded CI machine
  // runs these sequential pulls at a few thousand per second.
  it("holds at most its limit of tokens after five times as many distinct repositories", async () => {
    const origin = uniqueOrigin();
    const upstream = scriptUpstream(origin, REALM);
    const config = scriptedUpstreamConfig(origin, false);
    const repositories = MAX_CACHED_TOKENS * 5;
    for (let index = 0; index < repositories; index++) await pull(config, `team/app-${index}`);
    expect(upstream.tokenRequests()).toHaveLength(repositories);
    expect(cachedTokenCount()).toBeLessThanOrEqual(MAX_CACHED_TOKENS);
  }, 60_000);

  it("keeps the most recent repositories' tokens, and asks again for one pushed out", async () => {
    const origin = uniqueOrigin();
    const upstream = scriptUpstream(origin, REALM);
    const config = scriptedUpstreamConfig(origin, false);
    await pull(config, "team/first");
    for (let index = 0; index < MAX_CACHED_TOKENS; index++) await pull(config, `team/later-${index}`);
    const asked = upstream.tokenRequests().length;
    await pull(config, `team/later-${MAX_CACHED_TOKENS - 1}`);
    expect(upstream.tokenRequests()).toHaveLength(asked);
    await pull(config, "team/first");
    expect(upstream.tokenRequests()).toHaveLength(asked + 1);
  });
});
