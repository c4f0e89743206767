// The scheduler: a Cron Trigger (wrangler.toml [triggers], every minute) only wakes it; what
// runs when is in D1 (`schedules`), changed through /api/v1/system/schedules without a deploy.
// Each invocation creates the default schedules that are absent, reads the ones due, and for
// each claims it (compare-and-set on next_run_at, so overlapping invocations never start a
// job twice), runs its job (scheduled-jobs.ts) and records "ok: <summary>" or "failed: <why>".
// One job's failure never stops the others. A schedule missed while nothing ran (an outage)
// runs once, not once per missed time: its next time is computed from now.
import type { Bindings, WaitUntil } from "../env";
import { database, type Database } from "../storage/db/client";
import { claimSchedule, recordScheduleResult, type ScheduleRow, type ScheduleSeed, seedAndListDue } from "../storage/db/queries/schedules";
import { nextRunAfter, parseSchedule } from "./cron";
import { DEFAULT_SCHEDULES, jobFor, jobKind, knownJobKinds } from "./scheduled-jobs";

/**
 * Schedules started per invocation at most; the rest stay due and start a minute later. Jobs
 * share the invocation's subrequests (50 on the Free plan), so a hundred projects' retention
 * schedules all due at midnight are spread over the following minutes, not run at once.
 */
export const MAX_JOBS_PER_INVOCATION = 5;
const MINUTE = 60_000;
/** A stored expression that no longer parses is retried this much later, not every minute. */
const RETRY_BROKEN_SCHEDULE = 86_400_000;
/** last_result is for a person to read; a stack-sized message stops here. */
const MAX_RESULT_LENGTH = 1_000;

export interface ScheduleOutcome {
  name: string;
  /** As recorded in last_result: "ok: <summary>" or "failed: <message>". */
  result: string;
}

/**
 * Runs what is due at `now` (ms; the Cron Trigger's scheduledTime), one job after another, and
 * returns what this invocation ran (not what another invocation claimed first).
 */
export async function runDueSchedules(env: Bindings, now: number, waitUntil: WaitUntil): Promise<ScheduleOutcome[]> {
  const db = database(env.DB);
  const due = await seedAndListDue(db, defaultSeeds(now), now, MAX_JOBS_PER_INVOCATION);
  const outcomes: ScheduleOutcome[] = [];
  for (const row of due) {
    try {
      const outcome = await runSchedule(env, db, row, now, waitUntil);
      if (outcome !== null) outcomes.push(outcome);
    } catch (error) {
      // The claim itself failed (D1): this schedule stays due, the next ones are still tried.
      console.error(`Pier: scheduled job "${row.name}" could not be started:`, error);
    }
  }
  return outcomes;
}

function defaultSeeds(now: number): ScheduleSeed[] {
  return DEFAULT_SCHEDULES.map(({ name, cron, options }) => ({ name, cron, options: JSON.stringify(options), nextRunAt: nextRunAfter(parseSchedule(cron), now) }));
}

async function runSchedule(env: Bindings, db: Database, row: ScheduleRow, now: number, waitUntil: WaitUntil): Promise<ScheduleOutcome | null> {
  let next: number;
  let broken: unknown = null;
  try {
    next = nextRunAfter(parseSchedule(row.cron), now);
  } catch (error) {
    // Only the API writes schedules, and it checks them; this is a row written some other way.
    broken = error;
    next = now + RETRY_BROKEN_SCHEDULE;
  }
  const claimed = await claimSchedule(db, row.name, row.nextRunAt, next, now);
  if (claimed === null) return null;
  let runAgainBy: number | null = null;
  let result: string;
  try {
    if (broken !== null) throw broken;
    const job = jobFor(claimed.name);
    if (job === null) throw new Error(`no job kind "${jobKind(claimed.name)}" (known: ${knownJobKinds()})`);
    const options: unknown = JSON.parse(claimed.options);
    const run = { name: claimed.name, waitUntil, runAgain: () => void (runAgainBy = now + MINUTE) };
    result = `ok: ${await job(env, options, now, run)}`;
  } catch (error) {
    console.error(`Pier: scheduled job "${claimed.name}" failed:`, error);
    result = `failed: ${error instanceof Error ? error.message : String(error)}`;
  }
  result = result.length > MAX_RESULT_LENGTH ? `${result.slice(0, MAX_RESULT_LENGTH - 1)}…` : result;
  try {
    await recordScheduleResult(db, claimed.name, now, result, runAgainBy);
  } catch (error) {
    // The job ran; only its record is missing (the row keeps "running"). The others still run.
    console.error(`Pier: recording the result of scheduled job "${claimed.name}" (${result}) failed:`, error);
  }
  return { name: claimed.name, result };
}
