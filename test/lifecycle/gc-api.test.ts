// The garbage collection API (issue 10): shapes, one run at a time, stop, who may use it, and
// the "gc" schedule.
import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { runDueSchedules } from "../../worker/lifecycle/scheduler";
import { collect, finishGc, type GcRunView, startGc } from "../helpers/gc";
import { api, apiJson, apiProject, expectError, member } from "../helpers/management";

/** Enough empty repositories that a run takes several steps (each repository costs D1 calls). */
async function seedRepositories(count: number): Promise<void> {
  const prefix = `seed${crypto.randomUUID().slice(0, 6)}`;
  const statements = Array.from({ length: count }, (_, index) => env.DB.prepare("INSERT INTO repositories (name) VALUES (?)").bind(`${prefix}/repo-${index}`));
  await env.DB.batch(statements);
}

// Runs over 300 seeded repositories take a few seconds on a loaded machine.
const SLOW = { timeout: 60_000 };

describe("POST /api/v1/system/gc", () => {
  it("answers 202 with the run's id and Location, and GET shows the finished run", async () => {
    const response = await api("/system/gc", { body: { dryRun: true, deleteUntagged: false } });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    expect(response.headers.get("Location")).toBe(`/api/v1/system/gc/${id}`);
    const run = await finishGc(id);
    expect(run).toMatchObject({ id, status: "succeeded", dryRun: true, deleteUntagged: false, trigger: "manual", requestedBy: "admin", phase: "done" });
    for (const field of ["manifestsDeleted", "blobsDeleted", "bytesFreed", "steps"] as const) expect(typeof run[field]).toBe("number");
    expect(Date.parse(run.startedAt)).toBeLessThanOrEqual(Date.parse(run.finishedAt!));
  });

  it("refuses a second run while one is running: 409 CONFLICT naming it", SLOW, async () => {
    await seedRepositories(300);
    const id = await startGc();
    const message = await expectError(await api("/system/gc", { body: {} }), 409, "CONFLICT");
    expect(message).toContain(id);
    await finishGc(id);
    // Once it finished, the next one starts.
    await collect();
  });

  it("refuses options that are not booleans, and a body that is not an object", async () => {
    await expectError(await api("/system/gc", { body: { dryRun: "yes" } }), 400, "INVALID_REQUEST");
    await expectError(await api("/system/gc", { body: "[1]" }), 400, "INVALID_REQUEST");
  });
});

describe("GET /api/v1/system/gc", () => {
  it("lists runs newest first", SLOW, async () => {
    const first = (await collect({ dryRun: true })).id;
    const second = (await collect({ dryRun: true })).id;
    const { items } = await apiJson<{ items: GcRunView[] }>("/system/gc");
    const ids = items.map((run) => run.id);
    expect(ids.indexOf(second)).toBeLessThan(ids.indexOf(first));
  });

  it("answers 404 NAME_UNKNOWN for a run that does not exist", async () => {
    await expectError(await api("/system/gc/no-such-run"), 404, "NAME_UNKNOWN");
  });
});

describe("DELETE /api/v1/system/gc/{id}", () => {
  it("stops a running collection before its next step: status stopped, work left undone", SLOW, async () => {
    await seedRepositories(300);
    const id = await startGc();
    const response = await api(`/system/gc/${id}`, { method: "DELETE" });
    expect(response.status).toBe(202);
    const run = await finishGc(id);
    expect(run.status).toBe("stopped");
    expect(run.phase).toBe("done");
    // A stopped run frees the lock.
    await collect({ dryRun: true });
  });

  it("answers 400 for a run that is not running", async () => {
    const { id } = await collect({ dryRun: true });
    await expectError(await api(`/system/gc/${id}`, { method: "DELETE" }), 400, "INVALID_REQUEST");
  });
});

describe("who may collect", () => {
  it("only system admins: a project admin gets 403 DENIED, anonymous 401", async () => {
    const owner = await member(await apiProject(), "projectAdmin");
    await expectError(await api("/system/gc", { body: {}, as: owner }), 403, "DENIED");
    await expectError(await api("/system/gc", { as: owner }), 403, "DENIED");
    expect((await api("/system/gc", { body: {}, as: null })).status).toBe(401);
  });
});

describe("the gc schedule", () => {
  it("exists by default (weekly, untagged kept) and, when due, starts a collection", SLOW, async () => {
    const now = Date.now();
    await runDueSchedules(env, now, createExecutionContext().waitUntil.bind(createExecutionContext()));
    const { items } = await apiJson<{ items: { name: string; cron: string; options: unknown }[] }>("/system/schedules");
    expect(items.find((schedule) => schedule.name === "gc")).toMatchObject({ cron: "weekly", options: { deleteUntagged: false } });
    await env.DB.prepare("UPDATE schedules SET next_run_at = ? WHERE name = 'gc'").bind(now).run();
    const outcomes = await runDueSchedules(env, now + 1, () => {});
    const outcome = outcomes.find((entry) => entry.name === "gc");
    expect(outcome?.result).toMatch(/^ok: started garbage collection /);
    const id = outcome!.result.split(" ").at(-1)!;
    const run = await finishGc(id);
    expect(run).toMatchObject({ status: "succeeded", trigger: "schedule", deleteUntagged: false });
  });
});
