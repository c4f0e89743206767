// A project robot after creation: disabled and enabled, its secret refreshed (the old one stops
// working at once), deleted; all by the project admin, all audited.
import { describe, expect, it } from "vitest";
import { type Login } from "../helpers/identities";
import { api, apiJson, apiProject, apiRobot, auditOf, expectError, member, shortName, signsIn } from "../helpers/management";

async function projectWithRobot(): Promise<{ project: string; robot: Login; path: string }> {
  const project = await apiProject();
  const robot = await apiRobot(project);
  return { project, robot, path: `/projects/${project}/robots/${shortName(robot.username)}` };
}

describe("PATCH /api/v1/projects/{project}/robots/{name}", () => {
  it("disables a robot, which then cannot sign in", async () => {
    const { robot, path } = await projectWithRobot();
    expect(await apiJson(path, { method: "PATCH", body: { disabled: true } })).toMatchObject({ name: robot.username, disabled: true });
    expect(await signsIn(robot)).toBe(false);
  });

  it("enables a disabled robot again", async () => {
    const { robot, path } = await projectWithRobot();
    await apiJson(path, { method: "PATCH", body: { disabled: true } });
    await apiJson(path, { method: "PATCH", body: { disabled: false } });
    expect(await signsIn(robot)).toBe(true);
  });

  it("audits disabling and enabling", async () => {
    const { project, robot, path } = await projectWithRobot();
    await apiJson(path, { method: "PATCH", body: { disabled: true } });
    await apiJson(path, { method: "PATCH", body: { disabled: false } });
    const items = await auditOf({ project, principal: "admin" });
    expect(items.slice(0, 2)).toMatchObject([
      { action: "robot.enable", resource: robot.username, result: "success" },
      { action: "robot.disable", resource: robot.username, result: "success" },
    ]);
  });

  it("answers a body without a boolean disabled with 400", async () => {
    const { path } = await projectWithRobot();
    await expectError(await api(path, { method: "PATCH", body: { disabled: "yes" } }), 400, "INVALID_REQUEST");
  });

  it("refuses a maintainer with 403", async () => {
    const { project, path } = await projectWithRobot();
    const maintainer = await member(project, "maintainer");
    await expectError(await api(path, { as: maintainer, method: "PATCH", body: { disabled: true } }), 403, "DENIED");
  });
});

describe("POST /api/v1/projects/{project}/robots/{name}/secret", () => {
  it("answers a new secret once", async () => {
    const { robot, path } = await projectWithRobot();
    const body = await apiJson<{ name: string; secret: string }>(`${path}/secret`, { method: "POST" });
    expect(body.name).toBe(robot.username);
    expect(body.secret).not.toBe(robot.password);
  });

  it("makes the new secret work and the old one stop working", async () => {
    const { robot, path } = await projectWithRobot();
    expect(await signsIn(robot)).toBe(true);
    const { secret } = await apiJson<{ secret: string }>(`${path}/secret`, { method: "POST" });
    expect(await signsIn(robot)).toBe(false);
    expect(await signsIn({ username: robot.username, password: secret })).toBe(true);
  });

  it("never shows the new secret in listings", async () => {
    const { project, path } = await projectWithRobot();
    const { secret } = await apiJson<{ secret: string }>(`${path}/secret`, { method: "POST" });
    expect(JSON.stringify(await apiJson(`/projects/${project}/robots`))).not.toContain(secret);
  });

  it("lets a project admin refresh it", async () => {
    const { project, path } = await projectWithRobot();
    const boss = await member(project, "projectAdmin");
    expect((await api(`${path}/secret`, { as: boss, method: "POST" })).status).toBe(200);
  });

  it("refuses a maintainer with 403", async () => {
    const { project, path } = await projectWithRobot();
    const maintainer = await member(project, "maintainer");
    await expectError(await api(`${path}/secret`, { as: maintainer, method: "POST" }), 403, "DENIED");
  });

  it("audits the refresh", async () => {
    const { project, robot, path } = await projectWithRobot();
    await apiJson(`${path}/secret`, { method: "POST" });
    expect(await auditOf({ project, action: "robot.secret" })).toMatchObject([{ principal: "admin", resource: robot.username, result: "success" }]);
  });
});

describe("DELETE /api/v1/projects/{project}/robots/{name}", () => {
  it("deletes the robot (204), which then cannot sign in and is gone", async () => {
    const { robot, path } = await projectWithRobot();
    expect((await api(path, { method: "DELETE" })).status).toBe(204);
    expect(await signsIn(robot)).toBe(false);
    await expectError(await api(path), 404, "NAME_UNKNOWN");
  });

  it("answers a robot deleted already with 404", async () => {
    const { path } = await projectWithRobot();
    await api(path, { method: "DELETE" });
    await expectError(await api(path, { method: "DELETE" }), 404, "NAME_UNKNOWN");
  });

  it("refuses a developer with 403", async () => {
    const { project, path } = await projectWithRobot();
    const developer = await member(project, "developer");
    await expectError(await api(path, { as: developer, method: "DELETE" }), 403, "DENIED");
  });

  it("audits the deletion", async () => {
    const { project, robot, path } = await projectWithRobot();
    await api(path, { method: "DELETE" });
    expect(await auditOf({ project, action: "robot.delete" })).toMatchObject([{ principal: "admin", resource: robot.username, result: "success" }]);
  });
});

describe("a robot of another project", () => {
  it("is unknown under this project's path (404)", async () => {
    const { robot } = await projectWithRobot();
    const other = await apiProject();
    await expectError(await api(`/projects/${other}/robots/${shortName(robot.username)}`, { method: "DELETE" }), 404, "NAME_UNKNOWN");
  });
});
