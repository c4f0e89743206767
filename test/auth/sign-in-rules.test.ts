// The sign-in throttle's rules on a simulated clock (worker/auth/sign-in-rules.ts): failures are
// counted, the right password gives its reservation back, and a guesser spread over many
// addresses is slowed to the bound the README states, while the real user is never refused.
import { describe, expect, it } from "vitest";
import { spreadGuessing } from "../../bench/sign-in-attack";
import { emptyState, QUIET_MS, reserve, settle, SIGN_IN_RULES } from "../../worker/auth/sign-in-rules";

const T0 = Date.UTC(2026, 0, 1);

describe("the sign-in rules", () => {
  it("refuse a pair after its capacity of failures, with the time until one is back", () => {
    let state = emptyState("pair", T0);
    for (let attempt = 0; attempt < SIGN_IN_RULES.pair.capacity; attempt++) {
      const reserved = reserve(state, "pair", T0);
      expect(reserved.result.admitted).toBe(true);
      state = settle(reserved.state, "pair", T0, "failure", true);
    }
    const refused = reserve(state, "pair", T0).result;
    expect(refused).toEqual({ admitted: false, retryAfterSeconds: 60, waitable: false });
  });

  it("call a refusal waitable while attempts in flight hold reservations that a right password would give back", () => {
    let state = emptyState("pair", T0);
    for (let attempt = 0; attempt < SIGN_IN_RULES.pair.capacity; attempt++) state = reserve(state, "pair", T0).state;
    expect(reserve(state, "pair", T0).result).toMatchObject({ admitted: false, waitable: true });
    state = settle(state, "pair", T0, "success", true);
    expect(reserve(state, "pair", T0).result.admitted).toBe(true);
  });

  it("give a right password's reservation back: successes are never counted", () => {
    let state = emptyState("address", T0);
    for (let attempt = 0; attempt < 10 * SIGN_IN_RULES.address.capacity; attempt++) {
      const reserved = reserve(state, "address", T0);
      expect(reserved.result.admitted).toBe(true);
      state = settle(reserved.state, "address", T0, "success", true);
    }
  });

  it("count attempts in flight, so a burst of parallel guesses cannot outrun the count", () => {
    let state = emptyState("pair", T0);
    let admitted = 0;
    for (let attempt = 0; attempt < 50; attempt++) {
      const reserved = reserve(state, "pair", T0);
      state = reserved.state;
      if (reserved.result.admitted) admitted++;
    }
    expect(admitted).toBe(SIGN_IN_RULES.pair.capacity);
  });

  it("call an address quiet for a name only without a failure for an hour and nothing in flight", () => {
    const first = reserve(emptyState("pair", T0), "pair", T0);
    expect(first.result).toMatchObject({ quiet: true });
    expect(reserve(first.state, "pair", T0).result).toMatchObject({ quiet: false });
    const failed = settle(first.state, "pair", T0, "failure", true);
    expect(reserve(failed, "pair", T0 + QUIET_MS - 1).result).toMatchObject({ quiet: false });
    expect(reserve(failed, "pair", T0 + QUIET_MS).result).toMatchObject({ quiet: true });
  });

  it("let a quiet address past a name whose budget is spent, and nobody else", () => {
    let name = emptyState("name", T0);
    for (let attempt = 0; attempt < SIGN_IN_RULES.name.capacity; attempt++) name = settle(reserve(name, "name", T0).state, "name", T0, "failure", true);
    expect(reserve(name, "name", T0).result.admitted).toBe(false);
    expect(reserve(name, "name", T0, true).result).toMatchObject({ admitted: true, taken: false });
  });
});

describe("a guesser spread over 256 addresses", () => {
  const attack = spreadGuessing(256, 1_000);

  it("needs more than two hours for 1,000 guesses at one name", () => {
    expect(attack.seconds).toBeGreaterThan(2 * 3600);
  });

  it("gets at most the name's budget plus one guess per address in the first minute", () => {
    expect(attack.firstMinute).toBeLessThanOrEqual(SIGN_IN_RULES.name.capacity + 256);
  });

  it("never keeps the real user out: every sign-in from an address that was not guessing goes through", () => {
    expect(attack.realUserAttempts).toBeGreaterThan(100);
    expect(attack.realUserRefusals).toBe(0);
  });
});
