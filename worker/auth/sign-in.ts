// Signing in with a login name and a password (Basic credentials anywhere, or the OAuth2
// password grant of POST /token):
//   `admin`    against the ADMIN_PASSWORD secret (its row in D1 holds its stamp);
//   `robot$…`  against the robots table;  anyone else against the users table.
//
// Passwords are slow on purpose (PBKDF2, worker/auth/passwords.ts), so before a password is
// checked the attempt is admitted by the sign-in throttle (worker/auth/sign-in-rules.ts), which
// counts failures per address, per (name, address) and per name; a right password gives its
// reservation back. A login that verified is remembered in this isolate for REMEMBER_MS, so a
// client that sends Basic on every request pays for one PBKDF2, not one per blob; every use of
// it still checks the account's stamp (worker/auth/account-state.ts), so a changed password, a
// disabled or deleted account stops it within the revocation bounds. A remembered login that
// must be checked again (lapsed, or its account changed) spends no sign-in attempt: only who
// knows the password has its key, and a busy robot must not run out of attempts.
//
// Every failed or throttled sign-in is audited here, wherever it came from (login-audit.ts).
import type { Config } from "../config";
import type { Bindings, WaitUntil } from "../env";
import { type ExpiringMap, expiringMapsBy } from "../expiring-map";
import { RegistryError } from "../errors";
import { database } from "../storage/db/client";
import { findUser, upsertAdmin } from "../storage/db/queries/principals";
import { findRobot } from "../storage/db/queries/robots";
import { type AccountState, accountNow, type Freshness, identityFrom, inactive, remember, robotState, userState } from "./account-state";
import { staleness } from "./account-stamp";
import { ANY_NAME, auditLogin } from "./login-audit";
import { generateSecret, hashSecret, verifySecret } from "./passwords";
import { ADMIN_USERNAME, type Identity, isRobotName } from "./principal";
import { admitSignIn } from "./sign-in-throttle";

export interface Credentials {
  username: string;
  password: string;
}

export interface SignInRequest {
  /** The client's IP (CF-Connecting-IP), or null when unknown (local runs share one key). */
  ip: string | null;
  /** How current the account behind a remembered login must be (account-state.ts). */
  freshness: Freshness;
  /** Where the audit records and the throttle's settlements are written, after the answer. */
  waitUntil: WaitUntil;
}

/** No login name is longer; longer ones are refused before any work. */
export const MAX_LOGIN_NAME = 256;
/** How long a verified login is trusted before its password is checked again. */
const REMEMBER_MS = 10 * 60_000;
/** How long a lapsed login stays known, so that checking it again spends no sign-in attempt. */
const KNOWN_MS = 24 * 3_600_000;
/** How long the other requests keep a lapsed login while one request checks it again. */
const RECHECK_GRACE_MS = 5_000;

interface RememberedLogin {
  identity: Identity;
  /** Trusted until then; afterwards one request checks the password again. */
  freshUntil: number;
  /** While a request checks it again: until when the others may still use it. */
  recheckUntil: number;
}

// Keyed by configuration, so a different ADMIN_PASSWORD never meets another one's logins.
const rememberedFor = expiringMapsBy<Config, RememberedLogin>(1_000);
const adminRecorded = new WeakSet<Config>();
let decoy: Promise<string> | null = null;

export async function signInWithPassword(env: Bindings, config: Config, credentials: Credentials, request: SignInRequest): Promise<Identity> {
  const { username } = credentials;
  if (username === "" || username.length > MAX_LOGIN_NAME) throw wrongCredentials();
  const remembered = rememberedFor(config);
  // JSON, not "name:password": a form's name may hold a colon, and no two pairs may share a key.
  const key = await sha256Hex(JSON.stringify([username, credentials.password]));
  const known = await rememberedLogin(env, username, key, remembered, request);
  if (known === "recheck") return verified(env, config, credentials, request, key, null);
  if (known !== null) return known;
  const admission = await admitSignIn(env, request.waitUntil, username, request.ip);
  if (!admission.admitted) {
    auditLogin(env, request.waitUntil, { principal: admission.by === "address" ? ANY_NAME : username, result: "denied", ip: request.ip });
    const retryAfter = String(admission.retryAfterSeconds);
    throw new RegistryError("TOOMANYREQUESTS", `too many failed sign-ins; retry in ${retryAfter} seconds`, { headers: { "Retry-After": retryAfter } });
  }
  // While this attempt waited for its admission, another request may have verified the same
  // login (a fleet signing in at once): then no PBKDF2 is needed, and the reservation goes back.
  const meanwhile = await rememberedLogin(env, username, key, remembered, request);
  if (meanwhile !== null && meanwhile !== "recheck") {
    admission.settle("success");
    return meanwhile;
  }
  return verified(env, config, credentials, request, key, admission.settle);
}

/**
 * The remembered login's account, when it is still trusted and the account unchanged; "recheck"
 * when it is remembered but must be checked again (this request does it; the others keep the
 * login for a few seconds); null when it is not remembered at all.
 */
async function rememberedLogin(env: Bindings, username: string, key: string, remembered: ExpiringMap<RememberedLogin>, request: SignInRequest): Promise<Identity | "recheck" | null> {
  const now = Date.now();
  const hit = remembered.get(key, now);
  if (hit === undefined) return null;
  if (hit.freshUntil > now || hit.recheckUntil > now) {
    const state = await accountNow(env, username, request.freshness);
    if (state !== null && inactive(state, now) === null && staleness(hit.identity.account, state.stamp) === null) return identityFrom(username, state);
  }
  hit.recheckUntil = now + RECHECK_GRACE_MS;
  return "recheck";
}

/**
 * Checks the password; remembers and returns the account, or audits and throws (401 without a
 * challenge: the caller adds its own). `settle` reports the outcome to the throttle, when the
 * attempt was admitted by it.
 */
async function verified(
  env: Bindings,
  config: Config,
  credentials: Credentials,
  request: SignInRequest,
  key: string,
  settle: ((outcome: "success" | "failure") => void) | null,
): Promise<Identity> {
  const { username } = credentials;
  const remembered = rememberedFor(config);
  const readAt = Date.now();
  const checked = await checkPassword(env, config, credentials);
  // Only a wrong password is a guess; an account that is disabled or expired answered the right one.
  settle?.(checked.outcome === "wrong" ? "failure" : "success");
  if (checked.outcome !== "ok") {
    remembered.delete(key);
    auditLogin(env, request.waitUntil, { principal: username, result: "failure", ip: request.ip });
    throw checked.outcome === "wrong" ? wrongCredentials() : new RegistryError("UNAUTHORIZED", checked.reason);
  }
  remember(env, username, checked.state, readAt);
  const identity = identityFrom(username, checked.state);
  const now = Date.now();
  remembered.set(key, { identity, freshUntil: now + REMEMBER_MS, recheckUntil: 0 }, now + KNOWN_MS);
  return identity;
}

type Checked = { outcome: "ok"; state: AccountState } | { outcome: "wrong" } | { outcome: "inactive"; reason: string };

async function checkPassword(env: Bindings, config: Config, { username, password }: Credentials): Promise<Checked> {
  if (username === ADMIN_USERNAME) {
    if (!(await sameSecret(password, config.auth.adminPassword))) return { outcome: "wrong" };
    return { outcome: "ok", state: await adminState(env, config) };
  }
  const db = database(env.DB);
  const row = isRobotName(username) ? await findRobot(db, username) : await findUser(db, username);
  const hash = row === null ? null : "secretHash" in row ? row.secretHash : row.passwordHash;
  // An unknown name costs the same PBKDF2 as a known one, so timing does not tell them apart.
  if (!(await verifySecret(password, hash ?? (await decoyHash()))) || row === null) return { outcome: "wrong" };
  const state = "secretHash" in row ? robotState(row) : userState(row);
  const reason = inactive(state);
  return reason === null ? { outcome: "ok", state } : { outcome: "inactive", reason: `${username}: ${reason}` };
}

/** The `admin` row as it is now, recorded first when this isolate has not done so (recordAdmin). */
async function adminState(env: Bindings, config: Config): Promise<AccountState> {
  await recordAdmin(env, config);
  const state = await accountNow(env, ADMIN_USERNAME, "change");
  if (state !== null) return state;
  // The row went away since this isolate recorded it: it is recorded again.
  adminRecorded.delete(config);
  await recordAdmin(env, config);
  return (await accountNow(env, ADMIN_USERNAME, "change"))!;
}

/**
 * The `admin` row, which gives the admin a stamp like every account. Once per isolate (and
 * configuration) the row is checked against ADMIN_PASSWORD, before the admin's password or
 * tokens are trusted: when the secret changed, the row takes the new hash and a new credential
 * epoch, so tokens and refresh tokens issued under the old password stop working, even if
 * nobody signs in with the new one. The row read is kept as the isolate's copy of the account.
 */
export async function recordAdmin(env: Bindings, config: Config): Promise<void> {
  if (adminRecorded.has(config)) return;
  const db = database(env.DB);
  let row = await findUser(db, ADMIN_USERNAME);
  if (row === null || !row.isAdmin || row.disabled || !(await verifySecret(config.auth.adminPassword, row.passwordHash))) {
    row = await upsertAdmin(db, ADMIN_USERNAME, await hashSecret(config.auth.adminPassword));
  }
  adminRecorded.add(config);
  remember(env, ADMIN_USERNAME, userState(row), Date.now());
}

function wrongCredentials(): RegistryError {
  return new RegistryError("UNAUTHORIZED", "invalid username or password");
}

/**
 * ADMIN_PASSWORD is compared in constant time: both sides are hashed to 32 bytes first, since
 * timingSafeEqual needs equal lengths and comparing lengths would leak the password's.
 */
async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([sha256(given), sha256(expected)]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/** A hash no secret matches, for unknown names (made once per isolate). */
function decoyHash(): Promise<string> {
  decoy ??= hashSecret(generateSecret());
  return decoy;
}

async function sha256(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}

async function sha256Hex(text: string): Promise<string> {
  return [...new Uint8Array(await sha256(text))].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
