// The jobs the scheduler (scheduler.ts) can run, and the schedules Pier creates by itself. To add
// a kind of job: write it as a ScheduledJob in its own module, add it to SCHEDULED_JOBS below,
// and, if it should run without anyone asking, add its schedule to DEFAULT_SCHEDULES.
//
// A schedule's name picks its job: "audit-purge" runs the job "audit-purge"; a name with a
// target, "retention:team", runs the job registered as "retention:" (the kind, colon included)
// and hands it the whole name, whose target the job reads. So "gc:x" is not "gc", and
// "retention" without a target is not "retention:".
import type { Bindings, WaitUntil } from "../env";
import { outboxSweepJob } from "../events/outbox-sweep";
import { replicationJob, replicationSweepJob } from "../replication/scheduled";
import { auditPurgeJob } from "./audit-purge";
import { cacheEvictionJob } from "./cache-eviction";
import { gcJob } from "./gc-start";
import { retentionJob } from "./retention";

/** What a job learns about the run beyond its options. */
export interface JobRun {
  /** The schedule's name: "retention:team" for a job registered as "retention:". */
  name: string;
  /** The invocation's waitUntil, for work that may outlive the job (deferred writes). */
  waitUntil: WaitUntil;
  /**
   * Asks for the next run within a minute instead of at the schedule's next time: for a job
   * that stopped at its per-invocation bound (subrequests, CPU) with work left.
   */
  runAgain(): void;
}

/**
 * One kind of scheduled work. `options` is the schedule's options (a JSON object, `{}` unless
 * set; the job checks what it needs). Resolves to a one-line summary ("deleted 3 records"),
 * recorded as "ok: <summary>"; a throw is recorded as "failed: <message>". It must stay within
 * one invocation's limits (CPU 30 s; subrequests, which D1 queries count against: 50 on the
 * Free plan, 10,000 on Paid), shared with the other jobs due in the same minute: bound the
 * work and call run.runAgain() to continue. `now` is the cron invocation's time (ms).
 */
export type ScheduledJob = (env: Bindings, options: unknown, now: number, run: JobRun) => Promise<string>;

export const SCHEDULED_JOBS: Record<string, ScheduledJob> = {
  "audit-purge": auditPurgeJob,
  "cache-eviction": cacheEvictionJob,
  // Outbox rows whose queue message was lost or whose handler failed (worker/events).
  "event-outbox": outboxSweepJob,
  gc: gcJob,
  // "retention:<project>": the project's retention policy, on the schedule the policy names.
  "retention:": retentionJob,
  // "replication:<policy>": a scheduled replication policy's run (worker/replication/scheduled.ts).
  "replication:": replicationJob,
  // Replication executions whose queue messages were lost are sent again.
  "replication-sweep": replicationSweepJob,
};

export interface DefaultSchedule {
  name: string;
  /** An expression worker/lifecycle/cron.ts accepts. */
  cron: string;
  options: Record<string, unknown>;
}

/**
 * Created when absent (checked every minute), then left alone: an admin may change or disable
 * them (PUT /api/v1/system/schedules/{name}) but not delete them, as they would come back.
 */
export const DEFAULT_SCHEDULES: readonly DefaultSchedule[] = [
  { name: "audit-purge", cron: "daily", options: {} },
  // Only what nothing references: untagged manifests stay unless an admin asks for them to go.
  { name: "gc", cron: "weekly", options: { deleteUntagged: false } },
  // Each upstream's maxIdleDays and maxBytes (PIER_UPSTREAMS); starts a collection when it evicted.
  { name: "cache-eviction", cron: "hourly", options: {} },
  // Events left in the outbox for over a minute are sent again (worker/events/outbox-sweep.ts).
  { name: "event-outbox", cron: "* * * * *", options: {} },
  // Listings and copies stuck for over 25 minutes are sent again (worker/replication/scheduled.ts).
  { name: "replication-sweep", cron: "*/5 * * * *", options: {} },
];

/** The kind a schedule's name runs: the name, or its part up to and including the first ":". */
export function jobKind(name: string): string {
  const colon = name.indexOf(":");
  return colon === -1 ? name : name.slice(0, colon + 1);
}

/** The job a schedule's name runs, or null when no kind matches it. */
export function jobFor(name: string): ScheduledJob | null {
  const kind = jobKind(name);
  return Object.hasOwn(SCHEDULED_JOBS, kind) ? SCHEDULED_JOBS[kind]! : null;
}

/** The kinds, as a message shows them: "audit-purge, retention:<target>". */
export function knownJobKinds(): string {
  return Object.keys(SCHEDULED_JOBS)
    .map((kind) => (kind.endsWith(":") ? `${kind}<target>` : kind))
    .join(", ");
}
