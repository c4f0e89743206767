// Who sent a request: the Authorization header turned into a Principal.
//   (none)          anonymous
//   Basic user:pw   `admin` against ADMIN_PASSWORD; `robot$…` against the robots table; anyone
//                   else against the users table (RFC 7617; clients that skip the token dance)
//   Bearer <jwt>    a registry token this Pier signed (RFC 6750 §2.1)
// Credentials that are present but wrong are UNAUTHORIZED with a challenge, never anonymous:
// a client whose password is wrong must hear so, not see a public project's view (issue 4).
//
// Passwords are slow on purpose (PBKDF2, worker/auth/passwords.ts), so guessing is throttled
// per client IP and per login name in RateLimiter objects before any check, and a Basic header
// that verified is remembered for a minute in this isolate: clients that send Basic on every
// request pay for one check, not one per blob.
import type { Config } from "../config";
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import { database } from "../storage/db/client";
import { findUser, upsertAdmin } from "../storage/db/queries/principals";
import { findRobot, type RobotRow } from "../storage/db/queries/robots";
import { generateSecret, hashSecret, verifySecret } from "./passwords";
import { ADMIN_USERNAME, isRobotName, type Principal, principalName, type RobotGrant } from "./principal";
import { challenge } from "./scopes";
import { loadSigningKey } from "./signing-key";
import type { BucketRule } from "./token-bucket";
import { type TokenParties, verifyToken } from "./tokens";
import { verifiedOnce } from "./verified-tokens";

export interface AuthenticationRequest {
  /** The Authorization header, or null when there is none. */
  authorization: string | null;
  /** The client's IP (CF-Connecting-IP), or null when unknown: then only the name is throttled. */
  ip: string | null;
  /** The request's URL: its origin names the issuer and service when PUBLIC_URL is not set. */
  url: string;
}

export interface Credentials {
  username: string;
  password: string;
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

// Per name: a person mistyping gets ten tries, then one every six seconds (at most 14,400
// guesses a day at any one account). Per IP the budget is wider, since many users and robots
// may sign in from behind one NAT (a CI farm); it bounds one client spraying many names.
export const LOGIN_RULES: { ip: BucketRule; user: BucketRule } = {
  ip: { capacity: 30, refillPerSecond: 1 / 2 },
  user: { capacity: 10, refillPerSecond: 1 / 6 },
};

/** How long a verified Basic header is trusted without checking again (disable takes this long). */
const VERIFIED_TTL_MS = 60_000;
/** How long the other requests keep a lapsed login while one request checks it again. */
const RECHECK_GRACE_MS = 5_000;

interface VerifiedLogin {
  principal: Principal;
  /** Trusted until then; afterwards it is checked again (without a sign-in attempt). */
  until: number;
  /** While a request checks the lapsed login again: until when the others may still use it. */
  recheckUntil: number;
}
const VERIFIED_LIMIT = 1_000;
/** No login name is longer; longer ones are refused before any work or any rate-limiter key. */
const MAX_LOGIN_NAME = 256;

// Keyed by configuration, so a different ADMIN_PASSWORD never meets another one's cache.
const verified = new WeakMap<Config, Map<string, VerifiedLogin>>();
/** The same caches, iterable (a WeakMap is not), for forgetVerifiedLogins. */
const caches = new Set<Map<string, VerifiedLogin>>();
const adminRecorded = new WeakSet<Config>();
let decoy: Promise<string> | null = null;

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
    return authenticatePassword(env, config, credentials, request);
  }
  if (scheme === "bearer") return bearer(config, value, parties);
  throw unauthorized(parties, "only Basic and Bearer credentials are accepted");
}

/**
 * The account behind a principal: for a bearer token, the user or robot its subject names,
 * as it is now (the management API decides from current roles, not from the token's access).
 * An account that is gone or disabled is UNAUTHORIZED; the caller adds its own challenge.
 */
export async function identityOf(env: Bindings, principal: Principal): Promise<Principal> {
  if (principal.kind !== "token") return principal;
  const name = principal.subject;
  if (name === "") return { kind: "anonymous" };
  if (name === ADMIN_USERNAME) return { kind: "user", name, isAdmin: true };
  const db = database(env.DB);
  if (isRobotName(name)) {
    const robot = await findRobot(db, name);
    if (robot === null || robot.disabled || isExpired(robot)) throw new RegistryError("UNAUTHORIZED", `robot account ${name} is no longer active`);
    return robotPrincipal(robot);
  }
  const user = await findUser(db, name);
  if (user === null || user.disabled) throw new RegistryError("UNAUTHORIZED", `account ${name} is no longer active`);
  return { kind: "user", name, isAdmin: user.isAdmin };
}

/**
 * Signs in with a login name and password (Basic credentials, or the OAuth2 password grant of
 * POST /token): throttled, checked, and remembered for a minute when right.
 */
export async function authenticatePassword(env: Bindings, config: Config, credentials: Credentials, request: Omit<AuthenticationRequest, "authorization">): Promise<Principal> {
  const parties = tokenParties(config, request.url);
  if (credentials.username === "" || credentials.username.length > MAX_LOGIN_NAME) throw unauthorized(parties, "invalid username or password");
  let cache = verified.get(config);
  if (!cache) {
    verified.set(config, (cache = new Map()));
    caches.add(cache);
  }
  // JSON, not "name:password": a form's name may hold a colon, and no two pairs may share a key.
  const key = await sha256Hex(JSON.stringify([credentials.username, credentials.password]));
  const now = Date.now();
  const hit = cache.get(key);
  if (hit !== undefined) {
    if (hit.until > now) return hit.principal;
    // Lapsed: one request checks the account again, and the others keep the remembered answer
    // meanwhile, so a client busy on many connections does not send a herd of PBKDF2s.
    if (hit.recheckUntil > now) return hit.principal;
    hit.recheckUntil = now + RECHECK_GRACE_MS;
  } else {
    // A lapsed login needs no sign-in attempt: only who knows the password has its key, and a
    // busy robot must not run out of attempts every minute. Everyone else spends one.
    await throttle(env, credentials.username, request.ip);
  }
  let principal: Principal;
  try {
    principal = await checkPassword(env, config, credentials, parties);
  } catch (error) {
    cache.delete(key);
    throw error;
  }
  // Only successes are remembered: every failure costs the guesser a token and a PBKDF2.
  if (cache.size >= VERIFIED_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(key, { principal, until: Date.now() + VERIFIED_TTL_MS, recheckUntil: 0 });
  return principal;
}

/**
 * Forgets this isolate's verified Basic logins of one account, so that a disabled or deleted
 * account, or a changed secret, is checked against D1 again on its next request. Only that
 * account: forgetting everyone would make every other client (the admin changing the account
 * among them) sign in again and spend its throttle budget. Only this isolate: the others keep
 * trusting a login they verified for up to VERIFIED_TTL_MS (60 s), since isolates share no
 * memory and a broadcast would cost a round trip on every sign-in.
 */
export function forgetVerifiedLogins(loginName: string): void {
  for (const cache of caches) {
    for (const [key, entry] of cache) if (principalName(entry.principal) === loginName) cache.delete(key);
  }
}

async function checkPassword(env: Bindings, config: Config, { username, password }: Credentials, parties: TokenEndpoint): Promise<Principal> {
  const wrong = () => unauthorized(parties, "invalid username or password");
  if (username === ADMIN_USERNAME) {
    if (!(await sameSecret(password, config.auth.adminPassword))) throw wrong();
    await recordAdmin(env, config);
    return { kind: "user", name: ADMIN_USERNAME, isAdmin: true };
  }
  const db = database(env.DB);
  if (isRobotName(username)) {
    const robot = await findRobot(db, username);
    if (!(await verifySecret(password, robot?.secretHash ?? (await decoyHash()))) || robot === null) throw wrong();
    if (robot.disabled) throw unauthorized(parties, `robot account ${username} is disabled`);
    if (isExpired(robot)) throw unauthorized(parties, `robot account ${username} has expired`);
    return robotPrincipal(robot);
  }
  const user = await findUser(db, username);
  // An unknown name costs the same PBKDF2 as a known one, so timing does not tell them apart.
  if (!(await verifySecret(password, user?.passwordHash ?? (await decoyHash()))) || user === null) throw wrong();
  if (user.disabled) throw unauthorized(parties, `account ${username} is disabled`);
  return { kind: "user", name: username, isAdmin: user.isAdmin };
}

async function bearer(config: Config, token: string, parties: TokenEndpoint): Promise<Principal> {
  const claims = await verifiedOnce(config, token, parties, async () => verifyToken(await loadSigningKey(config.auth.signingKey), token, parties));
  if (claims === null) throw unauthorized(parties, "the bearer token is invalid or has expired");
  return { kind: "token", subject: claims.subject, access: claims.access };
}

/** Takes one attempt from the name's and the IP's buckets, before any password is checked. */
async function throttle(env: Bindings, username: string, ip: string | null): Promise<void> {
  const take = (key: string, rule: BucketRule) => env.RATE_LIMITERS.get(env.RATE_LIMITERS.idFromName(key)).take(rule);
  const results = await Promise.all([take(`login:user:${username}`, LOGIN_RULES.user), ...(ip === null ? [] : [take(`login:ip:${ip}`, LOGIN_RULES.ip)])]);
  const refused = results.flatMap((result) => (result.allowed ? [] : [result.retryAfterSeconds]));
  if (refused.length > 0) {
    const retryAfter = Math.max(...refused);
    throw new RegistryError("TOOMANYREQUESTS", `too many sign-in attempts; retry in ${retryAfter} seconds`, { headers: { "Retry-After": String(retryAfter) } });
  }
}

/**
 * ADMIN_PASSWORD is compared in constant time: both sides are hashed to 32 bytes first, since
 * timingSafeEqual needs equal lengths and comparing lengths would leak the password's.
 */
async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([sha256(given), sha256(expected)]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/** The `admin` row, so user listings show it; once per isolate (a PBKDF2 hash and a write). */
async function recordAdmin(env: Bindings, config: Config): Promise<void> {
  if (adminRecorded.has(config)) return;
  await upsertAdmin(database(env.DB), ADMIN_USERNAME, await hashSecret(config.auth.adminPassword));
  adminRecorded.add(config);
}

function robotPrincipal(robot: RobotRow & { grants: RobotGrant[] }): Principal {
  return { kind: "robot", name: robot.name, level: robot.level, grants: robot.grants };
}

function isExpired(robot: RobotRow): boolean {
  return robot.expiresAt !== null && robot.expiresAt <= Date.now();
}

/** A hash no secret matches, for unknown names (made once per isolate). */
function decoyHash(): Promise<string> {
  decoy ??= hashSecret(generateSecret());
  return decoy;
}

/** The login name a Basic header claims (for the audit log of a failed sign-in), or null. */
export function basicUsername(authorization: string | null): string | null {
  const match = /^\s*basic\s+(\S+)\s*$/i.exec(authorization ?? "");
  const name = match === null ? null : (decodeBasic(match[1]!)?.username ?? null);
  return name === null ? null : name.slice(0, MAX_LOGIN_NAME);
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

function unauthorized(parties: TokenEndpoint, message: string): RegistryError {
  return new RegistryError("UNAUTHORIZED", message, { headers: { "WWW-Authenticate": challenge(parties.realm, parties.service) } });
}

async function sha256(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}

async function sha256Hex(text: string): Promise<string> {
  return [...new Uint8Array(await sha256(text))].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
