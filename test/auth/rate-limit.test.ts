// Token buckets for per-principal and per-IP rate limits: a burst up to the capacity, then one
// request per refill interval, and a Retry-After that is never too early.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { fullBucket, take } from "../../worker/auth/token-bucket";

const rule = { capacity: 5, refillPerSecond: 0.5 };

describe("a token bucket", () => {
  it("allows a burst of its capacity, then refuses", () => {
    let bucket = fullBucket(rule, 0);
    for (let request = 0; request < 5; request++) {
      const taken = take(bucket, rule, 0);
      expect(taken.result.allowed).toBe(true);
      bucket = taken.bucket;
    }
    expect(take(bucket, rule, 0).result).toEqual({ allowed: false, retryAfterSeconds: 2 });
  });

  it("refills at its rate, never beyond its capacity", () => {
    const empty = { tokens: 0, updatedAt: 0 };
    expect(take(empty, rule, 1_999).result.allowed).toBe(false);
    expect(take(empty, rule, 2_000).result).toEqual({ allowed: true, remaining: 0 });
    expect(take(empty, rule, 3_600_000).result).toEqual({ allowed: true, remaining: 4 });
  });

  it("answers a Retry-After after which the request is allowed", () => {
    const bucket = { tokens: 0.2, updatedAt: 0 };
    const refused = take(bucket, rule, 0).result;
    if (refused.allowed) expect.fail("expected a refusal");
    expect(take(bucket, rule, refused.retryAfterSeconds * 1000).result.allowed).toBe(true);
  });

  it("charges a cost of several tokens at once", () => {
    expect(take(fullBucket(rule, 0), rule, 0, 5).result).toEqual({ allowed: true, remaining: 0 });
    expect(take(fullBucket(rule, 0), rule, 0, 6).result.allowed).toBe(false);
  });
});

describe("the RateLimiter Durable Object", () => {
  it("keeps one bucket per key across requests", async () => {
    const limiter = env.RATE_LIMITERS.get(env.RATE_LIMITERS.idFromName(`test:${crypto.randomUUID()}`));
    const tight = { capacity: 2, refillPerSecond: 0.001 };
    expect((await limiter.take(tight)).allowed).toBe(true);
    expect((await limiter.take(tight)).allowed).toBe(true);
    const refused = await limiter.take(tight);
    expect(refused.allowed).toBe(false);
    const other = env.RATE_LIMITERS.get(env.RATE_LIMITERS.idFromName(`test:${crypto.randomUUID()}`));
    expect((await other.take(tight)).allowed).toBe(true);
  });
});
