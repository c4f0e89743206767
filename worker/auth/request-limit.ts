// Rate limiting of registry requests (issue 4: per principal and per IP, a token bucket in a
// Durable Object, TOOMANYREQUESTS with Retry-After). A signed-in principal is limited by its
// login name wherever it comes from (a robot used by a whole cluster shares one budget);
// requests without an account by the client's IP.
//
// The bucket lives in one RateLimiter object per key (durable-objects/rate-limiter.ts). Asking
// it on every request would put a Durable Object round trip in front of every pull, so each
// isolate leases a few tokens at a time and spends them itself: the object is asked about once
// per LEASE_SIZE requests. Leased tokens have left the bucket, so the limit is never exceeded;
// tokens an isolate leased but did not spend within LEASE_TTL_MS are lost, which only makes
// the limit a little stricter for a client spread over many isolates. A refusal is remembered
// for a second, so a client hammering past its limit costs the object one call a second.
// Concurrent requests that find the lease empty each ask the object themselves and add what
// they get to the lease: waiting on another request's call is not allowed in a Worker (its I/O
// belongs to that request), and the extra tokens are simply spent by the next requests.
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import { ExpiringMap } from "../expiring-map";
import { type Principal, principalName } from "./principal";
import type { BucketRule, LeaseResult } from "./token-bucket";

const LEASE_SIZE = 20;
const LEASE_TTL_MS = 5_000;
const REFUSAL_MEMORY_MS = 1_000;
/** Keys remembered per isolate; beyond it spent leases go first, then the oldest. */
export const MAX_KEYS = 10_000;

interface Lease {
  tokens: number;
  /** When the unspent tokens expire. */
  until: number;
  /** While set, requests are refused without asking: the retry-after the object gave, and until when. */
  refusal: { retryAfterSeconds: number; until: number } | null;
}

// A lease is remembered while it still holds something: unspent tokens or a refusal. After
// that it is worth exactly what a fresh one is, so it expires and frees its place (lesson 15).
const leases = new ExpiringMap<Lease>(MAX_KEYS);

/** The bucket a registry request is counted in. */
export function limitKey(principal: Principal, ip: string | null): string {
  const name = principalName(principal);
  // Local runs without Cloudflare's edge may have no client IP: those share one bucket.
  return name === "" ? `registry:ip:${ip ?? "unknown"}` : `registry:principal:${name}`;
}

/** Spends one token of `key`'s bucket, or refuses with 429 TOOMANYREQUESTS and Retry-After. */
export async function limitRequest(env: Bindings, rule: BucketRule, key: string): Promise<void> {
  const lease = leaseOf(key);
  for (;;) {
    const now = Date.now();
    if (lease.tokens > 0 && lease.until > now) {
      lease.tokens--;
      return;
    }
    if (lease.refusal !== null && lease.refusal.until > now) throw tooMany(lease.refusal.retryAfterSeconds);
    // Then the next turn spends a token, throws the refusal, or (when concurrent requests spent
    // the lease first) asks again.
    await refill(env, rule, key, lease);
  }
}

async function refill(env: Bindings, rule: BucketRule, key: string, lease: Lease): Promise<void> {
  const limiter = env.RATE_LIMITERS.get(env.RATE_LIMITERS.idFromName(key));
  let result: LeaseResult;
  try {
    result = await limiter.lease(rule, Math.min(LEASE_SIZE, Math.max(1, Math.floor(rule.capacity / 10))));
  } catch (error) {
    // A limiter that cannot be reached must not stop the registry: this request goes ahead.
    console.error("rate limiter unavailable", error);
    result = { granted: 1 };
  }
  const now = Date.now();
  if (result.granted > 0) {
    lease.tokens = (lease.until > now ? lease.tokens : 0) + result.granted;
    lease.until = now + LEASE_TTL_MS;
    lease.refusal = null;
  } else if ("retryAfterSeconds" in result) {
    lease.refusal = { retryAfterSeconds: result.retryAfterSeconds, until: now + Math.min(REFUSAL_MEMORY_MS, result.retryAfterSeconds * 1000) };
  }
  leases.set(key, lease, Math.max(lease.until, lease.refusal?.until ?? 0), now);
}

function leaseOf(key: string): Lease {
  let lease = leases.get(key);
  if (lease === undefined) {
    lease = { tokens: 0, until: 0, refusal: null };
    // In the map at once, so that concurrent requests share it while its first refill is on
    // the way; refill() then keeps it as long as its tokens or refusal last.
    leases.set(key, lease, Date.now() + LEASE_TTL_MS);
  }
  return lease;
}

function tooMany(retryAfterSeconds: number): RegistryError {
  return new RegistryError("TOOMANYREQUESTS", `too many requests; retry in ${retryAfterSeconds} seconds`, { headers: { "Retry-After": String(retryAfterSeconds) } });
}
