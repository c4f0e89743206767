// POST/GET /api/v1/projects/{project}/robots: robot accounts inside a project, made by its
// project admin, with explicit permissions, an expiry, and a secret shown once.
import { describe, expect, it } from "vitest";
import { api, apiJson, apiProject, apiRobot, auditOf, expectError, member, newUser, shortName, signsIn, unique } from "../helpers/management";

type Created = { name: string; secret: string; permissions: string[]; expiresAt: string | null; level: string };
type RobotList = { items: Record<string, unknown>[] };
const DAY = 86_400_000;

describe("POST /api/v1/projects/{project}/robots", () => {
  it("creates a robot (201) answering its login name and secret", async () => {
    const project = await apiProject();
    const response = await api(`/projects/${project}/robots`, { body: { name: "ci", permissions: ["pull", "push"], expiresInDays: 30 } });
    expect(response.status).toBe(201);
    const body = (await response.json()) as Created;
    expect(body.name).toBe(`robot$${project}+ci`);
    expect(body.secret).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    expect(body).toMatchObject({ level: "project", permissions: ["pull", "push"], disabled: false });
  });

  it("gives a robot that signs in with its login name and secret", async () => {
    const project = await apiProject();
    const robot = await apiRobot(project);
    expect(await signsIn(robot)).toBe(true);
  });

  it("gives the robot exactly its permissions in the project", async () => {
    const project = await apiProject();
    const robot = await apiRobot(project, { permissions: ["pull"] });
    expect((await api(`/projects/${project}`, { as: robot })).status).toBe(200);
    await expectError(await api(`/projects/${project}/members`, { as: robot }), 403, "DENIED");
  });

  it("sets the expiry expiresInDays from now", async () => {
    const project = await apiProject();
    const before = Date.now();
    const body = await apiJson<Created>(`/projects/${project}/robots`, { body: { name: "ci", permissions: ["pull"], expiresInDays: 30 } }, 201);
    const expiresAt = Date.parse(body.expiresAt!);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 30 * DAY);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 30 * DAY);
  });

  it.each([["-1", -1], ["absent", undefined]])("makes a robot that never expires when expiresInDays is %s", async (_, expiresInDays) => {
    const project = await apiProject();
    const body = await apiJson<Created>(`/projects/${project}/robots`, { body: { name: "ci", permissions: ["pull"], expiresInDays } }, 201);
    expect(body.expiresAt).toBeNull();
  });

  it("answers a taken name in the project with 409", async () => {
    const project = await apiProject();
    await apiJson(`/projects/${project}/robots`, { body: { name: "ci", permissions: ["pull"] } }, 201);
    await expectError(await api(`/projects/${project}/robots`, { body: { name: "ci", permissions: ["push"] } }), 409, "CONFLICT");
  });

  it("allows the same robot name in another project", async () => {
    const [one, two] = [await apiProject(), await apiProject()];
    await apiJson(`/projects/${one}/robots`, { body: { name: "ci", permissions: ["pull"] } }, 201);
    expect((await apiJson<Created>(`/projects/${two}/robots`, { body: { name: "ci", permissions: ["pull"] } }, 201)).name).toBe(`robot$${two}+ci`);
  });

  it.each([
    ["no permissions", { permissions: [] }],
    ["an unknown permission", { permissions: ["pull", "admin"] }],
    ["a management permission", { permissions: ["manageMembers"] }],
    ["permissions as a string", { permissions: "pull" }],
    ["zero days", { permissions: ["pull"], expiresInDays: 0 }],
    ["a fraction of a day", { permissions: ["pull"], expiresInDays: 1.5 }],
    ["negative days other than -1", { permissions: ["pull"], expiresInDays: -2 }],
    ["days as a string", { permissions: ["pull"], expiresInDays: "30" }],
    ["a name with a plus", { permissions: ["pull"], name: "c+i" }],
    ["a name with a dollar", { permissions: ["pull"], name: "c$i" }],
    ["an uppercase name", { permissions: ["pull"], name: "CI" }],
    ["no name", { permissions: ["pull"], name: undefined }],
  ])("answers %s with 400", async (_, fields) => {
    const project = await apiProject();
    await expectError(await api(`/projects/${project}/robots`, { body: { name: "ci", ...fields } }), 400, "INVALID_REQUEST");
  });

  it("lets a project admin create robots", async () => {
    const project = await apiProject();
    const boss = await member(project, "projectAdmin");
    expect((await api(`/projects/${project}/robots`, { as: boss, body: { name: "ci", permissions: ["pull"] } })).status).toBe(201);
  });

  it("refuses a maintainer with 403, audited as denied", async () => {
    const project = await apiProject();
    const maintainer = await member(project, "maintainer");
    await expectError(await api(`/projects/${project}/robots`, { as: maintainer, body: { name: "ci", permissions: ["pull"] } }), 403, "DENIED");
    expect(await auditOf({ project, principal: maintainer.username })).toMatchObject([{ action: "robot.create", resource: `robot$${project}+ci`, result: "denied" }]);
  });

  it("refuses a robot, whatever its permissions, with 403", async () => {
    const project = await apiProject();
    const robot = await apiRobot(project, { permissions: ["pull", "push", "delete", "listRepositories"] });
    await expectError(await api(`/projects/${project}/robots`, { as: robot, body: { name: "more", permissions: ["pull"] } }), 403, "DENIED");
  });

  it("answers a user without a role in a private project with 404", async () => {
    const project = await apiProject();
    await expectError(await api(`/projects/${project}/robots`, { as: await newUser(), body: { name: "ci", permissions: ["pull"] } }), 404, "NAME_UNKNOWN");
  });

  it("audits the creation with the robot's login name", async () => {
    const project = await apiProject();
    const robot = await apiRobot(project);
    expect(await auditOf({ project, action: "robot.create" })).toMatchObject([{ principal: "admin", resource: robot.username, result: "success" }]);
  });
});

describe("GET /api/v1/projects/{project}/robots", () => {
  it("lists the project's robots without their secrets", async () => {
    const project = await apiProject();
    const robot = await apiRobot(project, { permissions: ["pull", "push"] });
    const body = await apiJson<RobotList>(`/projects/${project}/robots`);
    expect(body.items).toMatchObject([{ name: robot.username, permissions: ["pull", "push"], disabled: false }]);
    expect(JSON.stringify(body)).not.toContain(robot.password);
    expect(body.items[0]).not.toHaveProperty("secret");
    expect(body.items[0]).not.toHaveProperty("secretHash");
  });

  it("shows one robot without its secret", async () => {
    const project = await apiProject();
    const robot = await apiRobot(project);
    const body = await apiJson(`/projects/${project}/robots/${shortName(robot.username)}`);
    expect(body).toMatchObject({ name: robot.username });
    expect(JSON.stringify(body)).not.toContain(robot.password);
  });

  it("includes system robots with permissions in the project", async () => {
    const project = await apiProject();
    const name = unique("sys");
    await apiJson("/robots", { body: { name, projects: [{ project, permissions: ["pull"] }] } }, 201);
    const body = await apiJson<RobotList>(`/projects/${project}/robots`);
    expect(body.items).toMatchObject([{ name: `robot$${name}`, level: "system", permissions: ["pull"] }]);
  });

  it("shows the robots to a maintainer", async () => {
    const project = await apiProject();
    await apiRobot(project);
    const maintainer = await member(project, "maintainer");
    expect((await apiJson<RobotList>(`/projects/${project}/robots`, { as: maintainer })).items).toHaveLength(1);
  });

  it("refuses a developer with 403", async () => {
    const project = await apiProject();
    const developer = await member(project, "developer");
    await expectError(await api(`/projects/${project}/robots`, { as: developer }), 403, "DENIED");
  });

  it("answers an unknown robot with 404", async () => {
    const project = await apiProject();
    await expectError(await api(`/projects/${project}/robots/${unique("none")}`), 404, "NAME_UNKNOWN");
  });
});
