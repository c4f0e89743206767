// What one garbage collection step may spend. A step runs in one Durable Object alarm, an
// invocation with the Workers limits: subrequests (every D1 query and R2 call counts; 50 on the
// Free plan, 10,000 on Paid) and CPU time (30 s by default). A step stops well inside both, so
// a registry of any size is collected in many small steps rather than one that is cut off.

/** D1 and R2 calls per step: under the Free plan's 50 subrequests, with room for the run's own bookkeeping. */
export const CALLS_PER_STEP = 40;
/** Wall time per step; CPU time is a fraction of it (most of a step waits on D1 and R2). */
export const MS_PER_STEP = 10_000;

export class StepBudget {
  private calls = 0;
  private readonly startedAt = Date.now();

  constructor(
    private readonly maxCalls = CALLS_PER_STEP,
    private readonly maxMs = MS_PER_STEP,
  ) {}

  /** Takes `calls` from the budget; false (nothing taken) when they would exceed it. */
  spend(calls: number): boolean {
    if (this.calls + calls > this.maxCalls || Date.now() - this.startedAt > this.maxMs) return false;
    this.calls += calls;
    return true;
  }

  get spent(): number {
    return this.calls;
  }

  get elapsedMs(): number {
    return Date.now() - this.startedAt;
  }
}
