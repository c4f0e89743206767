// /api/v1/projects/{project}/members: project admins manage members; guests and up see them.
import { describe, expect, it } from "vitest";
import { PROJECT_ROLES } from "../../worker/auth/permissions";
import { api, apiJson, apiProject, auditOf, expectError, member, newUser, unique } from "../helpers/management";

type MemberList = { items: { username: string; role: string }[] };

describe("POST /api/v1/projects/{project}/members", () => {
  it("adds a member (201) with the fixed request and answer shape", async () => {
    const project = await apiProject();
    const gina = await newUser();
    const response = await api(`/projects/${project}/members`, { body: { username: gina.username, role: "guest" } });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ username: gina.username, role: "guest" });
  });

  it.each(PROJECT_ROLES)("accepts the role %s", async (role) => {
    const project = await apiProject();
    const gina = await newUser();
    await apiJson(`/projects/${project}/members`, { body: { username: gina.username, role } }, 201);
    expect((await apiJson<MemberList>(`/projects/${project}/members`)).items).toEqual([{ username: gina.username, role }]);
  });

  it("changes the role of a member added again", async () => {
    const project = await apiProject();
    const gina = await member(project, "guest");
    await apiJson(`/projects/${project}/members`, { body: { username: gina.username, role: "developer" } }, 201);
    expect((await apiJson<MemberList>(`/projects/${project}/members`)).items).toEqual([{ username: gina.username, role: "developer" }]);
  });

  it("gives the new member the role's access at once", async () => {
    const project = await apiProject();
    const gina = await newUser();
    await expectError(await api(`/projects/${project}`, { as: gina }), 404, "NAME_UNKNOWN");
    await apiJson(`/projects/${project}/members`, { body: { username: gina.username, role: "guest" } }, 201);
    expect((await api(`/projects/${project}`, { as: gina })).status).toBe(200);
  });

  it("answers an unknown user with 404", async () => {
    const project = await apiProject();
    await expectError(await api(`/projects/${project}/members`, { body: { username: unique("nobody"), role: "guest" } }), 404, "NAME_UNKNOWN");
  });

  it.each([
    ["an unknown role", { role: "owner" }],
    ["Harbor's numeric role", { role: 1 }],
    ["no role", {}],
  ])("answers %s with 400", async (_, fields) => {
    const project = await apiProject();
    await expectError(await api(`/projects/${project}/members`, { body: { username: "gina", ...fields } }), 400, "INVALID_REQUEST");
  });

  it("lets a project admin add members", async () => {
    const project = await apiProject();
    const boss = await member(project, "projectAdmin");
    const gina = await newUser();
    expect((await api(`/projects/${project}/members`, { as: boss, body: { username: gina.username, role: "guest" } })).status).toBe(201);
  });

  it.each(["maintainer", "developer", "guest"] as const)("refuses a %s with 403, audited as denied", async (role) => {
    const project = await apiProject();
    const caller = await member(project, role);
    const gina = await newUser();
    await expectError(await api(`/projects/${project}/members`, { as: caller, body: { username: gina.username, role: "guest" } }), 403, "DENIED");
    expect(await auditOf({ project, principal: caller.username })).toMatchObject([{ action: "member.set", resource: gina.username, result: "denied" }]);
  });

  it("answers a user without a role in a private project with 404", async () => {
    const project = await apiProject();
    const gina = await newUser();
    await expectError(await api(`/projects/${project}/members`, { as: gina, body: { username: gina.username, role: "projectAdmin" } }), 404, "NAME_UNKNOWN");
  });

  it("refuses a user without a role in a public project with 403", async () => {
    const project = await apiProject({ public: true });
    const gina = await newUser();
    await expectError(await api(`/projects/${project}/members`, { as: gina, body: { username: gina.username, role: "projectAdmin" } }), 403, "DENIED");
  });

  it("answers an unknown project with 404", async () => {
    await expectError(await api(`/projects/${unique("none")}/members`, { body: { username: "admin", role: "guest" } }), 404, "NAME_UNKNOWN");
  });

  it("audits the change with the member as resource", async () => {
    const project = await apiProject();
    const gina = await member(project, "guest");
    expect(await auditOf({ project, action: "member.set" })).toMatchObject([{ principal: "admin", resource: gina.username, result: "success" }]);
  });
});

describe("GET /api/v1/projects/{project}/members", () => {
  it("shows members and roles to a guest", async () => {
    const project = await apiProject();
    const guest = await member(project, "guest");
    expect((await apiJson<MemberList>(`/projects/${project}/members`, { as: guest })).items).toEqual([{ username: guest.username, role: "guest" }]);
  });

  it("refuses a limited guest with 403", async () => {
    const project = await apiProject();
    const limited = await member(project, "limitedGuest");
    await expectError(await api(`/projects/${project}/members`, { as: limited }), 403, "DENIED");
  });
});

describe("DELETE /api/v1/projects/{project}/members/{username}", () => {
  it("removes a member (204), who then no longer sees the private project", async () => {
    const project = await apiProject();
    const gina = await member(project, "developer");
    expect((await api(`/projects/${project}/members/${gina.username}`, { method: "DELETE" })).status).toBe(204);
    await expectError(await api(`/projects/${project}`, { as: gina }), 404, "NAME_UNKNOWN");
  });

  it("answers a user who is not a member with 404", async () => {
    const project = await apiProject();
    await expectError(await api(`/projects/${project}/members/${unique("nobody")}`, { method: "DELETE" }), 404, "NAME_UNKNOWN");
  });

  it("refuses a maintainer with 403", async () => {
    const project = await apiProject();
    const maintainer = await member(project, "maintainer");
    const gina = await member(project, "guest");
    await expectError(await api(`/projects/${project}/members/${gina.username}`, { as: maintainer, method: "DELETE" }), 403, "DENIED");
  });

  it("audits the removal", async () => {
    const project = await apiProject();
    const gina = await member(project, "guest");
    await api(`/projects/${project}/members/${gina.username}`, { method: "DELETE" });
    expect(await auditOf({ project, action: "member.remove" })).toMatchObject([{ principal: "admin", resource: gina.username, result: "success" }]);
  });
});
