// SignInThrottle: one Durable Object per throttled key of failed sign-ins (a login name, a
// client address, or the pair; worker/auth/sign-in-throttle.ts names them), holding the state
// worker/auth/sign-in-rules.ts defines.
//
// Unlike the request limiter's buckets, which refill within seconds, this state must outlive
// an idle object: an address that failed for a name is remembered for an hour, and an evicted
// object that came back empty would hand a guesser a fresh budget. So the state is written to
// the object's storage on every change, and an alarm deletes it once it says nothing a fresh
// state would not, so that storage does not grow with every name ever tried.
//
// An attempt refused only because others are in flight waits (up to MAX_WAIT_MS) for one of
// them to settle, then is decided again: a fleet signing in at once with one robot's right
// secret is not refused for its own concurrency, while a burst of wrong guesses still gets
// no more checks than the count allows (their settlements keep the failures).
import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../worker/env";
import { emptyState, forgettableAt, type Outcome, type Reservation, reserve, settle, type ThrottleKind, type ThrottleState } from "../worker/auth/sign-in-rules";

const STATE_KEY = "state";
/** Longest an attempt waits for those in flight; a password check takes well under a second. */
const MAX_WAIT_MS = 5_000;

export class SignInThrottle extends DurableObject<Bindings> {
  /** Woken at every settlement: attempts waiting for a reservation to come back. */
  private waiting: (() => void)[] = [];

  /** Reserves one failure (see sign-in-rules.ts); `mayOverdraw` lets a quiet address past an empty bucket. */
  async reserve(kind: ThrottleKind, mayOverdraw = false): Promise<Reservation> {
    const deadline = Date.now() + MAX_WAIT_MS;
    for (;;) {
      const now = Date.now();
      const reserved = reserve(this.load(kind, now), kind, now, mayOverdraw);
      this.save(kind, reserved.state);
      const result = reserved.result;
      if (result.admitted || !result.waitable || now >= deadline) return result;
      await this.nextSettlement(deadline - now);
    }
  }

  /** Settles an attempt `reserve` admitted: a failure stays counted, anything else is given back. */
  settle(kind: ThrottleKind, outcome: Outcome, taken: boolean): void {
    const now = Date.now();
    this.save(kind, settle(this.load(kind, now), kind, now, outcome, taken));
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  }

  /** Resolves at the next settlement, or after `ms`. */
  private nextSettlement(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiting.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  override async alarm(): Promise<void> {
    const stored = this.ctx.storage.kv.get<{ kind: ThrottleKind; state: ThrottleState }>(STATE_KEY);
    if (stored === undefined) return;
    const at = forgettableAt(stored.state, stored.kind);
    if (at <= Date.now()) await this.ctx.storage.deleteAll();
    else await this.ctx.storage.setAlarm(at);
  }

  private load(kind: ThrottleKind, now: number): ThrottleState {
    const stored = this.ctx.storage.kv.get<{ kind: ThrottleKind; state: ThrottleState }>(STATE_KEY);
    return stored === undefined || stored.kind !== kind ? emptyState(kind, now) : stored.state;
  }

  private save(kind: ThrottleKind, state: ThrottleState): void {
    this.ctx.storage.kv.put(STATE_KEY, { kind, state });
    // Not awaited: the write and the alarm are part of the same output gate.
    void this.ctx.storage.setAlarm(forgettableAt(state, kind));
  }
}
