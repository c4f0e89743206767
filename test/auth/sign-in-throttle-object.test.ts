// The SignInThrottle Durable Object keeps its count in storage, so an object evicted while idle
// comes back with it (a guesser waiting out an eviction gains nothing), and an alarm forgets
// the count once it says nothing a fresh one would not, so storage does not grow with every
// name ever tried.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { SignInThrottle } from "../../durable-objects/sign-in-throttle";
import { QUIET_MS, SIGN_IN_RULES } from "../../worker/auth/sign-in-rules";

afterEach(() => {
  vi.useRealTimers();
});

function throttle(): DurableObjectStub<SignInThrottle> {
  return env.SIGN_IN_THROTTLES.get(env.SIGN_IN_THROTTLES.idFromName(`pair:test ${crypto.randomUUID()}`));
}

describe("a SignInThrottle", () => {
  it("writes its count to storage on every change", async () => {
    const stub = throttle();
    const reserved = await stub.reserve("pair");
    await stub.settle("pair", "failure", reserved.admitted && reserved.taken);
    const stored = await runInDurableObject(stub, (_, state) => state.storage.kv.get<{ state: { bucket: { tokens: number }; lastFailureAt: number } }>("state"));
    expect(stored?.state.bucket.tokens).toBeCloseTo(SIGN_IN_RULES.pair.capacity - 1, 1);
    expect(stored?.state.lastFailureAt).toBeGreaterThan(0);
  });

  it("keeps a failure past its alarm until the address is quiet again, then forgets everything", async () => {
    const stub = throttle();
    const reserved = await stub.reserve("pair");
    await stub.settle("pair", "failure", reserved.admitted && reserved.taken);
    const start = Date.now();
    vi.setSystemTime(start + 10 * 60_000);
    await runDurableObjectAlarm(stub);
    expect(await runInDurableObject(stub, (_, state) => state.storage.kv.get("state"))).toBeDefined();
    vi.setSystemTime(start + QUIET_MS + 1_000);
    await runDurableObjectAlarm(stub);
    expect(await runInDurableObject(stub, (_, state) => state.storage.kv.get("state"))).toBeUndefined();
  });
});
