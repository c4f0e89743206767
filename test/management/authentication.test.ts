// Who may call the management API: every endpoint needs credentials (Basic or Bearer), wrong
// ones are refused, and the cache endpoints beside it keep their own rules.
import { describe, expect, it } from "vitest";
import { getToken, newRobot } from "../helpers/identities";
import { ADMIN, api, apiJson, apiProject, apiRobot, expectError, newUser } from "../helpers/management";
import { request } from "../helpers/registry";

describe("management API authentication", () => {
  it.each(["/users", "/projects", "/robots", "/audit-logs", "/projects/some-team/members"])("answers %s without credentials with 401 and a Basic challenge", async (path) => {
    const response = await api(path, { as: null });
    expect(response.headers.get("WWW-Authenticate")).toBe('Basic realm="Pier"');
    await expectError(response, 401, "UNAUTHORIZED");
  });

  it("refuses a write without credentials before reading its body", async () => {
    await expectError(await api("/projects", { as: null, body: { name: "team" } }), 401, "UNAUTHORIZED");
  });

  it("answers a wrong password with 401 and a Basic challenge, never as anonymous", async () => {
    const gina = await newUser();
    const response = await api("/projects", { as: { ...gina, password: "not her password" } });
    expect(response.headers.get("WWW-Authenticate")).toBe('Basic realm="Pier"');
    await expectError(response, 401, "UNAUTHORIZED");
  });

  it("answers an invalid bearer token with 401", async () => {
    const response = await request("/api/v1/projects", { headers: { Authorization: "Bearer not.a.token" } });
    await expectError(response, 401, "UNAUTHORIZED");
  });

  it("refuses a robot past its expiry with 401", async () => {
    const project = await apiProject();
    const robot = await newRobot([{ project, action: "pull" }], { expiresAt: Date.now() - 1000 });
    await expectError(await api("/projects", { as: robot }), 401, "UNAUTHORIZED");
  });

  it("refuses a disabled user with 401", async () => {
    const gina = await newUser({ disabled: true });
    await expectError(await api("/projects", { as: gina }), 401, "UNAUTHORIZED");
  });

  it("accepts Basic credentials of a user", async () => {
    const gina = await newUser();
    expect((await api("/projects", { as: gina })).status).toBe(200);
  });

  it("accepts a bearer token from GET /token, acting as the account behind it", async () => {
    const gina = await newUser();
    const { token } = (await (await getToken([], gina)).json()) as { token: string };
    const response = await request(`/api/v1/users/${gina.username}`, { headers: { Authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ username: gina.username });
  });

  it("accepts a robot's login name and secret", async () => {
    const project = await apiProject();
    const robot = await apiRobot(project, { permissions: ["pull"] });
    const body = await apiJson<{ items: { name: string }[] }>("/projects", { as: robot });
    expect(body.items.map((item) => item.name)).toContain(project);
  });

  it("accepts the admin from ADMIN_PASSWORD", async () => {
    expect((await api("/users", { as: ADMIN })).status).toBe(200);
  });

  it("leaves the cache endpoints as they were", async () => {
    expect((await request("/api/v1/cache/stats")).status).toBe(200);
  });

  it("answers an unknown endpoint with 404", async () => {
    expect((await api("/nothing-here")).status).toBe(404);
  });
});
