// Replication's scheduled jobs (worker/lifecycle/scheduled-jobs.ts):
// - "replication:<policy>": a scheduled policy's run. It starts an execution (trigger
//   "scheduled") unless the policy is disabled or one of its executions (manual or scheduled)
//   is still running: a slow mirror is not piled up on itself.
// - "replication-sweep" (a default schedule, every 5 minutes): nothing stays running forever
//   because a queue message was lost. For running executions older than STALE_MS it sends the
//   listing again (not listed yet), re-sends the messages of tasks queued or running for longer
//   than STALE_MS (a consumer lives at most 15 minutes), and dispatches (a task that ended
//   without dispatching leaves its execution's window short, or the execution unfinished). Each
//   re-send is idempotent: the listing adds nothing twice, a task is claimed only while queued
//   or running and its copy skips what is there. Bounded per run (SWEEP_EXECUTIONS, picked at
//   random among the candidates so that long executions do not hide the others).
import type { ScheduledJob } from "../lifecycle/scheduled-jobs";
import { database } from "../storage/db/client";
import { runningExecutionOf, staleRunningExecutions } from "../storage/db/queries/replication-executions";
import { findPolicy } from "../storage/db/queries/replication-policies";
import { resendStaleTasks } from "../storage/db/queries/replication-tasks";
import { dispatch, startExecution } from "./executions";
import { SCHEDULE_PREFIX } from "./policies";

/** Longer than a queue consumer may run (15 minutes) plus the longest wait Pier asks for (10). */
export const STALE_MS = 25 * 60_000;
/** Executions the sweep looks at per run: each costs a D1 batch and a queue send or two. */
export const SWEEP_EXECUTIONS = 10;
/** An execution running for longer than this is left alone by the sweep (stop it by hand). */
const SWEEP_WINDOW_MS = 7 * 86_400_000;
const STALE_TASKS_PER_RUN = 100;

export const replicationJob: ScheduledJob = async (env, _options, now, run) => {
  const name = run.name.slice(SCHEDULE_PREFIX.length);
  const db = database(env.DB);
  const policy = await findPolicy(db, name);
  if (policy === null) throw new Error(`no replication policy is named "${name}"; delete this schedule`);
  if (!policy.enabled) return `policy "${name}" is disabled; nothing started`;
  const running = await runningExecutionOf(db, name);
  if (running !== null) return `execution ${running.id} of policy "${name}" is still running; none started`;
  const execution = await startExecution(env, policy, "scheduled", now);
  return `started execution ${execution.id} of policy "${name}"`;
};

export const replicationSweepJob: ScheduledJob = async (env, _options, now) => {
  const db = database(env.DB);
  const stale = await staleRunningExecutions(db, now - SWEEP_WINDOW_MS, now - STALE_MS, SWEEP_EXECUTIONS);
  const unlisted = stale.filter(({ execution }) => !execution.listed);
  const listed = stale.filter(({ execution }) => execution.listed);
  if (unlisted.length > 0) await env.JOBS.sendBatch(unlisted.map(({ execution }) => ({ body: { kind: "replication-listing", executionId: execution.id } })));
  const tasks = await resendStaleTasks(
    db,
    listed.map(({ execution }) => execution.id),
    now - STALE_MS,
    STALE_TASKS_PER_RUN,
    now,
  );
  if (tasks.length > 0) await env.REPLICATION.sendBatch(tasks.map((taskId) => ({ body: { kind: "replication-task", taskId } })));
  for (const { execution, concurrency } of listed) await dispatch(env, execution.id, concurrency, now);
  return `listed ${unlisted.length} execution(s) again, re-sent ${tasks.length} task(s), dispatched ${listed.length} execution(s)`;
};
