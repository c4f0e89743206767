// worker/lifecycle/scheduler.ts: what a cron invocation runs, how it records it, and that two
// overlapping invocations never start one job twice. The jobs here are test kinds registered in
// SCHEDULED_JOBS for this file; the last test calls the Worker's own `scheduled` handler, as
// a Cron Trigger does (the pool's SELF cannot be handed a ScheduledController).
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import worker from "../../worker/index";
import { nextRunAfter, parseSchedule } from "../../worker/lifecycle/cron";
import { type JobRun, SCHEDULED_JOBS } from "../../worker/lifecycle/scheduled-jobs";
import { MAX_JOBS_PER_INVOCATION, runDueSchedules } from "../../worker/lifecycle/scheduler";
import { database } from "../../worker/storage/db/client";
import { appendAudit } from "../../worker/storage/db/queries/audit";
import { deleteSchedule, findSchedule, putSchedule, type ScheduleRow } from "../../worker/storage/db/queries/schedules";
import { unique } from "../helpers/identities";

const db = database(env.DB);
const MINUTE = 60_000;
const DAY = 86_400_000;
/** A whole minute, as a Cron Trigger's scheduledTime is. */
const NOW = Math.floor(Date.now() / MINUTE) * MINUTE;

/** Every call of the test jobs: which schedule, with what options, at what time. */
const calls: { name: string; options: unknown; now: number }[] = [];
const waitUntil = (promise: Promise<unknown>) => void promise;

beforeAll(() => {
  SCHEDULED_JOBS["test-count:"] = async (_env, options, now, run: JobRun) => {
    calls.push({ name: run.name, options, now });
    if ((options as { again?: boolean }).again) run.runAgain();
    return `counted ${run.name}`;
  };
  SCHEDULED_JOBS["test-fail:"] = async (_env, _options, _now, run) => {
    throw new Error(`${run.name} broke`);
  };
});

afterAll(() => {
  delete SCHEDULED_JOBS["test-count:"];
  delete SCHEDULED_JOBS["test-fail:"];
});

/** The schedules each test made, deleted after it so that none is due in the next one. */
const made: string[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const name of made.splice(0)) await deleteSchedule(db, name);
});

async function schedule(kind: string, fields: { cron?: string; nextRunAt?: number; enabled?: boolean; options?: unknown } = {}): Promise<string> {
  const name = `${kind}:${unique("s")}`;
  made.push(name);
  const { cron = "hourly", nextRunAt = NOW - MINUTE, enabled, options } = fields;
  await putSchedule(db, { name, cron, nextRunAt, ...(enabled !== undefined && { enabled }), ...(options !== undefined && { options: JSON.stringify(options) }) });
  return name;
}

async function row(name: string): Promise<ScheduleRow> {
  return (await findSchedule(db, name))!;
}

const callsOf = (name: string) => calls.filter((call) => call.name === name);

describe("runDueSchedules", () => {
  it("runs a due schedule once, with its options, and moves it to its next time", async () => {
    const name = await schedule("test-count", { cron: "*/5 * * * *", options: { keep: 3 } });
    await runDueSchedules(env, NOW, waitUntil);
    expect(callsOf(name)).toEqual([{ name, options: { keep: 3 }, now: NOW }]);
    expect(await row(name)).toMatchObject({ lastRunAt: NOW, lastResult: `ok: counted ${name}`, nextRunAt: nextRunAfter(parseSchedule("*/5 * * * *"), NOW) });
    await runDueSchedules(env, NOW, waitUntil);
    expect(callsOf(name)).toHaveLength(1);
  });

  it("runs a schedule missed many times once, next at its first time after now", async () => {
    const name = await schedule("test-count", { cron: "hourly", nextRunAt: NOW - 30 * DAY });
    await runDueSchedules(env, NOW, waitUntil);
    expect(callsOf(name)).toHaveLength(1);
    expect((await row(name)).nextRunAt).toBe(nextRunAfter(parseSchedule("hourly"), NOW));
  });

  it("leaves a schedule that is not due yet, or disabled", async () => {
    const later = await schedule("test-count", { nextRunAt: NOW + MINUTE });
    const disabled = await schedule("test-count", { enabled: false });
    await runDueSchedules(env, NOW, waitUntil);
    expect(callsOf(later)).toEqual([]);
    expect(callsOf(disabled)).toEqual([]);
    expect(await row(later)).toMatchObject({ lastRunAt: null, nextRunAt: NOW + MINUTE });
  });

  it("starts a job once when two invocations overlap", async () => {
    const name = await schedule("test-count");
    const [first, second] = await Promise.all([runDueSchedules(env, NOW, waitUntil), runDueSchedules(env, NOW, waitUntil)]);
    expect(callsOf(name)).toHaveLength(1);
    expect([...first, ...second].filter((outcome) => outcome.name === name)).toEqual([{ name, result: `ok: counted ${name}` }]);
  });

  it("records a failing job as failed, logs it by name, and still runs the others", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const failing = await schedule("test-fail", { nextRunAt: NOW - 2 * MINUTE });
    const fine = await schedule("test-count");
    await runDueSchedules(env, NOW, waitUntil);
    expect((await row(failing)).lastResult).toBe(`failed: ${failing} broke`);
    expect(error).toHaveBeenCalledWith(expect.stringContaining(`"${failing}"`), expect.any(Error));
    expect(callsOf(fine)).toHaveLength(1);
    expect((await row(fine)).lastResult).toBe(`ok: counted ${fine}`);
  });

  it("records a schedule no job kind runs as failed, naming the kinds there are", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const name = await schedule("test-nothing");
    const outcomes = await runDueSchedules(env, NOW, waitUntil);
    expect(outcomes).toContainEqual({ name, result: expect.stringMatching(/^failed: no job kind "test-nothing:" \(known: .*audit-purge/) });
    expect((await row(name)).nextRunAt).toBeGreaterThan(NOW);
  });

  it("brings the next run forward to the next minute when the job asks to run again", async () => {
    const name = await schedule("test-count", { cron: "daily", options: { again: true } });
    await runDueSchedules(env, NOW, waitUntil);
    expect((await row(name)).nextRunAt).toBe(NOW + MINUTE);
    await runDueSchedules(env, NOW + MINUTE, waitUntil);
    expect(callsOf(name)).toHaveLength(2);
  });

  it(`starts at most ${MAX_JOBS_PER_INVOCATION} jobs per invocation, the longest overdue first, and the rest in the next`, async () => {
    const names = [];
    for (let index = 0; index <= MAX_JOBS_PER_INVOCATION; index++) names.push(await schedule("test-count", { nextRunAt: NOW - (index + 10) * MINUTE }));
    await runDueSchedules(env, NOW, waitUntil);
    expect(names.map((name) => callsOf(name).length)).toEqual([...Array(MAX_JOBS_PER_INVOCATION).fill(1), 0].reverse());
    await runDueSchedules(env, NOW, waitUntil);
    expect(names.every((name) => callsOf(name).length === 1)).toBe(true);
  });

  it("creates the default audit-purge schedule, daily, and leaves a changed one alone", async () => {
    await runDueSchedules(env, NOW, waitUntil);
    expect(await row("audit-purge")).toMatchObject({ cron: "daily", enabled: true });
    await putSchedule(db, { name: "audit-purge", cron: "weekly", nextRunAt: NOW + DAY });
    await runDueSchedules(env, NOW, waitUntil);
    expect(await row("audit-purge")).toMatchObject({ cron: "weekly", nextRunAt: NOW + DAY });
  });
});

describe("the Worker's scheduled handler", () => {
  it("runs the due audit purge when the Cron Trigger fires", async () => {
    const at = NOW + 2 * MINUTE;
    const [old, recent] = [unique("purge-old"), unique("purge-recent")];
    const record = { principal: "admin", action: "test.scheduled", project: null, result: "success" as const, ip: null };
    await appendAudit(db, [
      { ...record, at: at - 400 * DAY, resource: old },
      { ...record, at: at - DAY, resource: recent },
    ]);
    await putSchedule(db, { name: "audit-purge", cron: "daily", nextRunAt: at });
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: new Date(at), cron: "* * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await row("audit-purge")).toMatchObject({ lastRunAt: at, lastResult: expect.stringMatching(/^ok: deleted [1-9]\d* audit records older than /) });
    const left = await env.DB.prepare("SELECT resource FROM audit_logs WHERE action = 'test.scheduled'").all<{ resource: string }>();
    expect(left.results.map((item) => item.resource)).toEqual([recent]);
  });
});
