// DELETE /api/v1/projects/{project}: project admins delete a local project once it holds no
// image; its members, project robots and every robot's grants in it go with it, so a project
// created later under the same name starts with nobody.
import { describe, expect, it } from "vitest";
import { api, apiJson, apiProject, apiRobot, auditOf, expectError, member, newUser, unique } from "../helpers/management";
import { pushBlob, pushImage, randomBytes, request } from "../helpers/registry";

describe("DELETE /api/v1/projects/{project}", () => {
  it("deletes a project without images, with its members, robots and blob links; the name starts afresh", async () => {
    const project = await apiProject();
    const gina = await member(project, "developer");
    const robot = await apiRobot(project, { permissions: ["pull", "push"] });
    const system = await apiJson<{ name: string; secret: string }>("/robots", { body: { name: unique("sys"), projects: [{ project, permissions: ["pull"] }] } }, 201);
    const blob = await pushBlob(`${project}/app`, randomBytes(64, 11));

    expect((await api(`/projects/${project}`, { method: "DELETE" })).status).toBe(204);
    await expectError(await api(`/projects/${project}`), 404, "NAME_UNKNOWN");
    expect(await auditOf({ project, action: "project.delete" })).toEqual([expect.objectContaining({ principal: "admin", resource: project, result: "success" })]);
    // The project robot is gone; the system robot keeps its other life but lost this project.
    expect((await request("/v2/", {}, robot)).status).toBe(401);
    expect((await apiJson<{ projects: unknown[] }>(`/robots/${system.name.slice("robot$".length)}`)).projects).toEqual([]);

    await apiJson("/projects", { body: { name: project, public: false } }, 201);
    expect((await apiJson<{ items: unknown[] }>(`/projects/${project}/members`)).items).toEqual([]);
    expect((await apiJson<{ items: unknown[] }>(`/projects/${project}/robots`)).items).toEqual([]);
    expect((await request(`/v2/${project}/app/blobs/${blob.digest}`, { method: "HEAD" })).status).toBe(404);
    expect((await request(`/v2/${project}/app/tags/list`, {}, gina)).status).toBe(404);
  });

  it("takes the project's webhooks with it: a namesake created later notifies nobody", async () => {
    const project = await apiProject();
    await apiJson(`/projects/${project}/webhooks`, { body: { name: "ci", url: "https://hooks.example/pier", events: ["PUSH_ARTIFACT"], format: "harbor" } }, 201);

    expect((await api(`/projects/${project}`, { method: "DELETE" })).status).toBe(204);
    await apiJson("/projects", { body: { name: project, public: false } }, 201);
    expect((await apiJson<{ items: unknown[] }>(`/projects/${project}/webhooks`)).items).toEqual([]);
  });

  it("is a CONFLICT while an image is in the project, which stays as it was", async () => {
    const project = await apiProject();
    const image = await pushImage(`${project}/app`, "v1");
    const message = await expectError(await api(`/projects/${project}`, { method: "DELETE" }), 409, "CONFLICT");
    expect(message).toContain("manifests");
    expect((await request(`/v2/${project}/app/manifests/v1`)).status).toBe(200);
    expect((await request(`/v2/${project}/app/manifests/${image.digest}`, { method: "DELETE" })).status).toBe(202);
    expect((await api(`/projects/${project}`, { method: "DELETE" })).status).toBe(204);
  });

  it("is for project admins: a maintainer is DENIED (audited), an outsider sees no project", async () => {
    const project = await apiProject();
    const maintainer = await member(project, "maintainer");
    await expectError(await api(`/projects/${project}`, { method: "DELETE", as: maintainer }), 403, "DENIED");
    await expectError(await api(`/projects/${project}`, { method: "DELETE", as: await newUser() }), 404, "NAME_UNKNOWN");
    expect(await auditOf({ project, action: "project.delete" })).toEqual([expect.objectContaining({ principal: maintainer.username, result: "denied" })]);
    const admin = await member(project, "projectAdmin");
    expect((await api(`/projects/${project}`, { method: "DELETE", as: admin })).status).toBe(204);
  });

  it("refuses an upstream's proxy project: it follows PIER_UPSTREAMS", async () => {
    await request("/v2/fake/some/app/tags/list"); // makes sure the proxy project exists
    await expectError(await api("/projects/fake", { method: "DELETE" }), 400, "INVALID_REQUEST");
    expect((await api("/projects/fake")).status).toBe(200);
  });
});
