// A password guesser spread over many client addresses, replayed against the sign-in throttle's
// own rules (worker/auth/sign-in-rules.ts) on a simulated clock: how long it needs for a number
// of guesses at one name, and whether the real user, signing in from an address that has not
// been guessing, is ever refused meanwhile. Hours of attack take milliseconds here, and the
// arithmetic is the one the SignInThrottle objects run. `npm run bench:access` prints it; a
// test (test/auth/sign-in-rules.test.ts) holds the bound.
import { reserve, settle, type ThrottleKind, type ThrottleState, emptyState } from "../worker/auth/sign-in-rules";

export interface AttackResult {
  addresses: number;
  guesses: number;
  /** Simulated time until the last of `guesses` was checked, seconds. */
  seconds: number;
  /** Guesses checked in the first minute. */
  firstMinute: number;
  /** Times the real user (a fresh address each time) was refused while the attack ran. */
  realUserRefusals: number;
  realUserAttempts: number;
}

/**
 * Every `stepMs`, each address guesses as often as the throttle lets it (every guess wrong),
 * and the real user signs in once from an address of its own (right password).
 */
export function spreadGuessing(addresses: number, guesses: number, stepMs = 10_000, start = Date.UTC(2026, 0, 1)): AttackResult {
  const name = new Throttled("name", start);
  const byAddress = Array.from({ length: addresses }, () => ({ address: new Throttled("address", start), pair: new Throttled("pair", start) }));
  let checked = 0;
  let firstMinute = 0;
  let realUserRefusals = 0;
  let realUserAttempts = 0;
  for (let now = start; ; now += stepMs) {
    for (const client of byAddress) {
      while (checked < guesses && attempt(now, client, name, "failure")) {
        checked++;
        if (now - start < 60_000) firstMinute++;
      }
      if (checked >= guesses) return { addresses, guesses, seconds: (now - start) / 1000, firstMinute, realUserRefusals, realUserAttempts };
    }
    realUserAttempts++;
    const realUser = { address: new Throttled("address", now), pair: new Throttled("pair", now) };
    if (!attempt(now, realUser, name, "success")) realUserRefusals++;
  }
}

/** One sign-in through the three throttles, in the order the Worker asks them; whether it was checked. */
function attempt(now: number, client: { address: Throttled; pair: Throttled }, name: Throttled, outcome: "success" | "failure"): boolean {
  const address = client.address.reserve(now);
  const pair = client.pair.reserve(now);
  const byName = pair.admitted ? name.reserve(now, pair.quiet) : null;
  const admitted = address.admitted && pair.admitted && byName !== null && byName.admitted;
  const settled = admitted ? outcome : "unused";
  for (const [throttle, result] of [[client.address, address], [client.pair, pair], [name, byName]] as const) {
    if (result !== null && result.admitted) throttle.settle(now, settled, result.taken);
  }
  return admitted;
}

/** One throttle object's state, as the Durable Object keeps it. */
class Throttled {
  private state: ThrottleState;
  constructor(
    private readonly kind: ThrottleKind,
    now: number,
  ) {
    this.state = emptyState(kind, now);
  }
  reserve(now: number, mayOverdraw = false) {
    const reserved = reserve(this.state, this.kind, now, mayOverdraw);
    this.state = reserved.state;
    return reserved.result;
  }
  settle(now: number, outcome: "success" | "failure" | "unused", taken: boolean): void {
    this.state = settle(this.state, this.kind, now, outcome, taken);
  }
}
