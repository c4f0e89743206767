// /api/v1/robots: system robots, with permissions in several projects, managed by system admins.
import { describe, expect, it } from "vitest";
import { api, apiJson, apiProject, auditOf, expectError, member, newUser, signsIn, unique } from "../helpers/management";

type Created = { name: string; secret: string; level: string; projects: { project: string; permissions: string[] }[] };

async function systemRobot(projects: { project: string; permissions: string[] }[]): Promise<Created & { short: string }> {
  const short = unique("sys");
  return { ...(await apiJson<Created>("/robots", { body: { name: short, projects } }, 201)), short };
}

describe("POST /api/v1/robots", () => {
  it("creates a system robot (201) named robot$<name>, with its secret", async () => {
    const [one, two] = [await apiProject(), await apiProject()];
    const name = unique("sys");
    const response = await api("/robots", { body: { name, projects: [{ project: one, permissions: ["pull"] }, { project: two, permissions: ["pull", "push"] }], expiresInDays: 7 } });
    expect(response.status).toBe(201);
    const body = (await response.json()) as Created;
    expect(body).toMatchObject({ name: `robot$${name}`, level: "system" });
    expect(body.secret.length).toBeGreaterThanOrEqual(32);
    expect(body.projects).toEqual(expect.arrayContaining([{ project: one, permissions: ["pull"] }, { project: two, permissions: ["pull", "push"] }]));
  });

  it("gives a robot that signs in and sees each of its projects", async () => {
    const [one, two] = [await apiProject(), await apiProject()];
    const robot = await systemRobot([{ project: one, permissions: ["pull"] }, { project: two, permissions: ["pull"] }]);
    const login = { username: robot.name, password: robot.secret };
    expect(await signsIn(login)).toBe(true);
    expect((await api(`/projects/${one}`, { as: login })).status).toBe(200);
    expect((await api(`/projects/${two}`, { as: login })).status).toBe(200);
  });

  it("refuses a project admin with 403, audited as denied", async () => {
    const project = await apiProject();
    const boss = await member(project, "projectAdmin");
    const name = unique("sys");
    await expectError(await api("/robots", { as: boss, body: { name, projects: [{ project, permissions: ["pull"] }] } }), 403, "DENIED");
    expect(await auditOf({ principal: boss.username, action: "robot.create" })).toMatchObject([{ resource: `robot$${name}`, result: "denied" }]);
  });

  it("answers an unknown project with 404", async () => {
    await expectError(await api("/robots", { body: { name: unique("sys"), projects: [{ project: unique("none"), permissions: ["pull"] }] } }), 404, "NAME_UNKNOWN");
  });

  it("answers a taken name with 409", async () => {
    const project = await apiProject();
    const robot = await systemRobot([{ project, permissions: ["pull"] }]);
    await expectError(await api("/robots", { body: { name: robot.short, projects: [{ project, permissions: ["pull"] }] } }), 409, "CONFLICT");
  });

  it.each([
    ["no projects", { projects: [] }],
    ["projects that are not a list", { projects: { team: ["pull"] } }],
    ["a project named twice", { projects: [{ project: "team", permissions: ["pull"] }, { project: "team", permissions: ["push"] }] }],
    ["a project entry without permissions", { projects: [{ project: "team" }] }],
    ["a name with a plus", { name: "a+b", projects: [{ project: "team", permissions: ["pull"] }] }],
  ])("answers %s with 400", async (_, fields) => {
    await expectError(await api("/robots", { body: { name: unique("sys"), ...fields } }), 400, "INVALID_REQUEST");
  });

  it("audits the creation as registry-wide", async () => {
    const project = await apiProject();
    const robot = await systemRobot([{ project, permissions: ["pull"] }]);
    expect(await auditOf({ principal: "admin", action: "robot.create" })).toContainEqual(expect.objectContaining({ resource: robot.name, project: null, result: "success" }));
  });
});

describe("GET /api/v1/robots", () => {
  it("lists system robots without secrets, not project robots", async () => {
    const project = await apiProject();
    const robot = await systemRobot([{ project, permissions: ["pull"] }]);
    await apiJson(`/projects/${project}/robots`, { body: { name: "ci", permissions: ["pull"] } }, 201);
    const body = await apiJson<{ items: { name: string }[] }>(`/robots?n=1000`);
    const names = body.items.map((item) => item.name);
    expect(names).toContain(robot.name);
    expect(names).not.toContain(`robot$${project}+ci`);
    expect(JSON.stringify(body)).not.toContain(robot.secret);
  });

  it("refuses a user who is not a system admin with 403", async () => {
    await expectError(await api("/robots", { as: await newUser() }), 403, "DENIED");
  });
});

describe("a system robot's life", () => {
  it("can be disabled, and then cannot sign in", async () => {
    const project = await apiProject();
    const robot = await systemRobot([{ project, permissions: ["pull"] }]);
    expect(await apiJson(`/robots/${robot.short}`, { method: "PATCH", body: { disabled: true } })).toMatchObject({ disabled: true });
    expect(await signsIn({ username: robot.name, password: robot.secret })).toBe(false);
  });

  it("gets a new secret, and the old one stops working", async () => {
    const project = await apiProject();
    const robot = await systemRobot([{ project, permissions: ["pull"] }]);
    const { secret } = await apiJson<{ secret: string }>(`/robots/${robot.short}/secret`, { method: "POST" });
    expect(await signsIn({ username: robot.name, password: robot.secret })).toBe(false);
    expect(await signsIn({ username: robot.name, password: secret })).toBe(true);
  });

  it("can be deleted (204), and is then unknown", async () => {
    const project = await apiProject();
    const robot = await systemRobot([{ project, permissions: ["pull"] }]);
    expect((await api(`/robots/${robot.short}`, { method: "DELETE" })).status).toBe(204);
    await expectError(await api(`/robots/${robot.short}`), 404, "NAME_UNKNOWN");
  });

  it("is not reachable through a project's robot paths", async () => {
    const project = await apiProject();
    const robot = await systemRobot([{ project, permissions: ["pull"] }]);
    await expectError(await api(`/projects/${project}/robots/${robot.short}`, { method: "DELETE" }), 404, "NAME_UNKNOWN");
  });
});
