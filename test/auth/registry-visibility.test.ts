// What each principal sees of the registry (issue 4): the catalog lists only repositories in
// projects the caller may list; proxied content is authorised against its upstream's proxy
// project whichever route reached it; users create projects by pushing only when allowed.
import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index";
import { seedImage, uniqueRepo, upstreamUrls } from "../helpers/fake-upstream";
import { getToken, type Login, newProject, newRobot, newUser } from "../helpers/identities";
import { api, apiJson } from "../helpers/management";
import { ADMIN, errorCode, pushBlob, randomBytes, request, signedIn } from "../helpers/registry";

/** Every name in the catalog as `as` sees it, page by page. */
async function catalogOf(as: Login): Promise<string[]> {
  const names: string[] = [];
  let path: string | null = "/v2/_catalog?n=1000";
  while (path !== null) {
    const response: Response = await request(path, {}, as);
    expect(response.status).toBe(200);
    names.push(...((await response.json()) as { repositories: string[] }).repositories);
    path = response.headers.get("Link")?.match(/^<([^>]+)>/)?.[1] ?? null;
  }
  return names;
}

describe("the catalog", () => {
  it("challenges anonymous callers with the catalog scope", async () => {
    const response = await request("/v2/_catalog", {}, null);
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toContain('scope="registry:catalog:*"');
  });

  it("lists public projects' and the caller's own projects' repositories, never other private ones", async () => {
    const user = await newUser();
    const [own, other, open] = [await newProject({ members: [[user, "limitedGuest"]] }), await newProject(), await newProject({ public: true })];
    for (const project of [own, other, open]) await pushBlob(`${project}/app`, randomBytes(8, 3));
    const seen = await catalogOf(user);
    expect(seen).toContain(`${own}/app`);
    expect(seen).toContain(`${open}/app`);
    expect(seen).not.toContain(`${other}/app`);
    expect(await catalogOf(ADMIN)).toEqual(expect.arrayContaining([`${own}/app`, `${open}/app`, `${other}/app`]));
  });

  it("refuses, with a challenge, the token of an account deleted since it was issued", async () => {
    const user = await newUser();
    const response = await getToken([["scope", "registry:catalog:*"]], user);
    const token = ((await response.json()) as { token: string }).token;
    expect((await request("/v2/_catalog", { headers: { Authorization: `Bearer ${token}` } }, null)).status).toBe(200);
    expect((await api(`/users/${user.username}`, { method: "DELETE" })).status).toBe(204);
    const refused = await request("/v2/_catalog", { headers: { Authorization: `Bearer ${token}` } }, null);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("WWW-Authenticate")).toMatch(/^Bearer realm=/);
  });

  it("shows a robot the private projects it holds listRepositories in, not those it may only pull", async () => {
    const [listed, pulled] = [await newProject(), await newProject()];
    for (const project of [listed, pulled]) await pushBlob(`${project}/app`, randomBytes(8, 4));
    const robot = await newRobot([
      { project: listed, action: "listRepositories" },
      { project: pulled, action: "pull" },
    ]);
    const seen = await catalogOf(robot);
    expect(seen).toContain(`${listed}/app`);
    expect(seen).not.toContain(`${pulled}/app`);
  });
});

describe("proxy projects", () => {
  it("are public on first use: anonymous pulls through the cache work (dockerd mirrors cannot log in)", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "1.0");
    const response = await request(`/v2/fake/${repo}/manifests/1.0`, {}, null);
    expect(response.status).toBe(200);
    await response.arrayBuffer();
  });

  it("switched private refuse anonymous pulls by prefix and by ?ns= alike", async () => {
    // "basic" is the upstream no other test pulls from anonymously; it is switched back after.
    const host = new URL(upstreamUrls().basic).host;
    const repo = uniqueRepo();
    await seedImage(repo, "1.0");
    const first = await request(`/v2/basic/${repo}/manifests/1.0`, {}, null);
    expect(first.status, await first.clone().text()).toBe(200); // the proxy project exists now, public
    await first.arrayBuffer();
    await apiJson("/projects/basic", { method: "PATCH", body: { public: false } });
    try {
      for (const path of [`/v2/basic/${repo}/manifests/1.0`, `/v2/${repo}/manifests/1.0?ns=${encodeURIComponent(host)}`]) {
        const refused = await request(path, {}, null);
        expect(refused.status, path).toBe(401);
        expect(refused.headers.get("WWW-Authenticate")).toContain(`scope="repository:`);
        expect((await request(path, {}, await newUser())).status, path).toBe(404);
        const admin = await request(path);
        expect(admin.status, path).toBe(200);
        await admin.arrayBuffer();
      }
    } finally {
      await apiJson("/projects/basic", { method: "PATCH", body: { public: true } });
    }
  });
});

describe("tokens on reads routed by ?ns=", () => {
  it("must grant the cache name: the bare name's token was decided without the ns", async () => {
    const host = new URL(upstreamUrls().fake).host;
    const repo = uniqueRepo();
    await seedImage(repo, "1.0");
    const user = await newUser();
    const path = `/v2/${repo}/manifests/1.0?ns=${encodeURIComponent(host)}`;
    const tokenFor = async (scope: string) => `Bearer ${((await (await getToken([["scope", scope]], user)).json()) as { token: string }).token}`;

    const bare = await request(path, { headers: { Authorization: await tokenFor(`repository:${repo}:pull`) } }, null);
    expect(bare.status).toBe(401);
    expect(bare.headers.get("WWW-Authenticate")).toContain(`scope="repository:fake/${repo}:pull",error="insufficient_scope"`);
    const cached = await request(path, { headers: { Authorization: await tokenFor(`repository:fake/${repo}:pull`) } }, null);
    expect(cached.status).toBe(200);
    await cached.arrayBuffer();
  });
});

describe("projects created by pushing", () => {
  it("with PIER_USERS_CREATE_PROJECTS, a user's first push creates a private project they administer", async () => {
    const usersCreate = { ...env, PIER_USERS_CREATE_PROJECTS: "true" };
    const user = await newUser();
    const project = `mine-${crypto.randomUUID().slice(0, 8)}`;
    const bytes = randomBytes(32, 9);
    const digest = `sha256:${[...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
    const push = await worker.fetch(
      new Request(`http://registry.test/v2/${project}/app/blobs/uploads/?digest=${digest}`, signedIn({ method: "POST", body: bytes }, user)),
      usersCreate,
      createExecutionContext(),
    );
    expect(push.status, await push.clone().text()).toBe(201);
    expect(await apiJson(`/projects/${project}`)).toMatchObject({ name: project, public: false });
    const members = await apiJson<{ items: { username: string; role: string }[] }>(`/projects/${project}/members`);
    expect(members.items).toEqual([expect.objectContaining({ username: user.username, role: "projectAdmin" })]);
    // Nobody else sees it.
    const outsider = await request(`/v2/${project}/app/blobs/${digest}`, {}, await newUser());
    expect(outsider.status).toBe(404);
    expect(await errorCode(outsider)).toBe("NAME_UNKNOWN");
  });
});
