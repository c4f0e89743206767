// POST/GET/PATCH /api/v1/projects: who may create projects, who sees which, who may change them.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { configFrom } from "../../worker/config";
import { createProject } from "../../worker/services/management/projects";
import { roleIn } from "../../worker/storage/db/queries/principals";
import { db, stampOf } from "../helpers/identities";
import { api, apiJson, apiProject, auditOf, expectError, member, newUser, unique } from "../helpers/management";

type ProjectList = { items: { name: string }[]; next: string | null };

describe("POST /api/v1/projects", () => {
  it("creates a project (201) with the fixed request shape", async () => {
    const name = unique("team");
    const response = await api("/projects", { body: { name, public: false } });
    expect(response.status).toBe(201);
    expect(response.headers.get("Location")).toBe(`/api/v1/projects/${name}`);
    expect(await response.json()).toMatchObject({ name, public: false, kind: "local", createdBy: "admin" });
  });

  it("makes a project private unless asked", async () => {
    const name = unique("team");
    expect(await apiJson("/projects", { body: { name } }, 201)).toMatchObject({ public: false });
  });

  it("answers a taken name with 409", async () => {
    const name = await apiProject();
    await expectError(await api("/projects", { body: { name } }), 409, "CONFLICT");
  });

  it("answers an upstream's name with 409, its proxy project's", async () => {
    await expectError(await api("/projects", { body: { name: "fake" } }), 409, "CONFLICT");
  });

  it("refuses to create a proxy project (400)", async () => {
    await expectError(await api("/projects", { body: { name: unique("team"), kind: "proxy" } }), 400, "INVALID_REQUEST");
  });

  it.each([
    ["an uppercase name", { name: "Team" }],
    ["two segments", { name: "team/app" }],
    ["an empty name", { name: "" }],
    ["a name with a leading dash", { name: "-team" }],
    ["public as a string", { name: "team-x", public: "yes" }],
    ["no name", { public: true }],
  ])("answers %s with 400 INVALID_REQUEST", async (_, body) => {
    await expectError(await api("/projects", { body }), 400, "INVALID_REQUEST");
  });

  it("refuses a user when users may not create projects (403), and audits it", async () => {
    const gina = await newUser();
    const name = unique("team");
    await expectError(await api("/projects", { as: gina, body: { name } }), 403, "DENIED");
    expect(await auditOf({ principal: gina.username, action: "project.create" })).toMatchObject([{ resource: name, result: "denied" }]);
  });

  it("makes a user who creates a project (where allowed) its project admin", async () => {
    const gina = await newUser();
    const config = configFrom(env);
    const allowing = { ...config, auth: { ...config.auth, usersMayCreateProjects: true } };
    const name = unique("team");
    await createProject(env, allowing, { principal: { kind: "user", name: gina.username, isAdmin: false, account: await stampOf(gina.username) }, ip: null }, { name, public: false });
    expect(await roleIn(db, name, gina.username)).toBe("projectAdmin");
  });

  it("gives a system admin who creates a project no role: they need none", async () => {
    const name = await apiProject();
    expect(await roleIn(db, name, "admin")).toBeNull();
  });

  it("audits a creation with the project", async () => {
    const name = await apiProject();
    expect(await auditOf({ project: name, action: "project.create" })).toMatchObject([{ principal: "admin", resource: name, result: "success" }]);
  });
});

describe("GET /api/v1/projects", () => {
  it("lists public projects and those with a role, not private ones without", async () => {
    const open = await apiProject({ public: true });
    const closed = await apiProject();
    const mine = await apiProject();
    const gina = await member(mine, "limitedGuest");
    const names = (await apiJson<ProjectList>("/projects?n=1000", { as: gina })).items.map((item) => item.name);
    expect(names).toContain(open);
    expect(names).toContain(mine);
    expect(names).not.toContain(closed);
  });

  it("lists every project for a system admin", async () => {
    const closed = await apiProject();
    const body = await apiJson<ProjectList>(`/projects?n=1&next=${closed.slice(0, -1)}`);
    expect(body.items.map((item) => item.name)).toEqual([closed]);
  });

  it("pages with n and next", async () => {
    await apiProject();
    await apiProject();
    const first = await apiJson<ProjectList>("/projects?n=1");
    expect(first.next).toBe(first.items[0]!.name);
    const second = await apiJson<ProjectList>(`/projects?n=1&next=${first.next}`);
    expect(second.items[0]!.name > first.next!).toBe(true);
  });

  it("shows a robot only the projects it may pull", async () => {
    const pulled = await apiProject();
    const pushedOnly = await apiProject();
    const created = await apiJson<{ name: string; secret: string }>(
      "/robots",
      { body: { name: unique("sys"), projects: [{ project: pulled, permissions: ["pull"] }, { project: pushedOnly, permissions: ["push"] }] } },
      201,
    );
    const names = (await apiJson<ProjectList>("/projects?n=1000", { as: { username: created.name, password: created.secret } })).items.map((item) => item.name);
    expect(names).toContain(pulled);
    expect(names).not.toContain(pushedOnly);
  });
});

describe("GET /api/v1/projects/{project}", () => {
  it("shows a project to a member", async () => {
    const name = await apiProject();
    const gina = await member(name, "guest");
    expect(await apiJson(`/projects/${name}`, { as: gina })).toMatchObject({ name, public: false, kind: "local" });
  });

  it("answers a private project as unknown (404) to a user without a role, like a missing one", async () => {
    const name = await apiProject();
    const gina = await newUser();
    const hidden = await expectError(await api(`/projects/${name}`, { as: gina }), 404, "NAME_UNKNOWN");
    const missing = await expectError(await api(`/projects/${name}-missing`, { as: gina }), 404, "NAME_UNKNOWN");
    expect(hidden.replace(name, "")).toBe(missing.replace(`${name}-missing`, ""));
  });

  it("shows a public project to any signed-in user", async () => {
    const name = await apiProject({ public: true });
    expect((await api(`/projects/${name}`, { as: await newUser() })).status).toBe(200);
  });
});

describe("PATCH /api/v1/projects/{project}", () => {
  it("lets a project admin make the project public", async () => {
    const name = await apiProject();
    const gina = await member(name, "projectAdmin");
    expect(await apiJson(`/projects/${name}`, { as: gina, method: "PATCH", body: { public: true } })).toMatchObject({ name, public: true });
    expect(await apiJson(`/projects/${name}`, { as: await newUser() })).toMatchObject({ public: true });
  });

  it("refuses a maintainer with 403", async () => {
    const name = await apiProject();
    const gina = await member(name, "maintainer");
    await expectError(await api(`/projects/${name}`, { as: gina, method: "PATCH", body: { public: true } }), 403, "DENIED");
  });

  it("answers a user without a role in a private project with 404", async () => {
    const name = await apiProject();
    await expectError(await api(`/projects/${name}`, { as: await newUser(), method: "PATCH", body: { public: true } }), 404, "NAME_UNKNOWN");
  });

  it("answers a body without a boolean public with 400", async () => {
    const name = await apiProject();
    await expectError(await api(`/projects/${name}`, { method: "PATCH", body: { public: "true" } }), 400, "INVALID_REQUEST");
  });

  it("audits the change", async () => {
    const name = await apiProject();
    await apiJson(`/projects/${name}`, { method: "PATCH", body: { public: true } });
    expect(await auditOf({ project: name, action: "project.update" })).toMatchObject([{ principal: "admin", resource: name, result: "success" }]);
  });
});
