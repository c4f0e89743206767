// The request limit's leases (worker/auth/request-limit.ts) are per-isolate memory keyed by
// principal or client IP, a set with no end: the isolate remembers at most MAX_KEYS of them
// (lesson 15), and a key pushed out simply asks its bucket again. The RateLimiter objects are
// replaced by a stub that grants every lease and counts who asked, so 20,000 keys stay cheap.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { limitRequest, MAX_KEYS } from "../../worker/auth/request-limit";
import type { Bindings } from "../../worker/env";

/** A lease of 3 per call (a tenth of the capacity): one spent at once, two left over. */
const RULE = { capacity: 30, refillPerSecond: 1 };

function grantingLimiters(): { env: Bindings; asked: string[] } {
  const asked: string[] = [];
  const RATE_LIMITERS = {
    idFromName: (name: string) => name,
    get: (id: string) => ({
      lease: async (_rule: unknown, most: number) => {
        asked.push(id);
        return { granted: most };
      },
    }),
  };
  return { env: { ...env, RATE_LIMITERS } as unknown as Bindings, asked };
}

describe("the leases an isolate remembers", () => {
  it("spends a lease's leftover tokens without asking the bucket again", async () => {
    const limiters = grantingLimiters();
    const key = `memory:${crypto.randomUUID()}`;
    await limitRequest(limiters.env, RULE, key);
    await limitRequest(limiters.env, RULE, key);
    expect(limiters.asked).toEqual([key]);
  });

  it("are at most MAX_KEYS: after twice as many other keys the first asks its bucket again, the last does not", async () => {
    const limiters = grantingLimiters();
    const prefix = `memory:${crypto.randomUUID()}`;
    const others = 2 * MAX_KEYS;
    await limitRequest(limiters.env, RULE, `${prefix}:first`);
    for (let index = 0; index < others; index++) await limitRequest(limiters.env, RULE, `${prefix}:${index}`);
    limiters.asked.length = 0;
    await limitRequest(limiters.env, RULE, `${prefix}:${others - 1}`);
    await limitRequest(limiters.env, RULE, `${prefix}:first`);
    expect(limiters.asked).toEqual([`${prefix}:first`]);
  });
});
