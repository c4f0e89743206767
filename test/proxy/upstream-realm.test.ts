// Where an upstream's credentials may go (worker/proxy/upstream-client.ts): to its own origin,
// and to the token realm its challenge names over HTTPS, or over plain HTTP only on this
// machine. A realm on plain HTTP elsewhere would read them in clear text, so an upstream with
// credentials fails the exchange before asking it; one without may fetch an anonymous token.
// The upstreams here are scripted in the test's isolate (test/helpers/scripted-upstream.ts):
// the fake servers can only be on 127.0.0.1, and these realms must be other hosts.
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Bindings } from "../../worker/env";
import { UpstreamError, upstreamFetch } from "../../worker/proxy/upstream-client";
import { upstreamFailureToError } from "../../worker/proxy/upstream-errors";
import { scriptedUpstreamConfig, scriptUpstream, uniqueOrigin } from "../helpers/scripted-upstream";

const BASIC = `Basic ${btoa("puller:secret")}`;
const PLAIN_HTTP_REALM = "http://registry.example.test/token";

afterEach(() => {
  vi.unstubAllGlobals();
});

function pullManifest(origin: string, credentials: boolean): Promise<Response> {
  return upstreamFetch(env as unknown as Bindings, scriptedUpstreamConfig(origin, credentials), {
    method: "GET",
    repository: "team/app",
    path: "/v2/team/app/manifests/v1",
    deadline: Date.now() + 10_000,
  });
}

async function failureOf(pull: Promise<Response>): Promise<UpstreamError> {
  const outcome = await pull.then(
    () => null,
    (error: unknown) => error,
  );
  if (!(outcome instanceof UpstreamError)) return expect.fail(`expected an UpstreamError, got ${String(outcome)}`);
  return outcome;
}

describe("a token realm on plain HTTP on another host", () => {
  it("fails the exchange, naming the realm and why, when the upstream has credentials", async () => {
    const origin = uniqueOrigin();
    scriptUpstream(origin, PLAIN_HTTP_REALM);
    const error = await failureOf(pullManifest(origin, true));
    expect(error.failure.kind).toBe("invalid");
    expect(error.message).toContain("http://registry.example.test");
    expect(error.message).toMatch(/plain HTTP.*credentials/);
  });

  it("is never asked: the only request sent is the anonymous one the 401 answered", async () => {
    const origin = uniqueOrigin();
    const upstream = scriptUpstream(origin, PLAIN_HTTP_REALM);
    await failureOf(pullManifest(origin, true));
    expect(upstream.requests.map(({ url, authorization }) => [url.origin, authorization])).toEqual([[origin, null]]);
  });

  it("is refused again on the next request rather than remembered, and still never asked", async () => {
    const origin = uniqueOrigin();
    const upstream = scriptUpstream(origin, PLAIN_HTTP_REALM);
    await failureOf(pullManifest(origin, true));
    await failureOf(pullManifest(origin, true));
    expect(upstream.tokenRequests()).toEqual([]);
    expect(upstream.requests.every((entry) => entry.authorization === null)).toBe(true);
  });

  it("reaches the client as a 502 that says why", async () => {
    const origin = uniqueOrigin();
    scriptUpstream(origin, PLAIN_HTTP_REALM);
    const error = upstreamFailureToError("scripted", (await failureOf(pullManifest(origin, true))).failure);
    expect(error.status).toBe(502);
    expect(error.message).toMatch(/upstream scripted .*http:\/\/registry\.example\.test.*plain HTTP/);
  });

  it("gives an anonymous token when the upstream has no credentials", async () => {
    const origin = uniqueOrigin();
    const upstream = scriptUpstream(origin, PLAIN_HTTP_REALM);
    const response = await pullManifest(origin, false);
    expect(response.status).toBe(200);
    await response.body?.cancel();
    expect(upstream.tokenRequests().map((entry) => entry.authorization)).toEqual([null]);
  });
});

describe("token realms that may have the upstream's credentials", () => {
  it.each([
    ["over HTTPS on another host", "https://auth.example.test/token"],
    ["on 127.0.0.1", "http://127.0.0.1:5001/token"],
    ["anywhere in 127.0.0.0/8", "http://127.9.8.7/token"],
    ["on ::1", "http://[::1]:5001/token"],
    ["on localhost", "http://localhost:5001/token"],
  ])("a realm %s gets them as Basic, and the registry only the token", async (_, realm) => {
    const origin = uniqueOrigin();
    const upstream = scriptUpstream(origin, realm);
    const response = await pullManifest(origin, true);
    expect(response.status).toBe(200);
    await response.body?.cancel();
    expect(upstream.tokenRequests().map((entry) => entry.authorization)).toEqual([BASIC]);
    const registry = upstream.requests.filter((entry) => entry.url.origin === origin);
    expect(registry.map((entry) => entry.authorization)).toEqual([null, "Bearer t-repository:team/app:pull"]);
  });
});
