// Talking to an upstream registry: the Docker registry token flow (and Basic auth), redirects,
// and a bound on how long Pier waits for an answer.
//
// - A 401 carries `WWW-Authenticate`. For `Bearer realm=…,service=…` Pier asks the realm for a
//   token for `repository:<repo>:pull` (anonymously, or with the upstream's credentials as
//   Basic auth), caches it per upstream and scope until shortly before it expires, and retries
//   once. For `Basic` it retries with the credentials. The challenge is remembered (for an
//   hour), so later requests send a token (or Basic) straight away and skip the 401 round trip.
// - The upstream's credentials go only to its own origin and to the token realm its challenge
//   names, and to that realm only over HTTPS, or plain HTTP on this machine (loopback: local
//   fakes and tests). A realm on plain HTTP elsewhere would receive them in clear text: with
//   credentials that exchange fails loudly (an upstream that silently became anonymous would
//   look like a permissions problem); without, the anonymous token request is harmless.
// - Redirects (Docker Hub answers blob GETs with a 307 to its CDN) are followed by hand, so that
//   the upstream's Authorization never reaches another origin.
// - Every request gets `min(timeoutMs, what is left of the exchange)` until its headers arrive;
//   the body then streams unbounded (a 10 GiB layer takes longer than any sane timeout).
//
// Token and challenge caches live in isolate memory: they are caches, losing them costs one
// token request, and nothing depends on two isolates agreeing about them. Both are bounded and
// expiring (lesson 15): a pull-through cache sees an unbounded number of repositories, and
// each one has a token of its own.
import type { Bindings } from "../env";
import { ExpiringMap } from "../expiring-map";
import { declaredLength } from "../bounded-body";
import { readAtMost } from "../streams";
import { mayCarryCredentials, type Upstream } from "./upstreams";

export type UpstreamFailure =
  | { kind: "timeout"; ms: number }
  | { kind: "unreachable"; message: string }
  /** It answered, but not with anything Pier can use (a redirect loop, bytes of the wrong digest). */
  | { kind: "invalid"; message: string }
  | { kind: "status"; status: number; retryAfter: string | null };

/** The upstream could not give an answer Pier can use. Services map it to the client's error. */
export class UpstreamError extends Error {
  override name = "UpstreamError";
  constructor(
    readonly upstream: string,
    readonly failure: UpstreamFailure,
  ) {
    super(describeFailure(upstream, failure));
  }
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
export function exchangeDeadline(upstream: Upstream): number {
  return Date.now() + 2 * upstream.timeoutMs;
}

/**
 * Sends the request with the upstream's credentials, following redirects. Resolves to a 2xx or
 * 404 response (the caller reads or cancels its body); anything else is an UpstreamError, and
 * so are timeouts and network failures.
 */
export async function upstreamFetch(env: Bindings, upstream: Upstream, request: UpstreamRequest): Promise<Response> {
  const scope = `repository:${request.repository}:pull`;
  let authorization = await cachedAuthorization(env, upstream, scope, request.deadline);
  let response = await followRedirects(upstream, request, authorization);
  if (response.status === 401) {
    const challenge = parseChallenge(response.headers.get("WWW-Authenticate"));
    await response.body?.cancel();
    if (challenge !== null) {
      tokens.delete(tokenKey(upstream, scope));
      // Remembered once it worked: a challenge Pier refuses is met again, and reported, each time.
      authorization = await authorizationFor(env, upstream, challenge, scope, request.deadline);
      challenges.set(upstreamKey(upstream), challenge, Date.now() + CHALLENGE_MEMORY_MS);
      if (authorization !== null) response = await followRedirects(upstream, request, authorization);
    }
  }
  if ((response.status >= 200 && response.status < 300) || response.status === 404) return response;
  await response.body?.cancel();
  throw new UpstreamError(upstream.name, { kind: "status", status: response.status, retryAfter: response.headers.get("Retry-After") });
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

// --- redirects and timeouts ------------------------------------------------------------------

const MAX_REDIRECTS = 5;

async function followRedirects(upstream: Upstream, request: UpstreamRequest, authorization: string | null): Promise<Response> {
  let url = new URL(request.path, upstream.url);
  for (let hop = 0; ; hop++) {
    const headers = new Headers({ "User-Agent": "pier-pull-through-cache" });
    if (request.accept) headers.set("Accept", request.accept);
    // Credentials are for the upstream itself, never for the CDN it redirects to.
    if (authorization !== null && url.origin === upstream.url) headers.set("Authorization", authorization);
    const response = await timedFetch(upstream, url, { method: request.method, headers, redirect: "manual" }, request.deadline);
    const location = response.headers.get("Location");
    if (response.status < 300 || response.status >= 400 || response.status === 304 || location === null) return response;
    await response.body?.cancel();
    if (hop === MAX_REDIRECTS) throw new UpstreamError(upstream.name, { kind: "invalid", message: `more than ${MAX_REDIRECTS} redirects` });
    url = new URL(location, url);
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new UpstreamError(upstream.name, { kind: "invalid", message: `redirect to a ${url.protocol} URL` });
    }
  }
}

/** fetch() that gives up when the headers have not arrived by the request's own bound. */
async function timedFetch(upstream: Upstream, url: URL, init: RequestInit, deadline: number): Promise<Response> {
  const ms = Math.max(1, Math.min(upstream.timeoutMs, deadline - Date.now()));
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  try {
    return await fetch(url, { ...init, signal: controller.signal });
  } catch (error) {
    if (controller.signal.aborted) throw new UpstreamError(upstream.name, { kind: "timeout", ms });
    throw new UpstreamError(upstream.name, { kind: "unreachable", message: (error as Error).message });
  } finally {
    // Headers are in: the body may take as long as it needs.
    clearTimeout(timer);
  }
}

// --- authentication --------------------------------------------------------------------------

type Challenge = { scheme: "bearer"; realm: string; service: string | null } | { scheme: "basic" };

/** How long an upstream's challenge is used without meeting it again. */
const CHALLENGE_MEMORY_MS = 60 * 60 * 1000;
/** Upstreams are few (they are configured), but a test run or a bench configures many. */
const MAX_CHALLENGES = 256;
/** Tokens (one per upstream and repository) per isolate: a few KiB each, so a few MiB at most. */
export const MAX_CACHED_TOKENS = 1_000;

/** By upstream (name and origin): the challenge its last 401 carried. */
const challenges = new ExpiringMap<Challenge>(MAX_CHALLENGES);
/** By upstream and scope: `Bearer <token>`, until shortly before the token expires. */
const tokens = new ExpiringMap<string>(MAX_CACHED_TOKENS);
/** A token is dropped this long before the upstream says it expires (clock skew, slow pulls). */
const TOKEN_EXPIRY_MARGIN_MS = 10_000;
/** The token spec's default lifetime when the answer says nothing. */
const DEFAULT_TOKEN_SECONDS = 60;
/** Token answers are a few KiB; a realm sending more is not answering with a token. */
const MAX_TOKEN_ANSWER_BYTES = 256 * 1024;

const upstreamKey = (upstream: Upstream) => `${upstream.name} ${upstream.url}`;
const tokenKey = (upstream: Upstream, scope: string) => `${upstreamKey(upstream)} ${scope}`;

/** For tests and diagnostics: how many upstream tokens this isolate holds (at most MAX_CACHED_TOKENS). */
export function cachedTokenCount(): number {
  return tokens.size;
}

async function cachedAuthorization(env: Bindings, upstream: Upstream, scope: string, deadline: number): Promise<string | null> {
  const challenge = challenges.get(upstreamKey(upstream));
  return challenge === undefined ? null : authorizationFor(env, upstream, challenge, scope, deadline);
}

async function authorizationFor(env: Bindings, upstream: Upstream, challenge: Challenge, scope: string, deadline: number): Promise<string | null> {
  const credentials = credentialsOf(env, upstream);
  if (challenge.scheme === "basic") return credentials;
  const key = tokenKey(upstream, scope);
  const cached = tokens.get(key);
  if (cached !== undefined) return cached;

  const url = new URL(challenge.realm);
  // Decided before anything is sent: credentials never cross the network in clear text.
  if (credentials !== null && !mayCarryCredentials(url)) {
    throw new UpstreamError(upstream.name, {
      kind: "invalid",
      message: `its token realm ${url.origin} is plain HTTP on another host; Pier sends the upstream's credentials only over HTTPS (or to this machine), so it did not ask it`,
    });
  }
  if (challenge.service !== null) url.searchParams.set("service", challenge.service);
  url.searchParams.set("scope", scope);
  const headers = new Headers({ "User-Agent": "pier-pull-through-cache" });
  if (credentials !== null) headers.set("Authorization", credentials);
  // Not following redirects: the credentials in this request are for the realm alone.
  const response = await timedFetch(upstream, url, { headers, redirect: "manual" }, deadline);
  if (!response.ok) {
    await response.body?.cancel();
    // The realm refusing Pier (wrong credentials) is the upstream failing Pier, not the client.
    throw new UpstreamError(upstream.name, { kind: "status", status: response.status, retryAfter: response.headers.get("Retry-After") });
  }
  const answer = parseTokenAnswer(await readAtMost(response.body, MAX_TOKEN_ANSWER_BYTES).catch(() => null));
  const token = typeof answer.token === "string" ? answer.token : typeof answer.access_token === "string" ? answer.access_token : null;
  if (token === null) throw new UpstreamError(upstream.name, { kind: "invalid", message: "the token endpoint answered without a token" });
  const seconds = typeof answer.expires_in === "number" && answer.expires_in > 0 ? answer.expires_in : DEFAULT_TOKEN_SECONDS;
  const authorization = `Bearer ${token}`;
  tokens.set(key, authorization, Date.now() + seconds * 1000 - TOKEN_EXPIRY_MARGIN_MS);
  return authorization;
}

function parseTokenAnswer(bytes: Uint8Array | null): { token?: unknown; access_token?: unknown; expires_in?: unknown } {
  if (bytes === null) return {};
  try {
    const answer: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof answer === "object" && answer !== null ? answer : {};
  } catch {
    return {};
  }
}

/** `Basic …` from the secrets the upstream names, or null for anonymous access. */
function credentialsOf(env: Bindings, upstream: Upstream): string | null {
  if (upstream.usernameSecret === null || upstream.passwordSecret === null) return null;
  const secrets = env as unknown as Record<string, string>;
  const pair = `${secrets[upstream.usernameSecret]}:${secrets[upstream.passwordSecret]}`;
  return `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(pair)))}`;
}

/** Parses `Bearer realm="…",service="…"` or `Basic realm="…"` (RFC 7235 auth-params). */
function parseChallenge(header: string | null): Challenge | null {
  if (header === null) return null;
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (match === null) return null;
  const scheme = match[1]!.toLowerCase();
  if (scheme === "basic") return { scheme: "basic" };
  if (scheme !== "bearer") return null;
  const params = new Map<string, string>();
  for (const param of match[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params.set(param[1]!.toLowerCase(), (param[2] ?? param[3] ?? "").replace(/\\(.)/g, "$1"));
  }
  const realm = params.get("realm");
  if (realm === undefined || !URL.canParse(realm) || !/^https?:$/.test(new URL(realm).protocol)) return null;
  return { scheme: "bearer", realm, service: params.get("service") ?? null };
}

/** The failure in words; also the message of client errors (upstream-errors.ts). */
export function describeFailure(upstream: string, failure: UpstreamFailure): string {
  switch (failure.kind) {
    case "timeout":
      return `upstream ${upstream} did not answer within ${failure.ms} ms`;
    case "unreachable":
      return `upstream ${upstream} could not be reached: ${failure.message}`;
    case "invalid":
      return `upstream ${upstream} sent an unusable answer: ${failure.message}`;
    case "status":
      return `upstream ${upstream} answered HTTP ${failure.status}`;
  }
}
