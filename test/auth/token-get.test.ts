// GET /token (distribution's "Token Authentication Specification"): Basic credentials or none,
// and a token carrying only the access the principal really has.
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { setRobotDisabled } from "../../worker/storage/db/queries/robots";
import { ADMIN, accessOf, db, getToken, newProject, newRobot, newUser, unique } from "../helpers/identities";
import { request } from "../helpers/registry";

const SERVICE = "registry.test";

describe("GET /token without credentials", () => {
  it("issues an anonymous token with no access to a private project", async () => {
    const project = await newProject();
    const response = await getToken([["service", SERVICE], ["scope", `repository:${project}/app:pull`]]);
    expect(response.status).toBe(200);
    expect(await accessOf(response)).toEqual([]);
  });

  it("lets anonymous pull, and only pull, from a public project", async () => {
    const project = await newProject({ public: true });
    const response = await getToken([["scope", `repository:${project}/app:pull,push,delete`]]);
    expect(await accessOf(response)).toEqual([{ type: "repository", name: `${project}/app`, actions: ["pull"] }]);
  });

  it("signs for this registry with an empty subject", async () => {
    const body = (await (await getToken([["service", SERVICE]])).json()) as { token: string };
    expect(decodeJwt(body.token)).toMatchObject({ sub: "", iss: "http://registry.test", aud: SERVICE });
  });

  it("answers token, access_token, expires_in and issued_at, and no refresh token", async () => {
    const body = (await (await getToken([["offline_token", "true"]])).json()) as Record<string, unknown>;
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBe(900);
    expect(Date.parse(body.issued_at as string)).not.toBeNaN();
    expect(body.refresh_token).toBeUndefined();
  });

  it("is never cached", async () => {
    expect((await getToken([])).headers.get("Cache-Control")).toBe("no-store");
  });

  it("refuses a service that is not this registry's", async () => {
    expect((await getToken([["service", "other.example"]])).status).toBe(400);
  });
});

describe("GET /token with a user's Basic credentials", () => {
  it("gives the admin pull, push and delete everywhere", async () => {
    const project = await newProject();
    const response = await getToken([["scope", `repository:${project}/app:*`]], ADMIN);
    expect(await accessOf(response)).toEqual([{ type: "repository", name: `${project}/app`, actions: ["pull", "push", "delete"] }]);
  });

  it("names the user as subject", async () => {
    const body = (await (await getToken([], ADMIN)).json()) as { token: string };
    expect(decodeJwt(body.token).sub).toBe("admin");
  });

  it("gives a member what its role allows: a developer pulls and pushes, never deletes", async () => {
    const gina = await newUser();
    const project = await newProject({ members: [[gina, "developer"]] });
    const response = await getToken([["scope", `repository:${project}/app:pull,push,delete`]], gina);
    expect(await accessOf(response)).toEqual([{ type: "repository", name: `${project}/app`, actions: ["pull", "push"] }]);
  });

  it("gives a user without a role nothing in a private project", async () => {
    const project = await newProject();
    const response = await getToken([["scope", `repository:${project}/app:pull`]], await newUser());
    expect(await accessOf(response)).toEqual([]);
  });

  it("answers 401 with a challenge for a wrong password", async () => {
    const response = await getToken([["scope", "repository:team/app:pull"]], { ...ADMIN, password: "not-the-password" });
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toMatch(/^Basic realm="registry\.test"/);
    expect(await response.json()).toMatchObject({ errors: [{ code: "UNAUTHORIZED" }] });
  });

  it("answers 401 for an unknown user", async () => {
    expect((await getToken([], { username: unique("nobody"), password: "whatever-it-is" })).status).toBe(401);
  });

  it("answers 401 for a disabled user with the right password", async () => {
    expect((await getToken([], await newUser({ disabled: true }))).status).toBe(401);
  });

  it("answers 401 for malformed Basic credentials", async () => {
    expect((await getToken([], undefined, { Authorization: "Basic !!!" })).status).toBe(401);
  });

  it("refuses a bearer token in place of credentials", async () => {
    const body = (await (await getToken([], ADMIN)).json()) as { token: string };
    expect((await getToken([], undefined, { Authorization: `Bearer ${body.token}` })).status).toBe(401);
  });

  it("adds a refresh token when offline_token=true", async () => {
    const body = (await (await getToken([["offline_token", "true"], ["client_id", "docker"], ["account", "admin"]], ADMIN)).json()) as Record<string, unknown>;
    expect(typeof body.refresh_token).toBe("string");
  });
});

describe("GET /token for a project that does not exist", () => {
  it("lets the admin push to it (the first push creates it), and pull: docker and skopeo ask whether each blob is there first", async () => {
    const name = `${unique("new")}/app`;
    expect(await accessOf(await getToken([["scope", `repository:${name}:pull,push`]], ADMIN))).toEqual([{ type: "repository", name, actions: ["pull", "push"] }]);
  });

  it("lets no ordinary user push to it or pull from it while users may not create projects", async () => {
    const name = `${unique("new")}/app`;
    expect(await accessOf(await getToken([["scope", `repository:${name}:pull,push`]], await newUser()))).toEqual([]);
  });

  it("gives anonymous callers nothing", async () => {
    const name = `${unique("new")}/app`;
    expect(await accessOf(await getToken([["scope", `repository:${name}:pull`]]))).toEqual([]);
  });
});

describe("GET /token with a robot's credentials", () => {
  it("gives the robot its permissions, in its project only", async () => {
    const project = await newProject();
    const other = await newProject();
    const robot = await newRobot([{ project, action: "pull" }, { project, action: "push" }]);
    const response = await getToken([["scope", `repository:${project}/app:*`], ["scope", `repository:${other}/app:pull`]], robot);
    expect(await accessOf(response)).toEqual([{ type: "repository", name: `${project}/app`, actions: ["pull", "push"] }]);
  });

  it("answers 401 once the robot has expired", async () => {
    const project = await newProject();
    const robot = await newRobot([{ project, action: "pull" }], { expiresAt: Date.now() - 1000 });
    expect((await getToken([["scope", `repository:${project}/app:pull`]], robot)).status).toBe(401);
  });

  it("answers 401 once the robot is disabled", async () => {
    const project = await newProject();
    const robot = await newRobot([{ project, action: "pull" }]);
    await setRobotDisabled(db, robot.username, true);
    expect((await getToken([["scope", `repository:${project}/app:pull`]], robot)).status).toBe(401);
  });
});

describe("GET /token with several scopes", () => {
  it("decides each scope on its own, in repeated parameters and space-separated in one", async () => {
    const gina = await newUser();
    const mine = await newProject({ members: [[gina, "guest"]] });
    const open = await newProject({ public: true });
    const closed = await newProject();
    const response = await getToken(
      [
        ["scope", `repository:${mine}/app:pull,push`],
        ["scope", `repository:${open}/base:pull repository:${closed}/app:pull`],
      ],
      gina,
    );
    expect(await accessOf(response)).toEqual([
      { type: "repository", name: `${mine}/app`, actions: ["pull"] },
      { type: "repository", name: `${open}/base`, actions: ["pull"] },
    ]);
  });
});

describe("GET /token for a proxied name", () => {
  it("lets anonymous pull, and only pull, from the hub proxy project", async () => {
    const response = await getToken([["scope", "repository:hub/library/alpine:pull,push"]]);
    expect(await accessOf(response)).toEqual([{ type: "repository", name: "hub/library/alpine", actions: ["pull"] }]);
  });
});

describe("GET /token for the catalog", () => {
  it("grants registry:catalog:* to a signed-in user", async () => {
    const response = await getToken([["scope", "registry:catalog:*"]], await newUser());
    expect(await accessOf(response)).toEqual([{ type: "registry", name: "catalog", actions: ["*"] }]);
  });

  it("grants anonymous no catalog", async () => {
    expect(await accessOf(await getToken([["scope", "registry:catalog:*"]]))).toEqual([]);
  });
});

describe("the registry API", () => {
  it("still answers GET /v2/ without credentials (enforcement comes later)", async () => {
    expect((await request("/v2/")).status).toBe(200);
  });
});
