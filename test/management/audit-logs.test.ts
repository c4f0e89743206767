// GET /api/v1/audit-logs: newest first, 100 a page by default, filtered by project, principal
// and action; a project's log for its project admins, the whole log for system admins.
import { describe, expect, it } from "vitest";
import { appendAudit, type AuditRecord } from "../../worker/storage/db/queries/audit";
import { db } from "../helpers/identities";
import { api, apiJson, apiProject, apiRobot, type AuditItem, expectError, member, newUser, unique } from "../helpers/management";

type AuditPage = { items: AuditItem[]; next: string | null };

/** `count` records in `project`, numbered in the order they happened. */
async function history(project: string, count: number): Promise<void> {
  const records: AuditRecord[] = Array.from({ length: count }, (_, index) => ({
    at: Date.now() + index,
    principal: "someone",
    action: "test.step",
    resource: `step-${index}`,
    project,
    result: "success",
    ip: null,
  }));
  await appendAudit(db, records);
}

describe("GET /api/v1/audit-logs", () => {
  it("answers items with the fixed fields and a next cursor", async () => {
    const project = await apiProject();
    const body = await apiJson<AuditPage>(`/audit-logs?project=${project}`);
    expect(Object.keys(body)).toEqual(expect.arrayContaining(["items", "next"]));
    const [item] = body.items;
    expect(item).toMatchObject({ principal: "admin", action: "project.create", resource: project, result: "success" });
    expect(Object.keys(item!)).toEqual(expect.arrayContaining(["at", "principal", "action", "resource", "result", "ip"]));
    expect(new Date(item!.at).toISOString()).toBe(item!.at);
  });

  it("lists the newest first", async () => {
    const project = unique("log");
    await history(project, 3);
    const body = await apiJson<AuditPage>(`/audit-logs?project=${project}`);
    expect(body.items.map((item) => item.resource)).toEqual(["step-2", "step-1", "step-0"]);
  });

  it("answers 100 items a page by default", async () => {
    const project = unique("log");
    await history(project, 101);
    const body = await apiJson<AuditPage>(`/audit-logs?project=${project}`);
    expect(body.items).toHaveLength(100);
    expect(body.next).not.toBeNull();
  });

  it("pages with n and next, and next is null on the last page", async () => {
    const project = unique("log");
    await history(project, 3);
    const first = await apiJson<AuditPage>(`/audit-logs?project=${project}&n=2`);
    expect(first.items.map((item) => item.resource)).toEqual(["step-2", "step-1"]);
    const second = await apiJson<AuditPage>(`/audit-logs?project=${project}&n=2&next=${first.next}`);
    expect(second.items.map((item) => item.resource)).toEqual(["step-0"]);
    expect(second.next).toBeNull();
  });

  it("has next null when the last page is exactly full", async () => {
    const project = unique("log");
    await history(project, 2);
    expect((await apiJson<AuditPage>(`/audit-logs?project=${project}&n=2`)).next).toBeNull();
  });

  it("filters by principal and action", async () => {
    const project = await apiProject();
    const gina = await member(project, "guest");
    await api(`/projects/${project}/members`, { as: gina, body: { username: gina.username, role: "projectAdmin" } });
    const items = (await apiJson<AuditPage>(`/audit-logs?project=${project}&principal=${gina.username}&action=member.set`)).items;
    expect(items).toMatchObject([{ principal: gina.username, action: "member.set", result: "denied" }]);
  });

  it("records the client IP from CF-Connecting-IP", async () => {
    const project = await apiProject();
    const gina = await newUser();
    await api(`/projects/${project}/members`, { body: { username: gina.username, role: "guest" }, headers: { "CF-Connecting-IP": "198.51.100.23" } });
    expect((await apiJson<AuditPage>(`/audit-logs?project=${project}&action=member.set`)).items).toMatchObject([{ ip: "198.51.100.23" }]);
  });

  it("names a robot by its login name", async () => {
    const project = await apiProject();
    const robot = await apiRobot(project, { permissions: ["pull"] });
    await api(`/projects/${project}/robots`, { as: robot, body: { name: "more", permissions: ["pull"] } });
    expect((await apiJson<AuditPage>(`/audit-logs?project=${project}&principal=${encodeURIComponent(robot.username)}`)).items).toMatchObject([
      { principal: robot.username, action: "robot.create", result: "denied" },
    ]);
  });

  it("shows a project's log to its project admin", async () => {
    const project = await apiProject();
    const boss = await member(project, "projectAdmin");
    expect((await apiJson<AuditPage>(`/audit-logs?project=${project}`, { as: boss })).items.length).toBeGreaterThan(0);
  });

  it("refuses a project's log to its maintainer with 403", async () => {
    const project = await apiProject();
    const maintainer = await member(project, "maintainer");
    await expectError(await api(`/audit-logs?project=${project}`, { as: maintainer }), 403, "DENIED");
  });

  it("answers a private project's log to a user without a role with 404", async () => {
    const project = await apiProject();
    await expectError(await api(`/audit-logs?project=${project}`, { as: await newUser() }), 404, "NAME_UNKNOWN");
  });

  it("shows the whole log to a system admin", async () => {
    const project = await apiProject();
    const items = (await apiJson<AuditPage>("/audit-logs?n=1000")).items;
    expect(items).toContainEqual(expect.objectContaining({ action: "project.create", resource: project }));
  });

  it("refuses the whole log to a project admin with 403", async () => {
    const project = await apiProject();
    const boss = await member(project, "projectAdmin");
    await expectError(await api("/audit-logs", { as: boss }), 403, "DENIED");
  });

  it.each([
    ["n of zero", "n=0"],
    ["n that is not a number", "n=ten"],
    ["a next that is not a cursor", "next=abc"],
  ])("answers %s with 400", async (_, query) => {
    await expectError(await api(`/audit-logs?${query}`), 400, "INVALID_REQUEST");
  });

  it("caps n at 1000", async () => {
    const project = unique("log");
    await history(project, 3);
    expect((await apiJson<AuditPage>(`/audit-logs?project=${project}&n=5000`)).items).toHaveLength(3);
  });
});
