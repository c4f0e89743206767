// Revocation at the edge: the accounts behind credentials, as they are now, remembered per
// isolate for a few seconds, so that a revoked credential stops working everywhere within a
// stated bound while a warm request still asks D1 nothing.
//
// Every credential is stamped with its account's id and epochs (worker/auth/account-stamp.ts;
// tokens carry the stamp, remembered Basic logins keep it). A change that must revoke
// something moves an epoch, or deletes the account, in the same D1 batch as the change itself.
// Each isolate compares stamps with its copy of the account, read again when older than:
//   pull      30 s  (the README promises 60 s for pulls)
//   change     5 s  (push, delete, the management API, issuing tokens: promised 10 s)
//   now        0    (refresh tokens, which live 30 days: refused at once)
// A copy is taken before its query is sent, so a change committed after that query is seen
// by the first request after the copy's age runs out, whichever isolate or location serves it.
// A change made through this isolate is seen at once here (forgetAccount).
import type { Bindings } from "../env";
import { expiringMapsBy } from "../expiring-map";
import { RegistryError } from "../errors";
import { database } from "../storage/db/client";
import { findUser } from "../storage/db/queries/principals";
import { findRobot, type RobotGrant } from "../storage/db/queries/robots";
import { type AccountStamp, type CredentialStamp, staleness } from "./account-stamp";
import { type Identity, isRobotName } from "./principal";

export type Freshness = "pull" | "change" | "now";

/** How old a remembered account may be, per freshness: half the promised bound, for clock and query time. */
export const MAX_AGE_MS: Record<Freshness, number> = { pull: 30_000, change: 5_000, now: 0 };

/** An account as D1 holds it, with what authorisation needs of it. */
export interface AccountState {
  stamp: AccountStamp;
  disabled: boolean;
  /** Robots: when it expires (ms); null: never (users never expire). */
  expiresAt: number | null;
  /** Users: a system administrator. */
  isAdmin: boolean;
  /** Robots: their level and explicit permissions. */
  robot: { level: "system" | "project"; grants: RobotGrant[] } | null;
}

interface Remembered {
  state: AccountState | null;
  /** When the query that read it was sent (ms). */
  readAt: number;
}

// Per D1 binding (tests and benchmarks run several Workers); bounded like every per-isolate memory.
const rememberedFor = expiringMapsBy<D1Database, Remembered>(10_000);

/** The account named `loginName` as it is now (at most MAX_AGE_MS[freshness] old); null when there is none. */
export async function accountNow(env: Bindings, loginName: string, freshness: Freshness): Promise<AccountState | null> {
  const remembered = rememberedFor(env.DB);
  const now = Date.now();
  const hit = remembered.get(loginName, now);
  if (hit !== undefined && now - hit.readAt < MAX_AGE_MS[freshness]) return hit.state;
  const state = await readAccount(env, loginName);
  remember(env, loginName, state, now);
  return state;
}

/** Keeps what a request just read (a sign-in), so the next check needs no query of its own. */
export function remember(env: Bindings, loginName: string, state: AccountState | null, readAt: number): void {
  rememberedFor(env.DB).set(loginName, { state, readAt }, readAt + MAX_AGE_MS.pull);
}

/** Forgets this isolate's copy of an account that just changed, so the change holds here at once. */
export function forgetAccount(env: Bindings, loginName: string): void {
  rememberedFor(env.DB).delete(loginName);
}

/**
 * The account `stamp` was issued for, when the stamp still opens it; UNAUTHORIZED (without a
 * challenge: callers add theirs) when the account is gone, disabled, expired or changed since.
 * A CredentialStamp (a refresh token's) ignores the access epoch.
 */
export async function stampedAccount(env: Bindings, loginName: string, stamp: AccountStamp | CredentialStamp, freshness: Freshness): Promise<Identity> {
  const state = await accountNow(env, loginName, freshness);
  const refusal = state === null ? "the account it was issued to no longer exists" : (inactive(state) ?? staleness(stamp, state.stamp));
  if (refusal !== null) throw new RegistryError("UNAUTHORIZED", `credentials for ${loginName} no longer work: ${refusal}`);
  return identityFrom(loginName, state!);
}

/** Why the account cannot be used at all, or null. */
export function inactive(state: AccountState, now = Date.now()): string | null {
  if (state.disabled) return "the account is disabled";
  if (state.expiresAt !== null && state.expiresAt <= now) return "the robot account has expired";
  return null;
}

export function identityFrom(loginName: string, state: AccountState): Identity {
  if (state.robot !== null) return { kind: "robot", name: loginName, level: state.robot.level, grants: state.robot.grants, account: state.stamp };
  return { kind: "user", name: loginName, isAdmin: state.isAdmin, account: state.stamp };
}

async function readAccount(env: Bindings, loginName: string): Promise<AccountState | null> {
  const db = database(env.DB);
  if (isRobotName(loginName)) {
    const robot = await findRobot(db, loginName);
    return robot === null ? null : robotState(robot);
  }
  const user = await findUser(db, loginName);
  return user === null ? null : userState(user);
}

type StampedRow = { id: string; credentialEpoch: number; accessEpoch: number; disabled: boolean };

function stampOf(row: StampedRow): AccountStamp {
  return { id: row.id, credentialEpoch: row.credentialEpoch, accessEpoch: row.accessEpoch };
}

export function userState(row: StampedRow & { isAdmin: boolean }): AccountState {
  return { stamp: stampOf(row), disabled: row.disabled, expiresAt: null, isAdmin: row.isAdmin, robot: null };
}

export function robotState(row: StampedRow & { expiresAt: number | null; level: "system" | "project"; grants: RobotGrant[] }): AccountState {
  return { stamp: stampOf(row), disabled: row.disabled, expiresAt: row.expiresAt, isAdmin: false, robot: { level: row.level, grants: row.grants } };
}
