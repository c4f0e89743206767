// Retention runs: a project's policy (rules with Harbor's meanings, retention-rules.ts) applied
// to its artifacts, on request (POST /api/v1/projects/{p}/retention/runs) or on the policy's
// schedule (the job "retention:<project>"). A dry run judges the same and removes nothing.
//
// - Removing an artifact removes its manifest and tags, then its children that no remaining
//   manifest lists and that carry no tag, and its referrers, recursively (retention-scan.ts);
//   each is re-checked as it is deleted (worker/storage/db/queries/retention-artifacts.ts), so an
//   artifact whose tags or push time changed since it was judged stays. Garbage collection frees
//   the bytes later. Children and referrers are items of the run like their artifact, and count
//   in `removed`; `examined` counts artifacts (top-level manifests) judged.
// - A run is synchronous and bounded (DEFAULT_RETENTION_BOUNDS): it judges up to 10,000
//   artifacts, whole repositories at a time, within a budget of D1 calls (each a subrequest:
//   50 per invocation on the Free plan). A larger project is finished by its schedule: a
//   scheduled run that stops at its bounds keeps its place in the schedule's options
//   ({"after": "<repository>"}) and asks to run again a minute later. A run on request always
//   starts from the first repository and says where it stopped.
// - At most MAX_RECORDED_ITEMS items are recorded per run; `examined` and `removed` stay exact.
// - Runs of one project may overlap (a schedule and a request): every deletion re-checks, so
//   each manifest is removed, and counted, by one of them.
import type { Bindings } from "../env";
import { emitEvent } from "../events/events";
import { database } from "../storage/db/client";
import { findProject, type ProjectRow } from "../storage/db/queries/principals";
import { findPolicy, finishRun, type RetentionRunRow, startRun } from "../storage/db/queries/retention";
import { setScheduleOptions } from "../storage/db/queries/schedules";
import { immutableTagsOf, rulesOf } from "./immutability";
import { RetentionScan, type RunItem, type ScanEnd } from "./retention-scan";
import type { RetentionRule } from "./retention-rules";
import type { ScheduledJob } from "./scheduled-jobs";
import { StepBudget } from "./step-budget";

export interface RetentionBounds {
  /** Artifacts judged per run (whole repositories: a run stops before one that would pass it). */
  maxArtifacts: number;
  /**
   * D1 calls per run: under the Free plan's 50 subrequests with room for the request's own
   * (sign-in, project, policy, the run's record, audit). A repository of 10,000 artifacts costs
   * about 31: 11 pages listed, then a family query and a removal batch per 1,000 removed.
   */
  maxCalls: number;
  /** Wall time per run; CPU time is a fraction of it (a run mostly waits on D1). */
  maxMs: number;
}

export const DEFAULT_RETENTION_BOUNDS: RetentionBounds = { maxArtifacts: 10_000, maxCalls: 35, maxMs: 20_000 };
/** A run still "running" after this long was cut off with its invocation (Workers' limits end it well before). */
const STALE_RUN_MS = 3_600_000;
export const SCHEDULE_PREFIX = "retention:";

export interface RetentionRequest {
  dryRun: boolean;
  trigger: "manual" | "schedule";
  /** Continue after this repository (a scheduled run resuming); null: from the first. */
  after: string | null;
}

export interface RetentionResult {
  run: RetentionRunRow;
  /** What it recorded (at most MAX_RECORDED_ITEMS). */
  items: RunItem[];
  end: ScanEnd;
}

/** The schedule that runs the project's policy. */
export function retentionScheduleName(project: string): string {
  return `${SCHEDULE_PREFIX}${project}`;
}

/** Runs the project's policy (none: nothing is judged) at `now`, and records the run. */
export async function runRetention(env: Bindings, project: ProjectRow, request: RetentionRequest, now: number, bounds = DEFAULT_RETENTION_BOUNDS): Promise<RetentionResult> {
  const db = database(env.DB);
  const policy = await findPolicy(db, project.name);
  const rules = policy === null ? [] : (JSON.parse(policy.rules) as RetentionRule[]);
  const run = await startRun(db, { id: crypto.randomUUID(), project: project.name, dryRun: request.dryRun, trigger: request.trigger, startedAt: now }, now - STALE_RUN_MS);
  let scan: RetentionScan | null = null;
  let end: ScanEnd = { complete: true };
  let error: string | null = null;
  try {
    const immutableRules = rulesOf(project);
    scan = new RetentionScan(
      env,
      db,
      { project: project.name, run: run.id, dryRun: request.dryRun, rules, immutableTags: (repository, tags) => immutableTagsOf(immutableRules, repository, tags), now, maxArtifacts: bounds.maxArtifacts },
      new StepBudget(bounds.maxCalls, bounds.maxMs),
    );
    if (rules.length > 0) end = await scan.walk(request.after);
  } catch (caught) {
    console.error(`Pier: retention run ${run.id} of project "${project.name}" failed:`, caught);
    error = caught instanceof Error ? caught.message : String(caught);
  }
  const notes = [...(scan?.notes ?? [])];
  if (!end.complete) notes.push(`stopped at this run's bounds; the repositories after ${end.resumeAfter === null ? "none" : `"${end.resumeAfter}"`} were not judged`);
  const finished = await finishRun(db, run.id, {
    status: error === null ? "succeeded" : "failed",
    examined: scan?.examined ?? 0,
    removed: scan?.removed ?? 0,
    // A succeeded run's "error" is a note: what it left for the next run.
    error: error ?? (notes.length > 0 ? notes.join("; ") : null),
    finishedAt: Date.now(),
  });
  const ended = finished ?? run;
  // A TAG_RETENTION event for the project's webhooks (worker/events); it never fails the run.
  await emitEvent(env, null, {
    type: "TAG_RETENTION",
    project: project.name,
    data: { runId: ended.id, dryRun: request.dryRun, trigger: request.trigger, status: ended.status, examined: ended.examined, removed: ended.removed, error: ended.error },
  });
  return { run: ended, items: scan?.items ?? [], end };
}

/**
 * The job "retention:<project>" (the schedule a policy with a schedule creates). Options:
 * {"after": "<repository>"}, where the last run stopped, kept by the job itself.
 */
export const retentionJob: ScheduledJob = async (env, options, now, job) => {
  const name = job.name.slice(SCHEDULE_PREFIX.length);
  const db = database(env.DB);
  const project = await findProject(db, name);
  if (project === null) throw new Error(`there is no project "${name}"; delete this schedule`);
  const { after } = (options ?? {}) as { after?: unknown };
  const resumeFrom = typeof after === "string" && after.startsWith(`${name}/`) ? after : null;
  const { run, end } = await runRetention(env, project, { dryRun: false, trigger: "schedule", after: resumeFrom }, now);
  if (run.status === "failed") throw new Error(`run ${run.id}: ${run.error}`);
  const resumeAfter = end.complete ? null : end.resumeAfter;
  if (resumeAfter !== resumeFrom) await setScheduleOptions(db, job.name, JSON.stringify(resumeAfter === null ? {} : { after: resumeAfter }));
  // A run that stopped without finishing one repository would stop there again a minute later:
  // it waits for its next time instead (its note says why).
  if (!end.complete && resumeAfter !== resumeFrom) job.runAgain();
  const rest = end.complete ? "" : `; stopped at its bounds, continuing after ${resumeAfter ?? "the start"}`;
  return `run ${run.id}: removed ${run.removed} manifests, ${run.examined} artifacts examined${rest}`;
};
