// Authenticating to another registry: its challenge (Bearer token flow or Basic), the tokens a
// Bearer realm hands out, and where the registry's credentials may go.
//
// - The credentials go to the token realm its challenge names only over HTTPS, or plain HTTP on
//   this machine (loopback: local fakes and tests). A realm on plain HTTP elsewhere would receive
//   them in clear text: with credentials that exchange fails loudly (a registry that silently
//   became anonymous would look like a permissions problem); without, the anonymous token
//   request is harmless.
// - The token request is not redirected: the credentials in it are for the realm alone.
//
// Token and challenge caches live in isolate memory: they are caches, losing them costs one
// token request, and nothing depends on two isolates agreeing about them. Both are bounded and
// expiring (lesson 15): a pull-through cache sees an unbounded number of repositories, and each
// one has a token of its own. Both are keyed by the peer's cacheKey, which changes with its
// credentials: a remote registry's new password never rides on a token of the old one.
import { ExpiringMap } from "../expiring-map";
import { readAtMost } from "../streams";
import { type Peer, timedFetch, UpstreamError } from "./upstream-transport";
import { mayCarryCredentials } from "./upstreams";

/** "none": the registry answered GET /v2/ without asking for anything (an anonymous registry). */
export type Challenge = { scheme: "bearer"; realm: string; service: string | null } | { scheme: "basic" } | { scheme: "none" };

/** How long a registry's challenge is used without meeting it again. */
const CHALLENGE_MEMORY_MS = 60 * 60 * 1000;
/** Registries are few (configured), but a test run or a bench configures many. */
const MAX_CHALLENGES = 256;
/** Tokens (one per registry and scope) per isolate: a few KiB each, so a few MiB at most. */
export const MAX_CACHED_TOKENS = 1_000;

/** By peer: the challenge its last 401 carried. */
const challenges = new ExpiringMap<Challenge>(MAX_CHALLENGES);
/** By peer and scopes: `Bearer <token>`, until shortly before the token expires. */
const tokens = new ExpiringMap<string>(MAX_CACHED_TOKENS);
/** A token is dropped this long before the registry says it expires (clock skew, slow pulls). */
const TOKEN_EXPIRY_MARGIN_MS = 10_000;
/** The token spec's default lifetime when the answer says nothing. */
const DEFAULT_TOKEN_SECONDS = 60;
/** Token answers are a few KiB; a realm sending more is not answering with a token. */
const MAX_TOKEN_ANSWER_BYTES = 256 * 1024;

const tokenKey = (peer: Peer, scopes: string[]) => `${peer.cacheKey} ${scopes.join(" ")}`;

/** For tests and diagnostics: how many tokens this isolate holds (at most MAX_CACHED_TOKENS). */
export function cachedTokenCount(): number {
  return tokens.size;
}

export function knowsChallenge(peer: Peer): boolean {
  return challenges.get(peer.cacheKey) !== undefined;
}

export function rememberChallenge(peer: Peer, challenge: Challenge): void {
  challenges.set(peer.cacheKey, challenge, Date.now() + CHALLENGE_MEMORY_MS);
}

/** Forgets the token for these scopes (the registry refused it). */
export function dropToken(peer: Peer, scopes: string[]): void {
  tokens.delete(tokenKey(peer, scopes));
}

/** The Authorization for a request, when the registry's challenge is known; null otherwise. */
export async function cachedAuthorization(peer: Peer, scopes: string[], deadline: number): Promise<string | null> {
  const challenge = challenges.get(peer.cacheKey);
  return challenge === undefined ? null : authorizationFor(peer, challenge, scopes, deadline);
}

/** Meets the challenge: the credentials for Basic, a (cached) token for Bearer. */
export async function authorizationFor(peer: Peer, challenge: Challenge, scopes: string[], deadline: number): Promise<string | null> {
  const credentials = peer.credentials;
  if (challenge.scheme === "none") return null;
  if (challenge.scheme === "basic") return credentials;
  const key = tokenKey(peer, scopes);
  const cached = tokens.get(key);
  if (cached !== undefined) return cached;

  const url = new URL(challenge.realm);
  // Decided before anything is sent: credentials never cross the network in clear text.
  if (credentials !== null && !mayCarryCredentials(url)) {
    throw new UpstreamError(peer.name, {
      kind: "invalid",
      message: `its token realm ${url.origin} is plain HTTP on another host; Pier sends the upstream's credentials only over HTTPS (or to this machine), so it did not ask it`,
    });
  }
  if (challenge.service !== null) url.searchParams.set("service", challenge.service);
  for (const scope of scopes) url.searchParams.append("scope", scope);
  const headers = new Headers({ "User-Agent": peer.userAgent });
  if (credentials !== null) headers.set("Authorization", credentials);
  const response = await timedFetch(peer, url, { headers, redirect: "manual" }, deadline);
  if (!response.ok) {
    await response.body?.cancel();
    // The realm refusing Pier (wrong credentials) is the registry failing Pier, not the client.
    throw new UpstreamError(peer.name, { kind: "status", status: response.status, retryAfter: response.headers.get("Retry-After") });
  }
  const answer = parseTokenAnswer(await readAtMost(response.body, MAX_TOKEN_ANSWER_BYTES).catch(() => null));
  const token = typeof answer.token === "string" ? answer.token : typeof answer.access_token === "string" ? answer.access_token : null;
  if (token === null) throw new UpstreamError(peer.name, { kind: "invalid", message: "the token endpoint answered without a token" });
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

/** Parses `Bearer realm="…",service="…"` or `Basic realm="…"` (RFC 7235 auth-params). */
export function parseChallenge(header: string | null): Challenge | null {
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
