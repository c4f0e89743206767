// Replication policies (POST/GET/PUT/DELETE /api/v1/replication/policies): their shape and
// defaults, every refusal (400 INVALID_REQUEST, nothing stored), names taken (409), who may use
// them (system admins), and the schedule ("replication:<policy>") a scheduled policy keeps in
// the schedules table, written and removed with it.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PolicyView } from "../../worker/services/management/replication";
import { database } from "../../worker/storage/db/client";
import { createProject } from "../../worker/storage/db/queries/principals";
import { findSchedule } from "../../worker/storage/db/queries/schedules";
import { newProject } from "../helpers/identities";
import { api, apiJson, auditOf, expectError, newUser, unique } from "../helpers/management";
import { expectNoServerErrors } from "../helpers/registry";
import { createPolicy, idleRegistry } from "../helpers/replication";

const db = database(env.DB);

// A client mistake is never answered 5xx.
expectNoServerErrors();

describe("creating a policy", () => {
  it("stores a pull-mode policy with its defaults filled in, shown by GET and in the list, audited", async () => {
    const source = await idleRegistry();
    const name = unique("mirror");
    const created = await createPolicy({ name, source, destination: null, filters: { repositories: "library/nginx", tags: "1.*" } });
    expect(created).toEqual({
      name,
      source,
      destination: null,
      destinationNamespace: null,
      filters: { repositories: "library/nginx", tags: "1.*", artifactTypes: null },
      trigger: { type: "manual", cron: null },
      override: true,
      replicateDeletion: false,
      enabled: true,
      bandwidthMbps: null,
      concurrency: 4,
      createdAt: expect.any(String),
      updatedAt: created.createdAt,
    });
    expect(await apiJson(`/replication/policies/${name}`)).toEqual(created);
    expect((await apiJson<{ items: PolicyView[] }>("/replication/policies")).items).toContainEqual(created);
    expect((await auditOf({ action: "replication-policy.create" }))[0]).toMatchObject({ principal: "admin", resource: name, project: null, result: "success" });
  });

  it("stores a push-mode policy with every field given", async () => {
    const destination = await idleRegistry();
    const body = {
      source: null,
      destination,
      destinationNamespace: "mirror/team",
      filters: { repositories: "team/**", tags: "v*", artifactTypes: ["application/vnd.oci.image.config.v1+json"] },
      trigger: { type: "event" },
      override: false,
      replicateDeletion: true,
      enabled: false,
      bandwidthMbps: 100,
      concurrency: 2,
    };
    expect(await createPolicy(body)).toMatchObject({ ...body, filters: body.filters, trigger: { type: "event", cron: null } });
  });

  it("takes a literal repository from a registry without a catalog (Docker Hub)", async () => {
    const source = await idleRegistry("dockerhub");
    expect(await createPolicy({ source, filters: { repositories: "library/nginx" } })).toMatchObject({ source });
  });

  it("refuses a repository pattern for Docker Hub, saying it serves no catalog", async () => {
    const source = await idleRegistry("dockerhub");
    const name = unique("hub");
    const message = await expectError(await api("/replication/policies", { body: { name, source, filters: { repositories: "library/*" } } }), 400, "INVALID_REQUEST");
    expect(message).toMatch(/catalog/);
    await expectError(await api(`/replication/policies/${name}`), 404, "NAME_UNKNOWN");
  });

  const refusals: [string, (registry: string) => Record<string, unknown>][] = [
    ["no registry on either side", () => ({ source: null, destination: null })],
    ["a registry on both sides", (r) => ({ source: r, destination: r })],
    ["a source no remote registry is named", () => ({ source: unique("nowhere") })],
    ["an unknown field", (r) => ({ source: r, overide: false })],
    ["an unknown filter field", (r) => ({ source: r, filters: { repository: "a/b" } })],
    ["a filter pattern that opens a { it never closes", (r) => ({ source: r, filters: { tags: "v{1,2" } })],
    ["an empty tag filter", (r) => ({ source: r, filters: { tags: "" } })],
    ["artifactTypes that are not a list", (r) => ({ source: r, filters: { artifactTypes: "image" } })],
    ["an unknown trigger type", (r) => ({ source: r, trigger: { type: "hourly" } })],
    ["an unknown trigger field", (r) => ({ source: r, trigger: { type: "manual", when: "now" } })],
    ["a scheduled trigger without cron", (r) => ({ source: r, trigger: { type: "scheduled" } })],
    ["a cron that does not parse", (r) => ({ source: r, trigger: { type: "scheduled", cron: "every night" } })],
    ["a cron on a manual trigger", (r) => ({ source: r, trigger: { type: "manual", cron: "daily" } })],
    ["an event trigger in pull mode", (r) => ({ source: r, trigger: { type: "event" } })],
    ["a destinationNamespace that is not a repository path", (r) => ({ source: r, destinationNamespace: "Mirror//x" })],
    ["a destinationNamespace in a project that does not exist", (r) => ({ source: r, destinationNamespace: `${unique("nosuch")}/mirror` })],
    ["a concurrency of 0", (r) => ({ source: r, concurrency: 0 })],
    ["a concurrency over the maximum", (r) => ({ source: r, concurrency: 1000 })],
    ["a bandwidth that is not a whole number", (r) => ({ source: r, bandwidthMbps: 1.5 })],
    ["override that is not a flag", (r) => ({ source: r, override: "yes" })],
  ];
  for (const [what, body] of refusals) {
    it(`refuses ${what} with 400 INVALID_REQUEST, storing nothing`, async () => {
      const registry = await idleRegistry();
      const name = unique("bad");
      await expectError(await api("/replication/policies", { body: { name, ...body(registry) } }), 400, "INVALID_REQUEST");
      await expectError(await api(`/replication/policies/${name}`), 404, "NAME_UNKNOWN");
      expect(await findSchedule(db, `replication:${name}`)).toBeNull();
    });
  }

  it("refuses a destinationNamespace in a proxy project", async () => {
    const source = await idleRegistry();
    const proxy = unique("proxy");
    await createProject(db, { name: proxy, kind: "proxy", public: true, createdBy: null });
    const message = await expectError(await api("/replication/policies", { body: { name: unique("p"), source, destinationNamespace: proxy } }), 400, "INVALID_REQUEST");
    expect(message).toMatch(/proxy project/);
  });

  for (const [what, body] of [
    ["a name with capitals", { name: "Mirror" }],
    ["a body that is not an object", [1]],
    ["a body that is not JSON", "{name:"],
  ] as const) {
    it(`refuses ${what} with 400 INVALID_REQUEST`, async () => {
      const source = await idleRegistry();
      await expectError(await api("/replication/policies", { body: Array.isArray(body) || typeof body === "string" ? body : { source, ...body } }), 400, "INVALID_REQUEST");
    });
  }

  it("answers 409 CONFLICT for a name taken, leaving the first policy as it was", async () => {
    const source = await idleRegistry();
    const first = await createPolicy({ source, filters: { repositories: "a/b" } });
    await expectError(await api("/replication/policies", { body: { name: first.name, source, filters: { repositories: "c/d" } } }), 409, "CONFLICT");
    expect(await apiJson(`/replication/policies/${first.name}`)).toEqual(first);
  });
});

describe("changing and deleting a policy", () => {
  it("PUT replaces the policy whole: absent fields take their defaults, the creation time stays", async () => {
    const source = await idleRegistry();
    const created = await createPolicy({ source, filters: { repositories: "a/b", tags: "v*" }, override: false, concurrency: 8 });
    const replaced = await apiJson<PolicyView>(`/replication/policies/${created.name}`, { method: "PUT", body: { source, filters: { repositories: "c/*" } } });
    expect(replaced).toMatchObject({ name: created.name, filters: { repositories: "c/*", tags: "**", artifactTypes: null }, override: true, concurrency: 4, createdAt: created.createdAt });
    expect(await apiJson(`/replication/policies/${created.name}`)).toEqual(replaced);
    expect((await auditOf({ action: "replication-policy.set" }))[0]).toMatchObject({ resource: created.name, result: "success" });
  });

  it("PUT refuses a body naming another policy, and answers 404 for a policy that does not exist", async () => {
    const source = await idleRegistry();
    const created = await createPolicy({ source });
    await expectError(await api(`/replication/policies/${created.name}`, { method: "PUT", body: { name: "other", source } }), 400, "INVALID_REQUEST");
    await expectError(await api(`/replication/policies/${unique("nosuch")}`, { method: "PUT", body: { source } }), 404, "NAME_UNKNOWN");
  });

  it("DELETE removes the policy (204), then answers 404", async () => {
    const created = await createPolicy({ source: await idleRegistry() });
    expect((await api(`/replication/policies/${created.name}`, { method: "DELETE" })).status).toBe(204);
    await expectError(await api(`/replication/policies/${created.name}`), 404, "NAME_UNKNOWN");
    await expectError(await api(`/replication/policies/${created.name}`, { method: "DELETE" }), 404, "NAME_UNKNOWN");
    expect((await auditOf({ action: "replication-policy.delete" }))[0]).toMatchObject({ resource: created.name, result: "success" });
  });
});

describe("a scheduled policy's schedule", () => {
  it("is created with the policy, follows its changes, and goes when it becomes manual", async () => {
    const source = await idleRegistry();
    const created = await createPolicy({ source, trigger: { type: "scheduled", cron: "daily" } });
    const name = `replication:${created.name}`;
    expect(await findSchedule(db, name)).toMatchObject({ cron: "daily", enabled: true, nextRunAt: expect.any(Number) });

    await apiJson(`/replication/policies/${created.name}`, { method: "PUT", body: { source, trigger: { type: "scheduled", cron: "0 3 * * *" }, enabled: false } });
    expect(await findSchedule(db, name)).toMatchObject({ cron: "0 3 * * *", enabled: false });

    await apiJson(`/replication/policies/${created.name}`, { method: "PUT", body: { source, trigger: { type: "manual" } } });
    expect(await findSchedule(db, name)).toBeNull();
  });

  it("is removed with the policy", async () => {
    const created = await createPolicy({ source: await idleRegistry(), trigger: { type: "scheduled", cron: "hourly" } });
    expect(await findSchedule(db, `replication:${created.name}`)).not.toBeNull();
    expect((await api(`/replication/policies/${created.name}`, { method: "DELETE" })).status).toBe(204);
    expect(await findSchedule(db, `replication:${created.name}`)).toBeNull();
  });
});

describe("who may use policies", () => {
  it("refuses a user who is not a system admin with 403, audited as denied", async () => {
    const user = await newUser();
    const project = await newProject({ members: [[user, "projectAdmin"]] });
    const source = await idleRegistry();
    await expectError(await api("/replication/policies", { as: user }), 403, "DENIED");
    await expectError(await api("/replication/policies", { as: user, body: { name: unique("p"), source, destinationNamespace: project } }), 403, "DENIED");
    expect((await auditOf({ principal: user.username, action: "replication-policy.create" }))[0]).toMatchObject({ result: "denied" });
  });

  it("answers an anonymous caller 401", async () => {
    await expectError(await api("/replication/policies", { as: null }), 401, "UNAUTHORIZED");
  });
});
