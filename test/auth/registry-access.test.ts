// Access control on the registry API (/v2), over HTTP through the real Worker: who gets which
// answer for reads and writes, with Basic credentials and with tokens (issue 4). The decision
// table itself is tested in authorize.test.ts and permissions.test.ts; this file checks that
// every route asks it, and answers the way docker, podman, skopeo and containerd expect.
import { describe, expect, it } from "vitest";
import { basic, getToken, type Login, newProject, newRobot, newUser } from "../helpers/identities";
import { ADMIN, errorCode, pushBlob, pushImage, randomBytes, request } from "../helpers/registry";

const CHALLENGE = 'Bearer realm="http://registry.test/token",service="registry.test"';

async function tokenFor(login: Login | null, scope: string): Promise<string> {
  const response = await getToken([["scope", scope]], login ?? undefined);
  expect(response.status).toBe(200);
  return `Bearer ${((await response.json()) as { token: string }).token}`;
}

/** A private project holding `<project>/app:v1` (a layer no other test pushes), pushed by the admin. */
async function privateImage(members: Parameters<typeof newProject>[0] = {}) {
  const project = await newProject({ public: false, ...members });
  const name = `${project}/app`;
  const image = await pushImage(name, "v1", { seed: crypto.getRandomValues(new Uint32Array(1))[0]! | 1 });
  return { project, name, image };
}

describe("GET /v2/", () => {
  it("challenges anonymous callers to fetch a token, with no scope", async () => {
    for (const method of ["GET", "HEAD"]) {
      const response = await request("/v2/", { method }, null);
      expect(response.status).toBe(401);
      expect(response.headers.get("WWW-Authenticate")).toBe(CHALLENGE);
      expect(response.headers.get("Docker-Distribution-API-Version")).toBe("registry/2.0");
    }
  });

  it("answers 200 to Basic credentials and to a token, 401 to a wrong password", async () => {
    expect((await request("/v2/")).status).toBe(200);
    const user = await newUser();
    expect((await request("/v2/", {}, user)).status).toBe(200);
    expect((await request("/v2/", { headers: { Authorization: await tokenFor(user, "repository:x/y:pull") } }, null)).status).toBe(200);
    const wrong = await request("/v2/", {}, { ...user, password: "not-the-password" });
    expect(wrong.status).toBe(401);
    expect(await errorCode(wrong)).toBe("UNAUTHORIZED");
  });
});

describe("reads of a private project", () => {
  it("challenge anonymous callers with the pull scope on every read route, whether the project exists or not", async () => {
    const { name, image } = await privateImage();
    const missing = `missing-${crypto.randomUUID().slice(0, 8)}/app`;
    for (const repo of [name, missing]) {
      for (const path of [`/manifests/v1`, `/manifests/${image.digest}`, `/blobs/${image.layer.digest}`, `/tags/list`, `/referrers/${image.digest}`]) {
        const response = await request(`/v2/${repo}${path}`, {}, null);
        expect(response.status, `${repo}${path}`).toBe(401);
        expect(response.headers.get("WWW-Authenticate")).toBe(`${CHALLENGE},scope="repository:${repo}:pull"`);
        expect(await errorCode(response)).toBe("UNAUTHORIZED");
      }
    }
  });

  it("are NAME_UNKNOWN for a signed-in user without a role: the project stays invisible", async () => {
    const { name, image } = await privateImage();
    const outsider = await newUser();
    for (const path of [`/manifests/v1`, `/blobs/${image.layer.digest}`, `/tags/list`, `/referrers/${image.digest}`]) {
      const response = await request(`/v2/${name}${path}`, {}, outsider);
      expect(response.status, path).toBe(404);
      expect(await errorCode(response)).toBe("NAME_UNKNOWN");
    }
  });

  it("go ahead for a guest, with Basic credentials and with a pull token", async () => {
    const guest = await newUser();
    const { name, image } = await privateImage({ members: [[guest, "guest"]] });
    expect((await request(`/v2/${name}/manifests/v1`, {}, guest)).status).toBe(200);
    const token = await tokenFor(guest, `repository:${name}:pull`);
    const blob = await request(`/v2/${name}/blobs/${image.layer.digest}`, { headers: { Authorization: token } }, null);
    expect(blob.status).toBe(200);
    expect(new Uint8Array(await blob.arrayBuffer()).byteLength).toBe(image.layer.size);
  });

  it("of a public project go ahead for anyone, anonymous too", async () => {
    const project = await newProject({ public: true });
    await pushImage(`${project}/app`, "v1");
    expect((await request(`/v2/${project}/app/manifests/v1`, {}, null)).status).toBe(200);
    expect((await request(`/v2/${project}/app/tags/list`, {}, null)).status).toBe(200);
  });
});

describe("writes", () => {
  it("challenge anonymous callers with the push scope; a guest is DENIED; a developer pushes", async () => {
    const [guest, developer] = [await newUser(), await newUser()];
    const { name } = await privateImage({ members: [[guest, "guest"], [developer, "developer"]] });
    const anonymous = await request(`/v2/${name}/blobs/uploads/`, { method: "POST" }, null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("WWW-Authenticate")).toBe(`${CHALLENGE},scope="repository:${name}:pull,push"`);
    const denied = await request(`/v2/${name}/blobs/uploads/`, { method: "POST" }, guest);
    expect(denied.status).toBe(403);
    expect(await errorCode(denied)).toBe("DENIED");
    const image = await pushImageAs(developer, name, "v2");
    expect(image.status).toBe(201);
  });

  it("deletes need maintainer: a developer is DENIED, a maintainer deletes", async () => {
    const [developer, maintainer] = [await newUser(), await newUser()];
    const { name, image } = await privateImage({ members: [[developer, "developer"], [maintainer, "maintainer"]] });
    const denied = await request(`/v2/${name}/manifests/${image.digest}`, { method: "DELETE" }, developer);
    expect(denied.status).toBe(403);
    expect(await errorCode(denied)).toBe("DENIED");
    expect((await request(`/v2/${name}/blobs/${image.layer.digest}`, { method: "DELETE" }, developer)).status).toBe(403);
    expect((await request(`/v2/${name}/manifests/${image.digest}`, { method: "DELETE" }, maintainer)).status).toBe(202);
  });

  it("an upload session is someone else's business: a guest cannot read, append to or close it", async () => {
    const guest = await newUser();
    const { name } = await privateImage({ members: [[guest, "guest"]] });
    const started = await request(`/v2/${name}/blobs/uploads/`, { method: "POST" });
    expect(started.status).toBe(202);
    const location = started.headers.get("Location")!;
    for (const method of ["GET", "PATCH", "PUT", "DELETE"]) {
      const response = await request(`${location}${method === "PUT" ? "?digest=sha256:" + "0".repeat(64) : ""}`, { method, body: method === "PATCH" ? "x" : undefined }, guest);
      expect(response.status, method).toBe(403);
    }
    expect((await request(location)).status).toBe(204);
  });

  it("a token carries only what it was issued for: a pull token cannot push, a token for A does nothing on B", async () => {
    const developer = await newUser();
    const { name: a } = await privateImage({ members: [[developer, "developer"]] });
    const b = `${a.split("/")[0]}/other`;
    const pullToken = await tokenFor(developer, `repository:${a}:pull`);
    const push = await request(`/v2/${a}/blobs/uploads/`, { method: "POST", headers: { Authorization: pullToken } }, null);
    expect(push.status).toBe(401);
    expect(push.headers.get("WWW-Authenticate")).toBe(`${CHALLENGE},scope="repository:${a}:pull,push",error="insufficient_scope"`);
    const other = await request(`/v2/${b}/tags/list`, { headers: { Authorization: pullToken } }, null);
    expect(other.status).toBe(401);
    expect(other.headers.get("WWW-Authenticate")).toContain('error="insufficient_scope"');
  });
});

/** A one-blob push (config as the only layer is enough here) as `login`; the manifest PUT's response. */
async function pushImageAs(login: Login, name: string, tag: string): Promise<Response> {
  const blob = randomBytes(64, 77);
  const digest = `sha256:${[...new Uint8Array(await crypto.subtle.digest("SHA-256", blob))].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  const upload = await request(`/v2/${name}/blobs/uploads/?digest=${digest}`, { method: "POST", body: blob }, login);
  expect(upload.status).toBe(201);
  const config = { mediaType: "application/vnd.oci.image.config.v1+json", digest, size: blob.byteLength };
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config, layers: [] });
  return request(`/v2/${name}/manifests/${tag}`, { method: "PUT", body: manifest, headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json" } }, login);
}

describe("robots", () => {
  it("push with push+pull, are DENIED without push, and are refused (401) once expired or disabled", async () => {
    const project = await newProject();
    const name = `${project}/app`;
    const pusher = await newRobot([{ project, action: "pull" }, { project, action: "push" }]);
    expect((await pushImageAs(pusher, name, "v1")).status).toBe(201);
    const puller = await newRobot([{ project, action: "pull" }]);
    expect((await request(`/v2/${name}/manifests/v1`, {}, puller)).status).toBe(200);
    expect((await request(`/v2/${name}/blobs/uploads/`, { method: "POST" }, puller)).status).toBe(403);
    const expired = await newRobot([{ project, action: "pull" }], { expiresAt: Date.now() - 1000 });
    const disabled = await newRobot([{ project, action: "pull" }], { disabled: true });
    for (const robot of [expired, disabled]) {
      const response = await request(`/v2/${name}/manifests/v1`, {}, robot);
      expect(response.status).toBe(401);
      expect(await errorCode(response)).toBe("UNAUTHORIZED");
    }
  });
});

describe("name tricks are refused before any access decision, the same for everyone", () => {
  const cases: [string, string, string][] = [
    ["GET", "/v2/Team/App/manifests/v1", "NAME_INVALID"],
    ["GET", "/v2/team/.hidden/manifests/v1", "NAME_INVALID"],
    ["GET", "/v2/team%2Fapp/manifests/v1", "NAME_INVALID"],
    ["GET", "/v2/team%2e%2e/app/manifests/v1", "NAME_INVALID"],
    ["GET", `/v2/team/${"a".repeat(300)}/manifests/v1`, "NAME_INVALID"],
    ["POST", "/v2/single/blobs/uploads/", "NAME_INVALID"],
    ["PUT", "/v2/single/manifests/v1", "NAME_INVALID"],
  ];
  for (const [method, path, code] of cases) {
    it(`${method} ${path.slice(0, 60)} → ${code}, anonymous or not`, async () => {
      for (const as of [null, await newUser()]) {
        const response = await request(path, { method, body: method === "PUT" ? "{}" : undefined }, as);
        expect(response.status).toBe(400);
        expect(await errorCode(response)).toBe(code);
      }
    });
  }
});

describe("cross-repository mounts", () => {
  it("link a blob only from a repository the pusher may pull; otherwise an upload session, nothing linked", async () => {
    const { name: secret, image } = await privateImage();
    const developer = await newUser();
    const own = await newProject({ members: [[developer, "developer"]] });
    const target = `${own}/app`;
    for (const query of [`mount=${image.layer.digest}&from=${secret}`, `mount=${image.layer.digest}`]) {
      const response = await request(`/v2/${target}/blobs/uploads/?${query}`, { method: "POST" }, developer);
      expect(response.status, query).toBe(202);
      expect(response.headers.get("Location")).toMatch(new RegExp(`^/v2/${target}/blobs/uploads/`));
    }
    expect((await request(`/v2/${target}/blobs/${image.layer.digest}`, { method: "HEAD" })).status).toBe(404);
    // Challenged, a mount names the source's pull too, so a token fetched for the challenge's
    // scope (as the conformance suite's client does) serves the whole request.
    const challenged = await request(`/v2/${target}/blobs/uploads/?mount=${image.layer.digest}&from=${secret}`, { method: "POST" }, null);
    expect(challenged.headers.get("WWW-Authenticate")).toBe(`${CHALLENGE},scope="repository:${target}:pull,push repository:${secret}:pull"`);
    const scopes = /scope="([^"]+)"/.exec(challenged.headers.get("WWW-Authenticate")!)![1]!.split(" ");
    const tokenResponse = await getToken(scopes.map((scope) => ["scope", scope] as [string, string]), ADMIN);
    const token = `Bearer ${((await tokenResponse.json()) as { token: string }).token}`;
    const withToken = await request(`/v2/${target}/blobs/uploads/?mount=${image.layer.digest}&from=${secret}`, { method: "POST", headers: { Authorization: token } }, null);
    expect(withToken.status).toBe(201);
    expect((await request(`/v2/${target}/blobs/${image.layer.digest}`, { method: "DELETE" })).status).toBe(202);
    // The admin may pull the source, so the same mount links the blob.
    const mounted = await request(`/v2/${target}/blobs/uploads/?mount=${image.layer.digest}&from=${secret}`, { method: "POST" });
    expect(mounted.status).toBe(201);
  });
});

describe("first push into a project that does not exist", () => {
  it("creates it, private, when the admin pushes", async () => {
    const project = `new-${crypto.randomUUID().slice(0, 8)}`;
    await pushBlob(`${project}/app`, randomBytes(16, 5));
    const view = await request(`/api/v1/projects/${project}`);
    expect(view.status).toBe(200);
    expect(await view.json()).toMatchObject({ name: project, public: false });
    expect((await request(`/v2/${project}/app/tags/list`, {}, null)).status).toBe(401);
  });

  it("is NAME_UNKNOWN for a user while users may not create projects, and creates nothing", async () => {
    const project = `new-${crypto.randomUUID().slice(0, 8)}`;
    const response = await request(`/v2/${project}/app/blobs/uploads/`, { method: "POST" }, await newUser());
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("NAME_UNKNOWN");
    expect((await request(`/api/v1/projects/${project}`)).status).toBe(404);
  });
});

describe("the cache API (/api/v1/cache)", () => {
  it("is for system admins: 401 without credentials, 403 for a user", async () => {
    expect((await request("/api/v1/cache/stats", {}, null)).status).toBe(401);
    const user = await newUser();
    const denied = await request("/api/v1/cache/stats", { headers: { Authorization: basic(user) } }, null);
    expect(denied.status).toBe(403);
    expect(await errorCode(denied)).toBe("DENIED");
    expect((await request("/api/v1/cache/stats")).status).toBe(200);
  });
});
