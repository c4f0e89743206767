// The retention API (PUT/GET/DELETE /api/v1/projects/{p}/retention, …/retention/runs): the
// policy's shape and checks, who may read and change it, its schedule (the job
// "retention:<project>" run by the scheduler), and a run's bounds.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { runRetention } from "../../worker/lifecycle/retention";
import { runDueSchedules } from "../../worker/lifecycle/scheduler";
import { database } from "../../worker/storage/db/client";
import { findProject } from "../../worker/storage/db/queries/principals";
import { findSchedule } from "../../worker/storage/db/queries/schedules";
import { api, apiJson, apiProject, auditOf, expectError, member, newUser } from "../helpers/management";
import { expectNoServerErrors, pushImage } from "../helpers/registry";
import { manifestStatus, rule, runNow, setPolicy, setPushedAt } from "../helpers/retention";

const db = database(env.DB);
const MINUTE = 60_000;
const waitUntil = (promise: Promise<unknown>) => void promise;

// A client mistake is never answered 5xx.
expectNoServerErrors();

describe("the policy", () => {
  it("is empty for a project that never had one", async () => {
    const project = await apiProject();
    expect(await apiJson(`/projects/${project}/retention`)).toEqual({ project, rules: [], schedule: null, updatedAt: null });
  });

  it("is stored with its defaults filled in, shown by GET, audited, and removed by DELETE", async () => {
    const project = await apiProject();
    const rules = [{ template: "latestPushed", n: 10, repositories: { include: ["**"] }, tags: { include: ["v*"], exclude: ["v0*"] } }];
    const stored = await setPolicy(project, rules);
    const expected = [{ template: "latestPushed", n: 10, repositories: { include: ["**"], exclude: [] }, tags: { include: ["v*"], exclude: ["v0*"] }, untagged: true }];
    expect(stored).toMatchObject({ project, rules: expected, schedule: null, updatedAt: expect.any(String) });
    expect(await apiJson(`/projects/${project}/retention`)).toEqual(stored);
    expect((await auditOf({ project }))[0]).toMatchObject({ action: "retention.set", resource: project, result: "success" });

    expect((await api(`/projects/${project}/retention`, { method: "DELETE" })).status).toBe(204);
    expect(await apiJson(`/projects/${project}/retention`)).toMatchObject({ rules: [], updatedAt: null });
  });

  for (const [what, body] of [
    ["rules that are not a list", { rules: "latestPushed" }],
    ["a rule with n for a count template missing", { rules: [rule("latestPushed", null)] }],
    ["a rule with a negative n", { rules: [rule("daysSinceLastPull", -1)] }],
    ["a rule with an unknown template", { rules: [rule("oldest", 1)] }],
    ["a schedule cron does not parse", { rules: [], schedule: "every day" }],
    ["a schedule that is not a string", { rules: [], schedule: 5 }],
    ["an unknown field", { rules: [], schedul: "daily" }],
    ["a body that is not an object", [1, 2]],
    ["a body that is not JSON", "{rules:"],
  ] as const) {
    it(`refuses ${what} with 400 INVALID_REQUEST`, async () => {
      const project = await apiProject();
      await expectError(await api(`/projects/${project}/retention`, { method: "PUT", body: body as unknown }), 400, "INVALID_REQUEST");
    });
  }
});

describe("who may use it", () => {
  it("lets a developer read the policy and runs, but not change it or run it: 403", async () => {
    const project = await apiProject();
    const developer = await member(project, "developer");
    await setPolicy(project, [rule("always", null)]);
    expect(await apiJson(`/projects/${project}/retention`, { as: developer })).toMatchObject({ rules: [{ template: "always" }] });
    expect(await apiJson(`/projects/${project}/retention/runs`, { as: developer })).toEqual({ items: [] });
    await expectError(await api(`/projects/${project}/retention`, { method: "PUT", body: { rules: [] }, as: developer }), 403, "DENIED");
    await expectError(await api(`/projects/${project}/retention/runs`, { body: { dryRun: true }, as: developer }), 403, "DENIED");
    await expectError(await api(`/projects/${project}/retention`, { method: "DELETE", as: developer }), 403, "DENIED");
    expect((await auditOf({ project, action: "retention.set" }))[0]).toMatchObject({ principal: developer.username, result: "denied" });
  });

  it("answers an outsider 404, as if the project did not exist", async () => {
    const project = await apiProject();
    const outsider = await newUser();
    await expectError(await api(`/projects/${project}/retention`, { as: outsider }), 404, "NAME_UNKNOWN");
    await expectError(await api(`/projects/${project}/retention`, { method: "PUT", body: { rules: [] }, as: outsider }), 404, "NAME_UNKNOWN");
    await expectError(await api(`/projects/${project}/retention/runs`, { body: {}, as: outsider }), 404, "NAME_UNKNOWN");
  });

  it("lets a project admin set the policy and run it, audited as retention.run", async () => {
    const project = await apiProject();
    const admin = await member(project, "projectAdmin");
    await setPolicy(project, [rule("always", null)], null, admin);
    const run = await runNow(project, true, admin);
    expect((await auditOf({ project, action: "retention.run" }))[0]).toMatchObject({ principal: admin.username, resource: `retention/${run.id}` });
  });

  it("refuses a run whose dryRun is not a boolean, or whose body is not a JSON object: 400", async () => {
    const project = await apiProject();
    await expectError(await api(`/projects/${project}/retention/runs`, { body: { dryRun: "yes" } }), 400, "INVALID_REQUEST");
    await expectError(await api(`/projects/${project}/retention/runs`, { body: "dryRun=true" }), 400, "INVALID_REQUEST");
    expect(await apiJson(`/projects/${project}/retention/runs`)).toEqual({ items: [] });
  });

  it("answers an unknown run 404", async () => {
    const project = await apiProject();
    await expectError(await api(`/projects/${project}/retention/runs/nope`), 404, "NAME_UNKNOWN");
  });
});

describe("the schedule", () => {
  it("is the schedule retention:<project>, made, changed and removed with the policy", async () => {
    const project = await apiProject();
    const name = `retention:${project}`;
    await setPolicy(project, [rule("always", null)], "daily");
    expect(await findSchedule(db, name)).toMatchObject({ cron: "daily", enabled: true, options: "{}" });
    await setPolicy(project, [rule("always", null)], "30 2 * * 1");
    expect(await findSchedule(db, name)).toMatchObject({ cron: "30 2 * * 1" });
    await setPolicy(project, [rule("always", null)], null);
    expect(await findSchedule(db, name)).toBeNull();
    await setPolicy(project, [rule("always", null)], "hourly");
    expect((await api(`/projects/${project}/retention`, { method: "DELETE" })).status).toBe(204);
    expect(await findSchedule(db, name)).toBeNull();
  });

  it("runs the policy when the scheduler finds it due", async () => {
    const project = await apiProject();
    const repository = `${project}/app`;
    const old = await pushImage(repository, "old", { seed: 1 });
    await pushImage(repository, "new", { seed: 2 });
    await setPushedAt(repository, old.digest, Date.now() - MINUTE);
    await setPolicy(project, [rule("latestPushed", 1)], "hourly");
    const now = Math.floor(Date.now() / MINUTE) * MINUTE;
    await env.DB.prepare("UPDATE schedules SET next_run_at = ? WHERE name = ?").bind(now - MINUTE, `retention:${project}`).run();

    const outcomes = await runDueSchedules(env, now, waitUntil);

    expect(outcomes).toContainEqual({ name: `retention:${project}`, result: expect.stringMatching(/^ok: run .*: removed 1 manifests, 2 artifacts examined$/) });
    expect(await manifestStatus(repository, "old")).toBe(404);
    expect(await manifestStatus(repository, "new")).toBe(200);
    const { items } = await apiJson<{ items: { trigger: string; removed: number }[] }>(`/projects/${project}/retention/runs`);
    expect(items[0]).toMatchObject({ trigger: "schedule", removed: 1 });
  });

  it("continues after the repository its options name (where the last run stopped), then starts over", async () => {
    const project = await apiProject();
    const name = `retention:${project}`;
    for (const repository of [`${project}/a`, `${project}/b`]) {
      const old = await pushImage(repository, "old", { seed: 1 });
      await pushImage(repository, "new", { seed: 2 });
      await setPushedAt(repository, old.digest, Date.now() - MINUTE);
    }
    await setPolicy(project, [rule("latestPushed", 1)], "hourly");
    const now = Math.floor(Date.now() / MINUTE) * MINUTE;
    await env.DB.prepare("UPDATE schedules SET next_run_at = ?, options = ? WHERE name = ?")
      .bind(now - MINUTE, JSON.stringify({ after: `${project}/a` }), name)
      .run();

    await runDueSchedules(env, now, waitUntil);

    expect(await manifestStatus(`${project}/a`, "old")).toBe(200);
    expect(await manifestStatus(`${project}/b`, "old")).toBe(404);
    expect(await findSchedule(db, name)).toMatchObject({ options: "{}", lastResult: expect.stringMatching(/^ok: /) });
  });

  it("goes with its project", async () => {
    const project = await apiProject();
    await setPolicy(project, [rule("always", null)], "daily");
    expect((await api(`/projects/${project}`, { method: "DELETE" })).status).toBe(204);
    expect(await findSchedule(db, `retention:${project}`)).toBeNull();
    expect(await env.DB.prepare("SELECT 1 FROM retention_policies WHERE project = ?").bind(project).first()).toBeNull();
  });
});

describe("a run's bounds", () => {
  it("stops at a repository boundary past maxArtifacts, and the next run continues after it", async () => {
    const project = await apiProject();
    for (const name of ["a", "b"]) {
      for (const tag of ["v1", "v2"]) await pushImage(`${project}/${name}`, tag, { seed: tag === "v1" ? 1 : 2 });
    }
    await setPolicy(project, [rule("always", null, { tags: { include: ["v2"], exclude: [] }, untagged: false })]);
    const row = (await findProject(db, project))!;
    const bounds = { maxArtifacts: 2, maxCalls: 40, maxMs: 20_000 };

    const first = await runRetention(env, row, { dryRun: true, trigger: "manual", after: null }, Date.now(), bounds);
    expect(first.end).toEqual({ complete: false, resumeAfter: `${project}/a` });
    expect(first.run).toMatchObject({ status: "succeeded", examined: 2, removed: 1, error: expect.stringContaining(`after "${project}/a"`) });

    const second = await runRetention(env, row, { dryRun: true, trigger: "manual", after: `${project}/a` }, Date.now(), bounds);
    expect(second.end).toEqual({ complete: true });
    expect(second.items.map((item) => item.repository)).toEqual([`${project}/b`]);
  });

  it("leaves a repository larger than a run judges alone, with a note", async () => {
    const project = await apiProject();
    for (const tag of ["v1", "v2", "v3"]) await pushImage(`${project}/big`, tag, { seed: Number(tag.slice(1)) });
    await pushImage(`${project}/small`, "v1", { seed: 1 });
    await setPolicy(project, [rule("latestPushed", 1, { untagged: false, tags: { include: ["none"], exclude: [] } })]);
    const row = (await findProject(db, project))!;

    const { run, end } = await runRetention(env, row, { dryRun: false, trigger: "manual", after: null }, Date.now(), { maxArtifacts: 2, maxCalls: 40, maxMs: 20_000 });

    expect(end).toEqual({ complete: true });
    expect(run).toMatchObject({ examined: 1, removed: 1, error: `${project}/big holds more than 2 artifacts, more than one run judges: left alone` });
    expect(await manifestStatus(`${project}/big`, "v1")).toBe(200);
    expect(await manifestStatus(`${project}/small`, "v1")).toBe(404);
  });
});
