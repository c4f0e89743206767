// Tag immutability rules per project (worker/lifecycle/immutability.ts): the API that sets them,
// and the pushes and deletes they refuse with 403 DENIED.
import { describe, expect, it } from "vitest";
import { immutableTagsOf } from "../../worker/lifecycle/immutability";
import { api, apiJson, apiProject, auditOf, expectError, member, newUser } from "../helpers/management";
import { expectNoServerErrors, pushImage, putManifest, request } from "../helpers/registry";

const V_TAGS = { repositories: "**", tags: "v*" };

async function protect(project: string, rules: unknown[]): Promise<void> {
  expect(await apiJson(`/projects/${project}/immutable-tags`, { method: "PUT", body: { rules } })).toEqual({ rules });
}

/** The digest a tag points at, or null. */
async function tagDigest(repository: string, tag: string): Promise<string | null> {
  const response = await request(`/v2/${repository}/manifests/${tag}`, { method: "HEAD" });
  return response.status === 200 ? response.headers.get("Docker-Content-Digest") : null;
}

function remove(repository: string, reference: string): Promise<Response> {
  return request(`/v2/${repository}/manifests/${reference}`, { method: "DELETE" });
}

describe("immutableTagsOf", () => {
  it("matches repository patterns against the name inside the project", () => {
    const rules = [{ repositories: "app/*", tags: "v*" }];
    expect(immutableTagsOf(rules, "team/app/api", ["v1", "latest", "v2"])).toEqual(["v1", "v2"]);
    expect(immutableTagsOf(rules, "team/app", ["v1"])).toEqual([]);
    expect(immutableTagsOf(rules, "team/other/api", ["v1"])).toEqual([]);
  });

  it("makes nothing immutable without rules", () => {
    expect(immutableTagsOf([], "team/app", ["v1"])).toEqual([]);
  });
});

describe("a push to an immutable tag", () => {
  it("is refused with 403 DENIED naming the rule when the digest differs, and the tag stays", async () => {
    const repository = `${await apiProject()}/app`;
    await protect(repository.split("/")[0]!, [V_TAGS]);
    const first = await pushImage(repository, "v1.0", { seed: 1 });
    const other = await pushImage(repository, "scratch", { seed: 2 });
    const message = await expectError(await putManifest(repository, "v1.0", other.bytes), 403, "DENIED");
    expect(message).toBe(`tag v1.0 of ${repository} is immutable (rule {"repositories":"**","tags":"v*"}); push a new tag instead`);
    expect(await tagDigest(repository, "v1.0")).toBe(first.digest);
  });

  it("is allowed when it pushes the same digest again", async () => {
    const repository = `${await apiProject()}/app`;
    await protect(repository.split("/")[0]!, [V_TAGS]);
    const first = await pushImage(repository, "v1.0");
    expect((await putManifest(repository, "v1.0", first.bytes)).status).toBe(201);
  });

  it("may create a tag the rule matches that does not exist yet", async () => {
    const repository = `${await apiProject()}/app`;
    await pushImage(repository, "v1.0", { seed: 1 });
    await protect(repository.split("/")[0]!, [V_TAGS]);
    const second = await pushImage(repository, "v2.0", { seed: 2 });
    expect(await tagDigest(repository, "v2.0")).toBe(second.digest);
  });

  it("is refused when the tag comes with a push by digest (?tag=)", async () => {
    const repository = `${await apiProject()}/app`;
    await protect(repository.split("/")[0]!, [V_TAGS]);
    await pushImage(repository, "v1.0", { seed: 1 });
    const other = await pushImage(repository, "scratch", { seed: 2 });
    await expectError(await putManifest(repository, `${other.digest}?tag=v1.0`, other.bytes), 403, "DENIED");
  });

  it("leaves tags the rule does not match free to move", async () => {
    const repository = `${await apiProject()}/app`;
    await protect(repository.split("/")[0]!, [V_TAGS]);
    await pushImage(repository, "latest", { seed: 1 });
    const second = await pushImage(repository, "latest", { seed: 2 });
    expect(await tagDigest(repository, "latest")).toBe(second.digest);
  });

  it("leaves repositories the rule's repository pattern excludes free to move", async () => {
    const project = await apiProject();
    await protect(project, [{ repositories: "prod/*", tags: "**" }]);
    const dev = `${project}/dev/api`;
    await pushImage(dev, "v1.0", { seed: 1 });
    const second = await pushImage(dev, "v1.0", { seed: 2 });
    expect(await tagDigest(dev, "v1.0")).toBe(second.digest);
    const prod = `${project}/prod/api`;
    await pushImage(prod, "v1.0", { seed: 1 });
    const other = await pushImage(prod, "scratch", { seed: 2 });
    await expectError(await putManifest(prod, "v1.0", other.bytes), 403, "DENIED");
  });

  it("moves again once the rules are emptied", async () => {
    const repository = `${await apiProject()}/app`;
    const project = repository.split("/")[0]!;
    await protect(project, [V_TAGS]);
    await pushImage(repository, "v1.0", { seed: 1 });
    await protect(project, []);
    const second = await pushImage(repository, "v1.0", { seed: 2 });
    expect(await tagDigest(repository, "v1.0")).toBe(second.digest);
  });
});

describe("a delete under immutability rules", () => {
  it("refuses to delete an immutable tag (403 DENIED naming the rule)", async () => {
    const repository = `${await apiProject()}/app`;
    await protect(repository.split("/")[0]!, [V_TAGS]);
    const first = await pushImage(repository, "v1.0");
    const message = await expectError(await remove(repository, "v1.0"), 403, "DENIED");
    expect(message).toBe(`tag v1.0 of ${repository} is immutable (rule {"repositories":"**","tags":"v*"}); it cannot be deleted`);
    expect(await tagDigest(repository, "v1.0")).toBe(first.digest);
  });

  it("refuses to delete a manifest an immutable tag points at (403 DENIED naming the tag and rule)", async () => {
    const repository = `${await apiProject()}/app`;
    await protect(repository.split("/")[0]!, [V_TAGS]);
    const first = await pushImage(repository, "v1.0");
    const message = await expectError(await remove(repository, first.digest), 403, "DENIED");
    expect(message).toContain(`manifest ${first.digest} carries tag v1.0 of ${repository}, which is immutable (rule {"repositories":"**","tags":"v*"})`);
    expect(await tagDigest(repository, first.digest)).toBe(first.digest);
  });

  it("deletes tags and manifests no rule protects", async () => {
    const repository = `${await apiProject()}/app`;
    await protect(repository.split("/")[0]!, [V_TAGS]);
    const image = await pushImage(repository, "latest");
    expect((await remove(repository, "latest")).status).toBe(202);
    expect((await remove(repository, image.digest)).status).toBe(202);
  });

  it("answers a missing immutable tag with 404 MANIFEST_UNKNOWN, as without rules", async () => {
    const repository = `${await apiProject()}/app`;
    await protect(repository.split("/")[0]!, [V_TAGS]);
    await pushImage(repository, "latest");
    await expectError(await remove(repository, "v9"), 404, "MANIFEST_UNKNOWN");
  });
});

describe("GET and PUT /api/v1/projects/{project}/immutable-tags", () => {
  expectNoServerErrors();

  it("shows no rules for a new project", async () => {
    expect(await apiJson(`/projects/${await apiProject()}/immutable-tags`)).toEqual({ rules: [] });
  });

  it("replaces all rules, shows them, and audits the change", async () => {
    const project = await apiProject();
    await protect(project, [V_TAGS, { repositories: "app/{api,web}", tags: "release-*" }]);
    await protect(project, [{ repositories: "app", tags: "v?" }]);
    expect(await apiJson(`/projects/${project}/immutable-tags`)).toEqual({ rules: [{ repositories: "app", tags: "v?" }] });
    expect(await auditOf({ project, action: "project.immutable-tags" })).toMatchObject([{ principal: "admin", result: "success" }, { result: "success" }]);
  });

  it("lets a project admin change the rules", async () => {
    const project = await apiProject();
    const gina = await member(project, "projectAdmin");
    await apiJson(`/projects/${project}/immutable-tags`, { as: gina, method: "PUT", body: { rules: [V_TAGS] } });
  });

  it("lets a developer read the rules but not change them (403)", async () => {
    const project = await apiProject();
    await protect(project, [V_TAGS]);
    const dev = await member(project, "developer");
    expect(await apiJson(`/projects/${project}/immutable-tags`, { as: dev })).toEqual({ rules: [V_TAGS] });
    await expectError(await api(`/projects/${project}/immutable-tags`, { as: dev, method: "PUT", body: { rules: [] } }), 403, "DENIED");
    expect(await auditOf({ project, action: "project.immutable-tags", principal: dev.username })).toMatchObject([{ result: "denied" }]);
  });

  it("answers a user outside a private project with 404, reading or changing", async () => {
    const project = await apiProject();
    const stranger = await newUser();
    await expectError(await api(`/projects/${project}/immutable-tags`, { as: stranger }), 404, "NAME_UNKNOWN");
    await expectError(await api(`/projects/${project}/immutable-tags`, { as: stranger, method: "PUT", body: { rules: [] } }), 404, "NAME_UNKNOWN");
  });

  it("answers an unknown project with 404", async () => {
    await expectError(await api("/projects/no-such-project-here/immutable-tags", { method: "PUT", body: { rules: [] } }), 404, "NAME_UNKNOWN");
  });

  it.each([
    ["no rules", {}, '"rules"'],
    ["rules as an object", { rules: { repositories: "**", tags: "v*" } }, '"rules"'],
    ["more than 50 rules", { rules: Array.from({ length: 51 }, () => V_TAGS) }, "at most 50"],
    ["a rule that is not an object", { rules: ["v*"] }, "rules[0]"],
    ["a rule without tags", { rules: [{ repositories: "**" }] }, "rules[0].tags"],
    ["an empty repository pattern", { rules: [V_TAGS, { repositories: "", tags: "v*" }] }, "rules[1].repositories"],
    ["a number as a pattern", { rules: [{ repositories: "**", tags: 1 }] }, "rules[0].tags"],
    ["an unclosed group", { rules: [{ repositories: "{a,b", tags: "v*" }] }, "rules[0].repositories"],
    ["a pattern too long", { rules: [{ repositories: "**", tags: "v".repeat(257) }] }, "rules[0].tags"],
    ["a body that is not JSON", "{rules:", "JSON object"],
    ["a body that is a list", [V_TAGS], "JSON object"],
  ])("answers %s with 400 INVALID_REQUEST naming it", async (_, body, named) => {
    const project = await apiProject();
    const message = await expectError(await api(`/projects/${project}/immutable-tags`, { method: "PUT", body }), 400, "INVALID_REQUEST");
    expect(message).toContain(named);
    expect(await apiJson(`/projects/${project}/immutable-tags`)).toEqual({ rules: [] });
  });
});
