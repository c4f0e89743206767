// POST /token: the OAuth2 password and refresh_token grants (RFC 6749 §4.3, §6) as docker and
// containerd send them (distribution's "OAuth2 Token Authentication").
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { ADMIN, getToken, newProject, newUser, postToken } from "../helpers/identities";
import { request } from "../helpers/registry";

const SERVICE = "registry.test";

interface TokenBody {
  access_token: string;
  token: string;
  token_type: string;
  expires_in: number;
  issued_at: string;
  scope: string;
  refresh_token?: string;
}

async function refreshTokenFor(login: { username: string; password: string }): Promise<string> {
  const response = await postToken({ grant_type: "password", username: login.username, password: login.password, service: SERVICE, client_id: "docker", access_type: "offline" });
  return ((await response.json()) as TokenBody).refresh_token!;
}

describe("POST /token with the password grant", () => {
  it("answers docker login's form with an access token and a refresh token", async () => {
    const project = await newProject();
    const response = await postToken({
      grant_type: "password",
      username: ADMIN.username,
      password: ADMIN.password,
      service: SERVICE,
      client_id: "docker",
      access_type: "offline",
      scope: `repository:${project}/app:pull,push`,
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as TokenBody;
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 900, scope: `repository:${project}/app:pull,push` });
    expect(body.token).toBe(body.access_token);
    expect(decodeJwt(body.access_token)).toMatchObject({ sub: "admin", aud: SERVICE });
    expect(typeof body.refresh_token).toBe("string");
  });

  it("issues no refresh token unless access_type=offline", async () => {
    const body = (await (await postToken({ grant_type: "password", username: ADMIN.username, password: ADMIN.password })).json()) as TokenBody;
    expect(body.refresh_token).toBeUndefined();
  });

  it("answers only the scope granted", async () => {
    const gina = await newUser();
    const project = await newProject({ members: [[gina, "guest"]] });
    const response = await postToken({ grant_type: "password", username: gina.username, password: gina.password, scope: `repository:${project}/app:pull,push` });
    expect(((await response.json()) as TokenBody).scope).toBe(`repository:${project}/app:pull`);
  });

  it("answers 401 invalid_grant, with the registry's error list, for a wrong password", async () => {
    const response = await postToken({ grant_type: "password", username: ADMIN.username, password: "not-the-password", client_id: "docker" });
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toMatch(/^Basic /);
    expect(await response.json()).toMatchObject({ error: "invalid_grant", errors: [{ code: "UNAUTHORIZED" }] });
  });

  it("answers 400 invalid_request without a password", async () => {
    const response = await postToken({ grant_type: "password", username: ADMIN.username });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_request" });
  });
});

describe("POST /token with the refresh_token grant", () => {
  it("issues a token for the refresh token's account, with its current access", async () => {
    const gina = await newUser();
    const project = await newProject({ members: [[gina, "maintainer"]] });
    const response = await postToken({ grant_type: "refresh_token", refresh_token: await refreshTokenFor(gina), service: SERVICE, scope: `repository:${project}/app:pull,push,delete` });
    expect(response.status).toBe(200);
    const body = (await response.json()) as TokenBody;
    expect(decodeJwt(body.access_token)).toMatchObject({ sub: gina.username, access: [{ type: "repository", name: `${project}/app`, actions: ["pull", "push", "delete"] }] });
  });

  it("accepts the refresh token GET /token gave docker login", async () => {
    const got = (await (await getToken([["offline_token", "true"]], ADMIN)).json()) as TokenBody;
    expect((await postToken({ grant_type: "refresh_token", refresh_token: got.refresh_token! })).status).toBe(200);
  });

  it("refuses an access token as refresh token", async () => {
    const got = (await (await getToken([], ADMIN)).json()) as TokenBody;
    const response = await postToken({ grant_type: "refresh_token", refresh_token: got.access_token });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: "invalid_grant" });
  });

  it("answers 400 invalid_request without a refresh token", async () => {
    expect(await (await postToken({ grant_type: "refresh_token" })).json()).toMatchObject({ error: "invalid_request" });
  });
});

describe("POST /token with anything else", () => {
  it("answers 400 unsupported_grant_type for another grant", async () => {
    const response = await postToken({ grant_type: "client_credentials" });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "unsupported_grant_type" });
  });

  it("answers 400 invalid_request without a grant_type", async () => {
    expect(await (await postToken({ username: "admin" })).json()).toMatchObject({ error: "invalid_request" });
  });

  it("answers 400 invalid_request for a body that is not a form", async () => {
    const response = await request("/token", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_request" });
  });

  it("answers 400 invalid_request for another registry's service", async () => {
    const response = await postToken({ grant_type: "password", username: ADMIN.username, password: ADMIN.password, service: "other.example" });
    expect(await response.json()).toMatchObject({ error: "invalid_request" });
  });
});
