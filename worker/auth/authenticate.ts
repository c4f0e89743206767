// Who sent a request: the Authorization header turned into a Principal.
//   (none)          anonymous
//   Basic user:pw   a password sign-in (worker/auth/sign-in.ts; RFC 7617; clients that skip the
//                   token dance)
//   Bearer <jwt>    a registry token this Pier signed (RFC 6750 §2.1), whose account is still
//                   the one it was issued to (worker/auth/account-state.ts)
// Credentials that are present but wrong, or revoked, are UNAUTHORIZED with a challenge, never
// anonymous: a client whose password is wrong must hear so, not see a public project's view.
import type { Config } from "../config";
import type { Bindings, WaitUntil } from "../env";
import { RegistryError } from "../errors";
import { type Freshness, stampedAccount } from "./account-state";
import { challenge } from "./scopes";
import { ADMIN_USERNAME, type Identity, type Principal } from "./principal";
import { type Credentials, recordAdmin, signInWithPassword } from "./sign-in";
import { loadSigningKeys } from "./signing-key";
import { type TokenParties, verifyToken } from "./tokens";
import { verifiedOnce } from "./verified-tokens";

export type { Credentials };

export interface AuthenticationRequest {
  /** The Authorization header, or null when there is none. */
  authorization: string | null;
  /** The client's IP (CF-Connecting-IP), or null when unknown. */
  ip: string | null;
  /** The request's URL: its origin names the issuer and service when PUBLIC_URL is not set. */
  url: string;
  /**
   * How current the account behind the credentials must be (account-state.ts): `pull` for
   * reads, `change` for pushes, deletes, the management API and issuing tokens.
   */
  freshness: Freshness;
  /** The request's waitUntil: audit records and throttle settlements are written after the answer. */
  waitUntil: WaitUntil;
}

/** The issuer and audience of Pier's tokens, and the realm clients are sent to for one. */
export interface TokenEndpoint extends TokenParties {
  /** Absolute URL of GET/POST /token, as `WWW-Authenticate: Bearer realm=…` must carry it. */
  realm: string;
}

/**
 * Issuer: Pier's public origin (PUBLIC_URL, else the request's own); service: that origin's
 * host, what distribution-style challenges name (`service="registry.example.com"`).
 */
export function tokenParties(config: Config, requestUrl: string): TokenEndpoint {
  const origin = config.auth.publicUrl ?? new URL(requestUrl).origin;
  return { issuer: origin, service: new URL(origin).host, realm: `${origin}/token` };
}

export async function authenticate(env: Bindings, config: Config, request: AuthenticationRequest): Promise<Principal> {
  const header = request.authorization?.trim() ?? "";
  if (header === "") return { kind: "anonymous" };
  const space = header.indexOf(" ");
  // The scheme is case-insensitive (RFC 9110 §11.1).
  const scheme = (space === -1 ? header : header.slice(0, space)).toLowerCase();
  const value = space === -1 ? "" : header.slice(space + 1).trim();
  const parties = tokenParties(config, request.url);
  if (scheme === "basic") {
    const credentials = decodeBasic(value);
    if (credentials === null) throw unauthorized(parties, "malformed Basic credentials");
    return withChallenge(parties, signInWithPassword(env, config, credentials, request));
  }
  if (scheme === "bearer") return bearer(env, config, value, parties, request.freshness);
  throw unauthorized(parties, "only Basic and Bearer credentials are accepted");
}

/**
 * The account behind a principal: for a bearer token, the user or robot it was issued to, as
 * it is now (the management API and project lookups decide from current roles, not from the
 * token's access). A token whose account is gone, disabled or changed is UNAUTHORIZED; the
 * caller adds its own challenge.
 */
export async function identityOf(env: Bindings, principal: Principal, freshness: Freshness = "change"): Promise<Identity | { kind: "anonymous" }> {
  if (principal.kind !== "token") return principal;
  if (principal.account === null) return { kind: "anonymous" };
  return stampedAccount(env, principal.subject, principal.account, freshness);
}

/** Signs in with a login name and password (the OAuth2 password grant of POST /token). */
export function authenticatePassword(env: Bindings, config: Config, credentials: Credentials, request: Omit<AuthenticationRequest, "authorization">): Promise<Identity> {
  return withChallenge(tokenParties(config, request.url), signInWithPassword(env, config, credentials, request));
}

async function bearer(env: Bindings, config: Config, token: string, parties: TokenEndpoint, freshness: Freshness): Promise<Principal> {
  const claims = await verifiedOnce(config, token, parties, async () => verifyToken(await loadSigningKeys(config.auth), token, parties));
  if (claims === null) throw unauthorized(parties, "the bearer token is invalid or has expired");
  const principal: Principal = { kind: "token", subject: claims.subject, access: claims.access, account: claims.account, issuedAt: claims.issuedAt.getTime() };
  // The signature says who the token was issued to; the account says whether that still counts.
  // The admin's account follows ADMIN_PASSWORD, which this isolate checks once before trusting it.
  if (claims.subject === ADMIN_USERNAME) await recordAdmin(env, config);
  if (claims.account !== null) await withChallenge(parties, stampedAccount(env, claims.subject, claims.account, freshness));
  return principal;
}

/**
 * `work`, with the registry's Bearer challenge (naming `scope`, when given) added to a 401 that
 * has none: a failed sign-in, or a token whose account is gone, disabled or changed.
 */
export async function withChallenge<T>(parties: TokenEndpoint, work: Promise<T>, scope?: string | string[]): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof RegistryError && error.code === "UNAUTHORIZED" && error.headers["WWW-Authenticate"] === undefined) throw unauthorized(parties, error.message, scope);
    throw error;
  }
}

/** `user-id ":" password` from base64, UTF-8 (RFC 7617 §2, §2.1); the user-id holds no colon. */
function decodeBasic(value: string): Credentials | null {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(atob(value), (char) => char.charCodeAt(0)));
  } catch {
    return null;
  }
  const colon = text.indexOf(":");
  if (colon <= 0) return null;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

function unauthorized(parties: TokenEndpoint, message: string, scope?: string | string[]): RegistryError {
  return new RegistryError("UNAUTHORIZED", message, { headers: { "WWW-Authenticate": challenge(parties.realm, parties.service, scope) } });
}
