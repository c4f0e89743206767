// The registry's audit records (issue 4, "Audit"): pulls (manifest GETs), pushes (manifest
// PUTs), deletes, and refusals to signed-in principals, each with who, what, which resource,
// the project, the result and the IP. Written in deferred batches; reading the log flushes them.
import { describe, expect, it } from "vitest";
import { getToken, newProject, newUser } from "../helpers/identities";
import { auditOf } from "../helpers/management";
import { seedImage, uniqueRepo } from "../helpers/fake-upstream";
import { pushImage, request } from "../helpers/registry";

const FROM = { "CF-Connecting-IP": "198.51.100.23" };

describe("registry audit records", () => {
  it("record a push, a pull and a delete with principal, resource, project, result and IP", async () => {
    const maintainer = await newUser();
    const project = await newProject({ members: [[maintainer, "maintainer"]] });
    const name = `${project}/app`;
    const image = await pushImage(name, "v1");
    const pull = await request(`/v2/${name}/manifests/v1`, { headers: FROM }, maintainer);
    expect(pull.status).toBe(200);
    expect((await request(`/v2/${name}/manifests/${image.digest}`, { method: "DELETE", headers: FROM }, maintainer)).status).toBe(202);

    const items = await auditOf({ project });
    const registry = items.filter((item) => ["push", "pull", "delete"].includes(item.action));
    expect(registry.map(({ principal, action, resource, project: p, result, ip }) => ({ principal, action, resource, project: p, result, ip }))).toEqual([
      { principal: maintainer.username, action: "delete", resource: `${name}@${image.digest}`, project, result: "success", ip: FROM["CF-Connecting-IP"] },
      { principal: maintainer.username, action: "pull", resource: `${name}:v1`, project, result: "success", ip: FROM["CF-Connecting-IP"] },
      { principal: "admin", action: "push", resource: `${name}:v1`, project, result: "success", ip: null },
    ]);
  });

  it("record a refused push of a signed-in guest as denied; HEADs and anonymous challenges leave no record", async () => {
    const guest = await newUser();
    const project = await newProject({ members: [[guest, "guest"]] });
    const name = `${project}/app`;
    await pushImage(name, "v1");
    expect((await request(`/v2/${name}/blobs/uploads/`, { method: "POST" }, guest)).status).toBe(403);
    expect((await request(`/v2/${name}/manifests/v1`, { method: "HEAD" }, guest)).status).toBe(200);
    expect((await request(`/v2/${name}/manifests/v1`, {}, null)).status).toBe(401);

    const items = (await auditOf({ project })).filter((item) => item.action !== "project.create");
    expect(items.map(({ principal, action, resource, result }) => ({ principal, action, resource, result }))).toEqual([
      { principal: guest.username, action: "push", resource: name, result: "denied" },
      { principal: "admin", action: "push", resource: `${name}:v1`, result: "success" },
    ]);
  });

  it("name a token's pulls by its subject, and anonymous pulls of public projects `anonymous`", async () => {
    const user = await newUser();
    const project = await newProject({ public: true });
    const name = `${project}/app`;
    await pushImage(name, "v1");
    const token = ((await (await getToken([["scope", `repository:${name}:pull`]], user)).json()) as { token: string }).token;
    expect((await request(`/v2/${name}/manifests/v1`, { headers: { Authorization: `Bearer ${token}` } }, null)).status).toBe(200);
    expect((await request(`/v2/${name}/manifests/v1`, {}, null)).status).toBe(200);
    const pulls = (await auditOf({ project, action: "pull" })).map((item) => item.principal);
    expect(pulls).toEqual(["anonymous", user.username]);
  });

  it("file proxied pulls under the upstream's proxy project", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "1.0");
    const response = await request(`/v2/fake/${repo}/manifests/1.0`, {}, null);
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    const items = await auditOf({ project: "fake", action: "pull" });
    expect(items.find((item) => item.resource === `fake/${repo}:1.0`)).toMatchObject({ principal: "anonymous", result: "success" });
  });

  it("keep the name `anonymous` for themselves: no user can take it", async () => {
    const response = await request("/api/v1/users", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username: "anonymous", password: "long-enough-password" }) });
    expect(response.status).toBe(409);
  });
});
