// Talking to another registry: an upstream of the pull-through cache (GET and HEAD), or a remote
// registry that replication pulls from and pushes to (every method, with bodies). One code path
// for both, so both get the same token flow, redirect rules and bounds.
//
// - A 401 carries `WWW-Authenticate`. For `Bearer realm=…,service=…` Pier asks the realm for a
//   token for the request's scopes (`repository:<repo>:pull`, `…:pull,push`, a mount's source,
//   `registry:catalog:*`), anonymously or with the registry's credentials as Basic auth, caches
//   it (upstream-auth.ts) and retries once. For `Basic` it retries with the credentials. The
//   challenge is remembered, so later requests carry a token (or Basic) straight away.
// - Credentials go only to the registry's own origin and to the token realm its challenge names,
//   and to that realm only over HTTPS or on this machine (loopback).
// - Redirects (Docker Hub answers blob GETs with a 307 to its CDN) are followed by hand, so that
//   the registry's Authorization never reaches another origin. An upload's Location may be
//   absolute and elsewhere: it gets no credentials either.
// - A request with a body is sent once: never again after a 401 or a redirect (a streamed body
//   cannot be replayed, and a blob must never be read twice from its source). So it must carry
//   a valid Authorization from the start: when the registry's challenge is not known yet, a
//   body-less GET /v2/ learns it first; a 401 or a redirect then is an error, and the caller's
//   retry finds the challenge and token in place.
// - Time: a body-less request gets `min(timeoutMs, what is left of the exchange)` until its
//   headers arrive; the body then streams unbounded (a 10 GiB layer takes longer than any sane
//   timeout). A request with a body gets timeoutMs plus the time its body takes at 1 MB/s
//   (upstream-transport.ts): a stalled upload is given up, a slow one is not.
import type { Bindings } from "../env";
import { declaredLength } from "../bounded-body";
import { readAtMost } from "../streams";
import { authorizationFor, cachedAuthorization, dropToken, knowsChallenge, parseChallenge, rememberChallenge } from "./upstream-auth";
import { describeFailure, type Peer, type RequestBody, timedFetch, UpstreamError, type UpstreamFailure } from "./upstream-transport";
import type { Upstream } from "./upstreams";

export { cachedTokenCount, MAX_CACHED_TOKENS } from "./upstream-auth";
export { describeFailure, type Peer, type RequestBody, UpstreamError, type UpstreamFailure };

export type RegistryMethod = "GET" | "HEAD" | "PUT" | "POST" | "PATCH" | "DELETE";

export interface RegistryRequest {
  method: RegistryMethod;
  /** The repository the token scope names (already normalised); null for /v2/ and the catalog. */
  repository: string | null;
  /** What the token must allow in `repository`; "pull" unless told. */
  actions?: "pull" | "pull,push";
  /** Further scopes, e.g. `repository:<mount source>:pull` or `registry:catalog:*`. */
  scopes?: string[];
  /** Path and query starting with /v2/, or an absolute URL (an upload's Location). */
  path: string;
  accept?: string;
  /** Content-Type, Content-Range and the like. */
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Absolute time (ms since the epoch) a body-less exchange must answer by. */
  deadline: number;
}

export interface UpstreamRequest {
  method: "GET" | "HEAD";
  /** The upstream's repository (already normalised); names the token scope. */
  repository: string;
  /** Path and query on the upstream, starting with /v2/. */
  path: string;
  accept?: string;
  /** Absolute time (ms since the epoch) the whole exchange must answer by. */
  deadline: number;
}

/** The exchange deadline for a client request: about twice the upstream's timeout. */
export function exchangeDeadline(upstream: { timeoutMs: number }): number {
  return Date.now() + 2 * upstream.timeoutMs;
}

/**
 * Sends the request with the upstream's credentials, following redirects. Resolves to a 2xx or
 * 404 response (the caller reads or cancels its body); anything else is an UpstreamError, and
 * so are timeouts and network failures.
 */
export function upstreamFetch(env: Bindings, upstream: Upstream, request: UpstreamRequest): Promise<Response> {
  return registryFetch(upstreamPeer(env, upstream), request);
}

/** The pull-through cache's view of an upstream: credentials from the secrets it names. */
export function upstreamPeer(env: Bindings, upstream: Upstream): Peer {
  return {
    name: upstream.name,
    url: upstream.url,
    timeoutMs: upstream.timeoutMs,
    credentials: credentialsOf(env, upstream),
    cacheKey: `${upstream.name} ${upstream.url}`,
    userAgent: "pier-pull-through-cache",
  };
}

/**
 * Any request to a registry, as upstreamFetch describes: resolves to a 2xx or 404 response;
 * anything else (after the token flow) is an UpstreamError whose failure carries the status,
 * the Retry-After of a 429, and for requests other than GET/HEAD the registry's own words.
 */
export async function registryFetch(peer: Peer, request: RegistryRequest): Promise<Response> {
  const scopes = scopesOf(request);
  const sendsBody = request.body !== undefined;
  if (sendsBody && !knowsChallenge(peer)) await learnChallenge(peer, request.deadline);
  let authorization = await cachedAuthorization(peer, scopes, request.deadline);
  let response = await followRedirects(peer, request, authorization);
  if (response.status === 401) {
    const challenge = parseChallenge(response.headers.get("WWW-Authenticate"));
    await response.body?.cancel();
    if (challenge !== null) {
      dropToken(peer, scopes);
      // Remembered once it worked: a challenge Pier refuses is met again, and reported, each time.
      authorization = await authorizationFor(peer, challenge, scopes, request.deadline);
      rememberChallenge(peer, challenge);
      // The body went with the first attempt; the caller's retry carries the new authorization.
      if (authorization !== null && !sendsBody) response = await followRedirects(peer, request, authorization);
    }
  }
  if ((response.status >= 200 && response.status < 300) || response.status === 404) return response;
  const detail = request.method === "GET" || request.method === "HEAD" ? null : await errorDetail(response);
  await response.body?.cancel().catch(() => undefined);
  throw new UpstreamError(peer.name, { kind: "status", status: response.status, retryAfter: response.headers.get("Retry-After"), ...(detail !== null && { detail }) });
}

/**
 * A HEAD of `digest` in `repository`: null when upstream does not have it (404), else its
 * Content-Length (size null when it sent none). Failures are UpstreamErrors, as for upstreamFetch.
 */
export async function headBlob(env: Bindings, upstream: Upstream, repository: string, digest: string): Promise<{ size: number | null } | null> {
  const response = await upstreamFetch(env, upstream, {
    method: "HEAD",
    repository,
    path: `/v2/${repository}/blobs/${digest}`,
    deadline: exchangeDeadline(upstream),
  });
  await response.body?.cancel();
  return response.status === 404 ? null : { size: declaredLength(response.headers) };
}

function scopesOf(request: RegistryRequest): string[] {
  const own = request.repository === null ? [] : [`repository:${request.repository}:${request.actions ?? "pull"}`];
  return [...own, ...(request.scopes ?? [])];
}

/**
 * GET /v2/ without credentials: its 401 names the challenge a request with a body must meet up
 * front; a 200 says the registry asks for none, remembered too, so that an anonymous registry's
 * every upload request does not cost a version check first.
 */
async function learnChallenge(peer: Peer, deadline: number): Promise<void> {
  const response = await timedFetch(peer, new URL("/v2/", peer.url), { method: "GET", headers: { "User-Agent": peer.userAgent }, redirect: "manual" }, deadline);
  await response.body?.cancel();
  const challenge = response.status === 401 ? parseChallenge(response.headers.get("WWW-Authenticate")) : response.ok ? { scheme: "none" as const } : null;
  if (challenge !== null) rememberChallenge(peer, challenge);
}

/** The registry's error (OCI error body: code and message), short and printable, or null. */
async function errorDetail(response: Response): Promise<string | null> {
  const bytes = await readAtMost(response.body, 4096).catch(() => null);
  if (bytes === null || bytes.byteLength === 0) return null;
  const text = new TextDecoder().decode(bytes);
  let detail = text;
  try {
    const first = (JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] }).errors?.[0];
    if (first !== undefined) detail = [first.code, first.message].filter((part) => typeof part === "string" && part !== "").join(": ");
  } catch {
    // Not the spec's error body: its text is the best description there is.
  }
  // eslint-disable-next-line no-control-regex
  detail = detail.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").trim();
  return detail === "" ? null : detail.slice(0, 300);
}

// --- redirects ------------------------------------------------------------------------------

const MAX_REDIRECTS = 5;

async function followRedirects(peer: Peer, request: RegistryRequest, authorization: string | null): Promise<Response> {
  let url = new URL(request.path, peer.url);
  for (let hop = 0; ; hop++) {
    const headers = new Headers({ "User-Agent": peer.userAgent, ...request.headers });
    if (request.accept) headers.set("Accept", request.accept);
    // Credentials are for the registry itself, never for the CDN or storage it points elsewhere.
    if (authorization !== null && url.origin === peer.url) headers.set("Authorization", authorization);
    const response = await timedFetch(peer, url, { method: request.method, headers, redirect: "manual" }, request.deadline, request.body);
    const location = response.headers.get("Location");
    if (response.status < 300 || response.status >= 400 || response.status === 304 || location === null) return response;
    await response.body?.cancel();
    if (request.body !== undefined) {
      throw new UpstreamError(peer.name, { kind: "invalid", message: `it redirected a ${request.method} with a body (HTTP ${response.status}); Pier sends a body once` });
    }
    if (hop === MAX_REDIRECTS) throw new UpstreamError(peer.name, { kind: "invalid", message: `more than ${MAX_REDIRECTS} redirects` });
    url = new URL(location, url);
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new UpstreamError(peer.name, { kind: "invalid", message: `redirect to a ${url.protocol} URL` });
    }
  }
}

/** `Basic …` from the secrets the upstream names, or null for anonymous access. */
function credentialsOf(env: Bindings, upstream: Upstream): string | null {
  if (upstream.usernameSecret === null || upstream.passwordSecret === null) return null;
  const secrets = env as unknown as Record<string, string>;
  return basicCredentials(secrets[upstream.usernameSecret]!, secrets[upstream.passwordSecret]!);
}

/** The Authorization value of Basic credentials (RFC 7617, UTF-8). */
export function basicCredentials(username: string, password: string): string {
  return `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${username}:${password}`)))}`;
}
