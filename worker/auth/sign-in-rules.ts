// How failed sign-ins are throttled, as pure arithmetic (the SignInThrottle Durable Object keeps
// the state; `npm run bench:access` replays an attack against these very rules).
//
// Failures, not attempts, are counted, in three places:
//   pair     one (login name, client address): a person mistyping their password;
//   address  one client address, whatever the name: one machine spraying many names;
//   name     one login name, from anywhere: guessing spread over many addresses.
// A client address is an IPv4 address or an IPv6 /64 (worker/auth/client-address.ts).
//
// Every attempt reserves one failure in each place before the password is checked, so a burst
// of parallel guesses cannot outrun the count, and gives it back when the password was right.
// An attempt refused only because others are still in flight (a fleet signing in at once with
// the right password) waits for them to settle instead (durable-objects/sign-in-throttle.ts):
// right passwords give their reservations back, and the waiting attempts go ahead.
// The pair and the address refuse (429) when they hold no more failures. The name does not
// refuse everyone: while its budget is spent (the name is under attack), an address that has
// not failed for that name for QUIET_MS is still let through. So a guesser spread over many
// addresses gets one guess per address per hour, and the real user, signing in from an
// address that has not been guessing, is never refused because others guessed wrong.
//
// Bound, with these defaults (bench/sign-in-attack.ts replays it): 256 addresses get about 350
// guesses at one name in the first minute (the name's 100 plus one per fresh address), then
// about 266 an hour (one per address per hour plus the name's 10 an hour): 1,000 guesses take
// about 3 hours, about 6,400 a day. One address alone gets about 10 an hour once the name's
// budget is spent (1,000 guesses: about 90 hours).
import { type Bucket, type BucketRule, fullBucket, refilled, secondsUntil } from "./token-bucket";

export const SIGN_IN_RULES = {
  /** Ten tries, then one a minute: one address mistyping one name. */
  pair: { capacity: 10, refillPerSecond: 1 / 60 },
  /** A hundred failures, then one every six seconds: one address, whatever the names. */
  address: { capacity: 100, refillPerSecond: 1 / 6 },
  /** A hundred failures, then ten an hour: one name, from every address together. */
  name: { capacity: 100, refillPerSecond: 10 / 3600 },
} as const satisfies Record<string, BucketRule>;

/** While a name is under attack, an address is let through if it has not failed for that name for this long. */
export const QUIET_MS = 3_600_000;
/** A reservation nobody settled in this long (the Worker died mid-check) is no longer in flight. */
export const ATTEMPT_TIMEOUT_MS = 30_000;

export type ThrottleKind = keyof typeof SIGN_IN_RULES;

/** What one throttle object keeps. */
export interface ThrottleState {
  bucket: Bucket;
  /** When the last failure was settled (ms), or null. */
  lastFailureAt: number | null;
  /** Attempts reserved and not settled yet: until when they count, and whether they took a failure. */
  inFlight: { until: number; taken: boolean }[];
}

export type Reservation =
  /** `quiet`: no failure for QUIET_MS and no other attempt in flight; `taken`: a failure was reserved. */
  | { admitted: true; quiet: boolean; taken: boolean }
  /** `waitable`: attempts in flight hold enough reservations that a settlement may admit this one. */
  | { admitted: false; retryAfterSeconds: number; waitable: boolean };

/** How an attempt ended: `failure` keeps the reserved failure; the others give it back. */
export type Outcome = "success" | "failure" | "unused";

export function emptyState(kind: ThrottleKind, now: number): ThrottleState {
  return { bucket: fullBucket(SIGN_IN_RULES[kind], now), lastFailureAt: null, inFlight: [] };
}

/**
 * Reserves one failure. `mayOverdraw`: let the attempt through even when the bucket is empty
 * (the name's bucket, for an address that is quiet for that name).
 */
export function reserve(state: ThrottleState, kind: ThrottleKind, now: number, mayOverdraw = false): { state: ThrottleState; result: Reservation } {
  const rule = SIGN_IN_RULES[kind];
  const inFlight = state.inFlight.filter((attempt) => attempt.until > now);
  const tokens = refilled(state.bucket, rule, now);
  const quiet = inFlight.length === 0 && (state.lastFailureAt === null || now - state.lastFailureAt >= QUIET_MS);
  if (tokens < 1 && !mayOverdraw) {
    const retryAfterSeconds = secondsUntil(1, tokens, rule);
    const waitable = tokens + inFlight.filter((attempt) => attempt.taken).length >= 1;
    return { state: { ...state, bucket: { tokens, updatedAt: now }, inFlight }, result: { admitted: false, retryAfterSeconds, waitable } };
  }
  const taken = tokens >= 1;
  return {
    state: { bucket: { tokens: taken ? tokens - 1 : tokens, updatedAt: now }, lastFailureAt: state.lastFailureAt, inFlight: [...inFlight, { until: now + ATTEMPT_TIMEOUT_MS, taken }] },
    result: { admitted: true, quiet, taken },
  };
}

/** Settles one reserved attempt. */
export function settle(state: ThrottleState, kind: ThrottleKind, now: number, outcome: Outcome, taken: boolean): ThrottleState {
  const rule = SIGN_IN_RULES[kind];
  const inFlight = [...state.inFlight];
  const settled = inFlight.findIndex((attempt) => attempt.taken === taken);
  if (settled !== -1) inFlight.splice(settled, 1);
  const tokens = refilled(state.bucket, rule, now) + (taken && outcome !== "failure" ? 1 : 0);
  return {
    bucket: { tokens: Math.min(rule.capacity, tokens), updatedAt: now },
    lastFailureAt: outcome === "failure" ? now : state.lastFailureAt,
    inFlight: inFlight.filter((attempt) => attempt.until > now),
  };
}

/** When the state says nothing a fresh one would not (full, quiet, nothing in flight), ms; it may then be forgotten. */
export function forgettableAt(state: ThrottleState, kind: ThrottleKind): number {
  const rule = SIGN_IN_RULES[kind];
  const full = state.bucket.updatedAt + Math.ceil(((rule.capacity - state.bucket.tokens) / rule.refillPerSecond) * 1000);
  const quiet = state.lastFailureAt === null ? 0 : state.lastFailureAt + QUIET_MS;
  return Math.max(full, quiet, ...state.inFlight.map((attempt) => attempt.until));
}
