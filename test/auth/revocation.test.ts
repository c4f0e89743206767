// A changed credential stops working (issue 9, "Revocation"): after a password change, a new
// robot secret, a disable or delete, a removed membership or a lowered role, no credential
// issued before opens more than the account's new state allows. Changes here go through the
// management API, so this isolate sees them at once; revocation-bounds.test.ts covers changes
// made elsewhere.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { apiStatus, credentialsFor, deleteStatus, pullStatus, pushStatus, refreshStatus } from "../helpers/credentials";
import { ADMIN, basic, getToken, type Login, newUser } from "../helpers/identities";
import { api, apiJson, apiProject, apiRobot, member, shortName } from "../helpers/management";
import { pushImage, request } from "../helpers/registry";
import { pierWith } from "../helpers/rotated-pier";

/** A private project holding one image, and its repository and manifest digest. */
async function projectWithImage(): Promise<{ project: string; repository: string; digest: string }> {
  const project = await apiProject();
  const repository = `${project}/app`;
  const { digest } = await pushImage(repository, "v1");
  return { project, repository, digest };
}

describe("a new password", () => {
  it("refuses the refresh token, the access token and the remembered login issued before, at once", async () => {
    const { project, repository } = await projectWithImage();
    const dev = await member(project, "developer");
    const held = await credentialsFor(dev, repository, "pull,push");
    expect((await request(`/v2/${repository}/tags/list`, {}, dev)).status).toBe(200);
    await apiJson(`/users/${dev.username}`, { method: "PATCH", body: { password: "a-brand-new-password" } });
    expect(await refreshStatus(held.refreshToken)).toBe(401);
    expect(await pushStatus(held.token, repository)).toBe(401);
    expect(await pullStatus(held.token, repository)).toBe(401);
    expect((await request(`/v2/${repository}/tags/list`, {}, dev)).status).toBe(401);
    expect((await request(`/v2/${repository}/tags/list`, {}, { ...dev, password: "a-brand-new-password" })).status).toBe(200);
  });
});

describe("a robot's new secret", () => {
  it("refuses its refresh token and its access token at once; the new secret works", async () => {
    const { project, repository } = await projectWithImage();
    const robot = await apiRobot(project, { permissions: ["pull", "push"] });
    const held = await credentialsFor(robot, repository, "pull,push");
    const { secret } = await apiJson<{ secret: string }>(`/projects/${project}/robots/${shortName(robot.username)}/secret`, { method: "POST" });
    expect(await refreshStatus(held.refreshToken)).toBe(401);
    expect(await pushStatus(held.token, repository)).toBe(401);
    expect(await pullStatus(held.token, repository)).toBe(401);
    expect((await request(`/v2/${repository}/tags/list`, {}, robot)).status).toBe(401);
    const fresh = await credentialsFor({ username: robot.username, password: secret }, repository, "pull,push");
    expect(await pushStatus(fresh.token, repository)).toBe(202);
  });
});

describe("disabling", () => {
  it("refuses a user's tokens for push, pull, refresh and the management API alike", async () => {
    const { project, repository } = await projectWithImage();
    const dev = await member(project, "developer");
    const held = await credentialsFor(dev, repository, "pull,push");
    expect(await pushStatus(held.token, repository)).toBe(202);
    await apiJson(`/users/${dev.username}`, { method: "PATCH", body: { disabled: true } });
    expect(await pushStatus(held.token, repository)).toBe(401);
    expect(await pullStatus(held.token, repository)).toBe(401);
    expect(await apiStatus(held.token)).toBe(401);
    expect(await refreshStatus(held.refreshToken)).toBe(401);
  });

  it("revives no token when the account is enabled again", async () => {
    const { project, repository } = await projectWithImage();
    const dev = await member(project, "developer");
    const held = await credentialsFor(dev, repository, "pull,push");
    await apiJson(`/users/${dev.username}`, { method: "PATCH", body: { disabled: true } });
    await apiJson(`/users/${dev.username}`, { method: "PATCH", body: { disabled: false } });
    expect(await pushStatus(held.token, repository)).toBe(401);
    expect(await refreshStatus(held.refreshToken)).toBe(401);
    expect(await pushStatus((await credentialsFor(dev, repository, "pull,push")).token, repository)).toBe(202);
  });

  it("refuses a disabled robot's tokens", async () => {
    const { project, repository } = await projectWithImage();
    const robot = await apiRobot(project, { permissions: ["pull", "push"] });
    const held = await credentialsFor(robot, repository, "pull,push");
    await apiJson(`/projects/${project}/robots/${shortName(robot.username)}`, { method: "PATCH", body: { disabled: true } });
    expect(await pushStatus(held.token, repository)).toBe(401);
    expect(await pullStatus(held.token, repository)).toBe(401);
    expect(await refreshStatus(held.refreshToken)).toBe(401);
  });
});

describe("deleting an account", () => {
  it("leaves nothing to a new account of the same name: old tokens and refresh tokens are refused", async () => {
    const { project, repository } = await projectWithImage();
    const dev = await member(project, "developer");
    const held = await credentialsFor(dev, repository, "pull,push");
    expect((await api(`/users/${dev.username}`, { method: "DELETE" })).status).toBe(204);
    await apiJson("/users", { body: { username: dev.username, password: dev.password } }, 201);
    await apiJson(`/projects/${project}/members`, { body: { username: dev.username, role: "developer" } }, 201);
    expect(await pushStatus(held.token, repository)).toBe(401);
    expect(await pullStatus(held.token, repository)).toBe(401);
    expect(await refreshStatus(held.refreshToken)).toBe(401);
    // The new account's own credentials work.
    expect(await pushStatus((await credentialsFor(dev, repository, "pull,push")).token, repository)).toBe(202);
  });

  it("refuses a deleted robot's tokens even after a robot of the same name is created", async () => {
    const { project, repository } = await projectWithImage();
    const name = `ci-${crypto.randomUUID().slice(0, 8)}`;
    const robot = await apiRobot(project, { name, permissions: ["pull", "push"] });
    const held = await credentialsFor(robot, repository, "pull,push");
    expect((await api(`/projects/${project}/robots/${name}`, { method: "DELETE" })).status).toBe(204);
    await apiRobot(project, { name, permissions: ["pull", "push"] });
    expect(await pushStatus(held.token, repository)).toBe(401);
    expect(await refreshStatus(held.refreshToken)).toBe(401);
  });
});

describe("a removed member or a lowered role", () => {
  it("refuses a removed maintainer's token for delete and pull; the refresh token gets what is left", async () => {
    const { project, repository, digest } = await projectWithImage();
    const maintainer = await member(project, "maintainer");
    const held = await credentialsFor(maintainer, repository);
    expect((await api(`/projects/${project}/members/${maintainer.username}`, { method: "DELETE" })).status).toBe(204);
    expect(await deleteStatus(held.token, repository, digest)).toBe(401);
    expect(await pullStatus(held.token, repository)).toBe(401);
    // Refresh tokens carry no access: a new token holds what the account has now (nothing here).
    const refreshed = await request("/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: held.refreshToken, scope: `repository:${repository}:pull,delete` }).toString(),
    }, null);
    expect(refreshed.status).toBe(200);
    expect(((await refreshed.json()) as { scope: string }).scope).toBe("");
  });

  it("refuses a maintainer's delete once lowered to developer; a new token pulls and pushes", async () => {
    const { project, repository, digest } = await projectWithImage();
    const maintainer = await member(project, "maintainer");
    const held = await credentialsFor(maintainer, repository);
    await apiJson(`/projects/${project}/members`, { body: { username: maintainer.username, role: "developer" } }, 201);
    expect(await deleteStatus(held.token, repository, digest)).toBe(401);
    const fresh = await credentialsFor(maintainer, repository);
    // Asked for delete, the new token carries none: the registry answers insufficient_scope.
    expect(await deleteStatus(fresh.token, repository, digest)).toBe(401);
    expect(await pushStatus(fresh.token, repository)).toBe(202);
  });

  it("keeps a raised member's tokens working: nothing was taken away", async () => {
    const { project, repository } = await projectWithImage();
    const dev = await member(project, "developer");
    const held = await credentialsFor(dev, repository, "pull,push");
    await apiJson(`/projects/${project}/members`, { body: { username: dev.username, role: "maintainer" } }, 201);
    expect(await pushStatus(held.token, repository)).toBe(202);
  });

  it("refuses old members' tokens in a project deleted and created again under the same name", async () => {
    const project = await apiProject();
    const repository = `${project}/app`;
    const dev = await member(project, "developer");
    const held = await credentialsFor(dev, repository, "pull,push");
    expect((await api(`/projects/${project}`, { method: "DELETE" })).status).toBe(204);
    await apiJson("/projects", { body: { name: project } }, 201);
    expect(await pushStatus(held.token, repository)).toBe(401);
  });
});

describe("a project made private", () => {
  it("refuses anonymous tokens issued while it was public", async () => {
    const project = await apiProject({ public: true });
    const repository = `${project}/app`;
    await pushImage(repository, "v1");
    const anonymous = (await (await getToken([["scope", `repository:${repository}:pull`]])).json()) as { token: string };
    expect(await pullStatus(anonymous.token, repository)).toBe(200);
    await apiJson(`/projects/${project}`, { method: "PATCH", body: { public: false } });
    expect(await pullStatus(anonymous.token, repository)).toBe(401);
  });

  it("keeps members' tokens pulling, and refuses those of signed-in users without a role", async () => {
    const project = await apiProject({ public: true });
    const repository = `${project}/app`;
    await pushImage(repository, "v1");
    const guest = await member(project, "guest");
    const outsider: Login = await newUser();
    const [guestToken, outsiderToken] = [(await credentialsFor(guest, repository, "pull")).token, (await credentialsFor(outsider, repository, "pull")).token];
    await apiJson(`/projects/${project}`, { method: "PATCH", body: { public: false } });
    expect(await pullStatus(guestToken, repository)).toBe(200);
    expect(await pullStatus(outsiderToken, repository)).toBe(404);
  });
});

describe("a new ADMIN_PASSWORD", () => {
  it("refuses the admin's tokens and refresh tokens issued under the old one, though nobody signed in with the new one", async () => {
    const held = await credentialsFor(ADMIN, "anything/app", "pull");
    const restarted = pierWith({ PIER_SIGNING_KEY: env.PIER_SIGNING_KEY, ADMIN_PASSWORD: "a-new-admin-password" });
    const bearer = { headers: { Authorization: `Bearer ${held.token}` } };
    expect((await restarted("/v2/", bearer)).status).toBe(401);
    const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: held.refreshToken }).toString();
    expect((await restarted("/token", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: form })).status).toBe(401);
    // The admin signs in with the password of the Pier it talks to, and gets fresh tokens there.
    expect((await restarted("/v2/", { headers: { Authorization: basic({ username: "admin", password: "a-new-admin-password" }) } })).status).toBe(200);
  });
});
