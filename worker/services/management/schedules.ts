// The lifecycle schedules (worker/lifecycle/scheduler.ts) as the management API shows and
// changes them, for system admins only: a schedule decides when the whole registry's storage is
// swept or purged. Changes and deletions are audited as `schedule.set` / `schedule.delete`.
import type { Bindings } from "../../env";
import { RegistryError } from "../../errors";
import { nextRunAfter, parseSchedule, ScheduleError } from "../../lifecycle/cron";
import { DEFAULT_SCHEDULES, jobFor, knownJobKinds } from "../../lifecycle/scheduled-jobs";
import { database } from "../../storage/db/client";
import { deleteSchedule as deleteScheduleRow, listSchedules as listScheduleRows, putSchedule, type ScheduleRow } from "../../storage/db/queries/schedules";
import type { Actor } from "./actor";
import { audit } from "./audit-trail";
import { requireSystemAdmin } from "./guard";
import { type Body, invalid, parseFlag, parseObject } from "./inputs";

export interface ScheduleView {
  name: string;
  cron: string;
  options: unknown;
  enabled: boolean;
  nextRunAt: string;
  lastRunAt: string | null;
  /** "running", "ok: <summary>" or "failed: <message>"; null before the first run. */
  lastResult: string | null;
}

// A kind (lowercase words joined by "-"), then optionally ":" and a target such as a project.
const SCHEDULE_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*(?::[a-z0-9._-]{1,200})?$/;

export async function listSchedules(env: Bindings, actor: Actor): Promise<{ items: ScheduleView[] }> {
  await requireSystemAdmin(env, actor, { action: "schedule.list", resource: "schedules", project: null }, "read the schedules");
  const rows = await listScheduleRows(database(env.DB));
  return { items: rows.map(scheduleView) };
}

/**
 * Creates or changes the schedule `name` from a PUT body: "cron" always, "enabled" and "options"
 * when given (a change keeps the ones left out). Its next run is computed from now.
 */
export async function setSchedule(env: Bindings, actor: Actor, name: string, body: Body, now: number): Promise<ScheduleView> {
  const entry = { action: "schedule.set", resource: name, project: null };
  await requireSystemAdmin(env, actor, entry, "change schedules");
  checkName(name);
  const { cron, nextRunAt } = parseCron(body.cron, now);
  const row = await putSchedule(database(env.DB), {
    name,
    cron,
    nextRunAt,
    ...(body.enabled !== undefined && { enabled: parseFlag(body, "enabled") }),
    ...(body.options !== undefined && { options: JSON.stringify(parseObject(body.options, '"options"')) }),
  });
  await audit(env, actor, entry);
  return scheduleView(row);
}

export async function deleteSchedule(env: Bindings, actor: Actor, name: string): Promise<void> {
  const entry = { action: "schedule.delete", resource: name, project: null };
  await requireSystemAdmin(env, actor, entry, "delete schedules");
  if (DEFAULT_SCHEDULES.some((schedule) => schedule.name === name)) {
    throw invalid(`"${name}" is one of Pier's own schedules and would be created again: disable it instead (PUT with "enabled": false)`);
  }
  if (!(await deleteScheduleRow(database(env.DB), name))) throw new RegistryError("NAME_UNKNOWN", `no schedule is named "${name}"`);
  await audit(env, actor, entry);
}

/** A schedule expression from a body's `field`, and its first run after `now`; 400 when it does not parse. */
export function parseCron(value: unknown, now: number, field = "cron"): { cron: string; nextRunAt: number } {
  if (typeof value !== "string") throw invalid(`"${field}" must be a string: "hourly", "daily", "weekly" or five cron fields (UTC)`);
  try {
    return { cron: value, nextRunAt: nextRunAfter(parseSchedule(value), now) };
  } catch (error) {
    if (error instanceof ScheduleError) throw invalid(`"${field}": ${error.message}`);
    throw error;
  }
}

function checkName(name: string): void {
  if (!SCHEDULE_NAME.test(name)) throw invalid(`"${name.slice(0, 100)}" is not a schedule name: a job kind such as "audit-purge", or a kind and a target such as "retention:team"`);
  if (jobFor(name) === null) throw invalid(`no job kind runs a schedule named "${name}"; the kinds are: ${knownJobKinds()}`);
}

function scheduleView(row: ScheduleRow): ScheduleView {
  return {
    name: row.name,
    cron: row.cron,
    options: JSON.parse(row.options) as unknown,
    enabled: row.enabled,
    nextRunAt: new Date(row.nextRunAt).toISOString(),
    lastRunAt: row.lastRunAt === null ? null : new Date(row.lastRunAt).toISOString(),
    lastResult: row.lastResult,
  };
}
