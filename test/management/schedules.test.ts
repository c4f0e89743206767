// /api/v1/system/schedules: the lifecycle scheduler's schedules, read and changed by system
// admins only.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ScheduleView } from "../../worker/services/management/schedules";
import { database } from "../../worker/storage/db/client";
import { putSchedule } from "../../worker/storage/db/queries/schedules";
import { api, apiJson, auditOf, type Caller, expectError, newUser, unique } from "../helpers/management";

const put = (name: string, body: unknown, as: Caller = "admin") => api(`/system/schedules/${name}`, { method: "PUT", body, as });

/** A schedule of a kind no job runs, made in D1 directly (the API would refuse its name). */
async function storedSchedule(): Promise<string> {
  const name = `test-api:${unique("s")}`;
  await putSchedule(database(env.DB), { name, cron: "hourly", nextRunAt: Date.now() + 3_600_000 });
  return name;
}

describe("PUT /api/v1/system/schedules/{name}", () => {
  it("sets a schedule and answers it, with its next run from now", async () => {
    const body = await apiJson<ScheduleView>("/system/schedules/audit-purge", { method: "PUT", body: { cron: "weekly", options: { maxPages: 40 } } });
    expect(body).toMatchObject({ name: "audit-purge", cron: "weekly", options: { maxPages: 40 }, enabled: true });
    const next = new Date(body.nextRunAt);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(7 * 86_400_000);
    expect([next.getUTCDay(), next.getUTCHours(), next.getUTCMinutes()]).toEqual([0, 0, 0]);
  });

  it("keeps the options and enabled flag a change leaves out", async () => {
    await apiJson("/system/schedules/audit-purge", { method: "PUT", body: { cron: "daily", enabled: false, options: { pageSize: 100 } } });
    const body = await apiJson<ScheduleView>("/system/schedules/audit-purge", { method: "PUT", body: { cron: "0 4 * * *" } });
    expect(body).toMatchObject({ cron: "0 4 * * *", enabled: false, options: { pageSize: 100 } });
    expect(await apiJson("/system/schedules/audit-purge", { method: "PUT", body: { cron: "daily", enabled: true, options: {} } })).toMatchObject({ enabled: true, options: {} });
  });

  it("answers a bad cron expression with 400, naming the field", async () => {
    const message = await expectError(await put("audit-purge", { cron: "0 25 * * *" }), 400, "INVALID_REQUEST");
    expect(message).toContain('hour field "25"');
  });

  it("answers a schedule no job kind runs with 400, naming the kinds", async () => {
    const message = await expectError(await put("defrag", { cron: "daily" }), 400, "INVALID_REQUEST");
    expect(message).toMatch(/"defrag".*audit-purge/);
  });

  it.each([
    ["no cron", { enabled: true }],
    ["a cron that is not a string", { cron: 5 }],
    ["options that are not an object", { cron: "daily", options: [1] }],
    ["enabled that is not a boolean", { cron: "daily", enabled: "yes" }],
  ])("answers %s with 400", async (_, body) => {
    await expectError(await put("audit-purge", body), 400, "INVALID_REQUEST");
  });

  it("answers a name that is not a schedule name with 400", async () => {
    await expectError(await put("Audit%20Purge", { cron: "daily" }), 400, "INVALID_REQUEST");
  });

  it("audits the change", async () => {
    await apiJson("/system/schedules/audit-purge", { method: "PUT", body: { cron: "daily" } });
    expect(await auditOf({ principal: "admin", action: "schedule.set" })).toContainEqual(expect.objectContaining({ resource: "audit-purge", project: null, result: "success" }));
  });
});

describe("GET /api/v1/system/schedules", () => {
  it("lists every schedule with its times and last result", async () => {
    await apiJson("/system/schedules/audit-purge", { method: "PUT", body: { cron: "daily", options: {} } });
    const stored = await storedSchedule();
    const { items } = await apiJson<{ items: ScheduleView[] }>("/system/schedules");
    expect(items.find((item) => item.name === "audit-purge")).toEqual({
      name: "audit-purge",
      cron: "daily",
      options: {},
      enabled: true,
      nextRunAt: expect.stringMatching(/T00:00:00\.000Z$/),
      lastRunAt: null,
      lastResult: null,
    });
    expect(items.map((item) => item.name)).toContain(stored);
  });
});

describe("DELETE /api/v1/system/schedules/{name}", () => {
  it("deletes a schedule (204), audited", async () => {
    const name = await storedSchedule();
    expect((await api(`/system/schedules/${name}`, { method: "DELETE" })).status).toBe(204);
    const { items } = await apiJson<{ items: ScheduleView[] }>("/system/schedules");
    expect(items.map((item) => item.name)).not.toContain(name);
    expect(await auditOf({ principal: "admin", action: "schedule.delete" })).toContainEqual(expect.objectContaining({ resource: name, result: "success" }));
  });

  it("answers an unknown schedule with 404", async () => {
    await expectError(await api(`/system/schedules/${unique("none")}`, { method: "DELETE" }), 404, "NAME_UNKNOWN");
  });

  it("refuses to delete one of Pier's own schedules with 400, pointing at disabling it", async () => {
    const message = await expectError(await api("/system/schedules/audit-purge", { method: "DELETE" }), 400, "INVALID_REQUEST");
    expect(message).toContain('"enabled": false');
  });
});

describe("who may use /api/v1/system/schedules", () => {
  it("refuses a user who is not a system admin with 403, audited as denied", async () => {
    const user = await newUser();
    await expectError(await api("/system/schedules", { as: user }), 403, "DENIED");
    await expectError(await put("audit-purge", { cron: "hourly" }, user), 403, "DENIED");
    await expectError(await api(`/system/schedules/${await storedSchedule()}`, { method: "DELETE", as: user }), 403, "DENIED");
    expect(await auditOf({ principal: user.username, action: "schedule.set" })).toMatchObject([{ resource: "audit-purge", result: "denied" }]);
  });

  it("answers a caller without credentials with 401", async () => {
    await expectError(await api("/system/schedules", { as: null }), 401, "UNAUTHORIZED");
    await expectError(await put("audit-purge", { cron: "hourly" }, null), 401, "UNAUTHORIZED");
    await expectError(await api("/system/schedules/audit-purge", { method: "DELETE", as: null }), 401, "UNAUTHORIZED");
  });
});
