// Token buckets for per-principal and per-IP rate limits: a burst up to the capacity, then one
// request per refill interval, and a Retry-After that is never too early.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { fullBucket, refilled, secondsUntil, takeUpTo } from "../../worker/auth/token-bucket";

const rule = { capacity: 5, refillPerSecond: 0.5 };

describe("a token bucket", () => {
  it("leases a burst of its capacity, then refuses with when one is back", () => {
    const leased = takeUpTo(fullBucket(rule, 0), rule, 0, 100);
    expect(leased.result).toEqual({ granted: 5 });
    expect(takeUpTo(leased.bucket, rule, 0, 1).result).toEqual({ granted: 0, retryAfterSeconds: 2 });
  });

  it("refills at its rate, never beyond its capacity", () => {
    const empty = { tokens: 0, updatedAt: 0 };
    expect(refilled(empty, rule, 1_999)).toBeLessThan(1);
    expect(refilled(empty, rule, 2_000)).toBe(1);
    expect(refilled(empty, rule, 3_600_000)).toBe(5);
  });

  it("answers a Retry-After after which a token is back", () => {
    const bucket = { tokens: 0.2, updatedAt: 0 };
    const wait = secondsUntil(1, 0.2, rule);
    expect(refilled(bucket, rule, wait * 1000)).toBeGreaterThanOrEqual(1);
  });
});

describe("the RateLimiter Durable Object", () => {
  it("keeps one bucket per key across requests", async () => {
    const limiter = env.RATE_LIMITERS.get(env.RATE_LIMITERS.idFromName(`test:${crypto.randomUUID()}`));
    const tight = { capacity: 2, refillPerSecond: 0.001 };
    expect(await limiter.lease(tight, 1)).toEqual({ granted: 1 });
    expect(await limiter.lease(tight, 5)).toEqual({ granted: 1 });
    expect((await limiter.lease(tight, 1)).granted).toBe(0);
    const other = env.RATE_LIMITERS.get(env.RATE_LIMITERS.idFromName(`test:${crypto.randomUUID()}`));
    expect(await other.lease(tight, 1)).toEqual({ granted: 1 });
  });
});
