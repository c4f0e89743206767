// An upstream registry scripted inside the test's own isolate, for what the fake servers on
// 127.0.0.1 (fake-upstream-server.mjs) cannot be: a registry on another host whose challenge
// names a token realm of the test's choosing, e.g. plain HTTP somewhere else. While installed it
// replaces fetch() (vi.stubGlobal; undo with vi.unstubAllGlobals), so it serves only code that
// runs in the test's isolate and is called directly, such as upstreamFetch. It speaks the Docker
// token flow and logs every request it is sent, so a test can prove what was, and what was not,
// attempted; a request to any other origin fails as an unreachable host would.
import { vi } from "vitest";
import { parseUpstreams, type Upstream } from "../../worker/proxy/upstreams";

export interface ScriptedRequest {
  url: URL;
  authorization: string | null;
}

export interface ScriptedUpstream {
  /** Every request fetch() was asked to send, in order, including those that failed. */
  requests: ScriptedRequest[];
  /** The token-realm requests among them. */
  tokenRequests(): ScriptedRequest[];
}

/** A fresh origin no other test uses, so that nothing remembered about another upstream applies. */
export function uniqueOrigin(): string {
  return `https://upstream-${crypto.randomUUID().slice(0, 8)}.example.test`;
}

/** An upstream as PIER_UPSTREAMS would configure it; credentials are the tests' FAKE_USER/FAKE_PASSWORD. */
export function scriptedUpstreamConfig(url: string, credentials: boolean): Upstream {
  const secrets = credentials ? { usernameSecret: "FAKE_USER", passwordSecret: "FAKE_PASSWORD" } : {};
  return parseUpstreams([{ name: "scripted", url, timeoutMs: 2000, ...secrets }], undefined).upstreams[0]!;
}

/**
 * Installs a registry at `origin` that answers /v2/ requests 401 with
 * `Bearer realm="<realm>",service="scripted"` until they carry a token from `realm`, then 200
 * with an empty JSON manifest. The realm hands out `t-<scope>` tokens, valid for 300 s.
 */
export function scriptUpstream(origin: string, realm: string): ScriptedUpstream {
  const requests: ScriptedRequest[] = [];
  const realmUrl = new URL(realm);
  const isRealm = (url: URL) => url.origin === realmUrl.origin && url.pathname === realmUrl.pathname;
  vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const authorization = request.headers.get("Authorization");
    requests.push({ url, authorization });
    if (isRealm(url)) {
      return Response.json({ token: `t-${url.searchParams.get("scope")}`, expires_in: 300 });
    }
    if (url.origin !== origin) throw new TypeError(`no route to ${url.origin}`);
    if (authorization?.startsWith("Bearer t-")) {
      return new Response("{}", { headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json" } });
    }
    return new Response(null, { status: 401, headers: { "WWW-Authenticate": `Bearer realm="${realm}",service="scripted"` } });
  });
  return { requests, tokenRequests: () => requests.filter((entry) => isRealm(entry.url)) };
}
