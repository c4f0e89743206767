// A user after creation: disabled and enabled, given a new password, deleted (with their project
// memberships); all by a system admin, all audited, and each felt at once by a login this
// isolate had already verified. The `admin` user is left alone.
import { describe, expect, it } from "vitest";
import { api, apiJson, apiProject, auditOf, expectError, type Login, member, newUser, unique } from "../helpers/management";

const NEW_PASSWORD = "a-brand-new-password";

/**
 * Whether the login signs in through the app, as a client would: unlike `signsIn`, this goes
 * through the isolate's cache of verified Basic logins, which the changes here must clear.
 */
async function logsIn(login: Login): Promise<boolean> {
  const response = await api(`/users/${login.username}`, { as: login });
  await response.body?.cancel();
  if (response.status !== 200 && response.status !== 401) throw new Error(`unexpected status ${response.status}`);
  return response.status === 200;
}

describe("PATCH /api/v1/users/{username}", () => {
  it("disables a user, whose verified login then stops working at once", async () => {
    const gina = await newUser();
    expect(await logsIn(gina)).toBe(true);
    expect(await apiJson(`/users/${gina.username}`, { method: "PATCH", body: { disabled: true } })).toMatchObject({ username: gina.username, disabled: true });
    expect(await logsIn(gina)).toBe(false);
  });

  it("enables a disabled user again", async () => {
    const gina = await newUser({ disabled: true });
    expect(await apiJson(`/users/${gina.username}`, { method: "PATCH", body: { disabled: false } })).toMatchObject({ disabled: false });
    expect(await logsIn(gina)).toBe(true);
  });

  it("changes the password: the old one stops working, the new one works", async () => {
    const gina = await newUser();
    expect(await logsIn(gina)).toBe(true);
    await apiJson(`/users/${gina.username}`, { method: "PATCH", body: { password: NEW_PASSWORD } });
    expect(await logsIn(gina)).toBe(false);
    expect(await logsIn({ username: gina.username, password: NEW_PASSWORD })).toBe(true);
  });

  it("audits disabling, enabling and a new password", async () => {
    const gina = await newUser();
    await apiJson(`/users/${gina.username}`, { method: "PATCH", body: { disabled: true } });
    await apiJson(`/users/${gina.username}`, { method: "PATCH", body: { disabled: false, password: NEW_PASSWORD } });
    const items = await auditOf({ principal: "admin" });
    const mine = items.filter((item) => item.resource === gina.username).map(({ action, result, project }) => ({ action, result, project }));
    expect(mine).toEqual(
      expect.arrayContaining([
        { action: "user.disable", result: "success", project: null },
        { action: "user.enable", result: "success", project: null },
        { action: "user.password", result: "success", project: null },
      ]),
    );
  });

  it.each([
    ["disabling", { disabled: true }],
    ["a new password", { password: NEW_PASSWORD }],
  ])("refuses %s for the admin with 400", async (_, body) => {
    const message = await expectError(await api("/users/admin", { method: "PATCH", body }), 400, "INVALID_REQUEST");
    expect(message).toContain("ADMIN_PASSWORD");
  });

  it.each([
    ["an empty body", {}],
    ["a disabled that is not a boolean", { disabled: "yes" }],
    ["a short password", { password: "short" }],
  ])("answers %s with 400 INVALID_REQUEST", async (_, body) => {
    const gina = await newUser();
    await expectError(await api(`/users/${gina.username}`, { method: "PATCH", body }), 400, "INVALID_REQUEST");
  });

  it("answers an unknown user with 404", async () => {
    await expectError(await api(`/users/${unique("nobody")}`, { method: "PATCH", body: { disabled: true } }), 404, "NAME_UNKNOWN");
  });

  it("refuses a user who is not a system admin with 403, audited as denied", async () => {
    const gina = await newUser();
    const hank = await newUser();
    await expectError(await api(`/users/${hank.username}`, { as: gina, method: "PATCH", body: { disabled: true } }), 403, "DENIED");
    expect(await auditOf({ principal: gina.username, action: "user.update" })).toMatchObject([{ resource: hank.username, result: "denied" }]);
    expect(await logsIn(hank)).toBe(true);
  });
});

describe("DELETE /api/v1/users/{username}", () => {
  it("deletes a user: 404 afterwards, and their verified login stops working at once", async () => {
    const gina = await newUser();
    expect(await logsIn(gina)).toBe(true);
    const response = await api(`/users/${gina.username}`, { method: "DELETE" });
    expect(response.status).toBe(204);
    await expectError(await api(`/users/${gina.username}`), 404, "NAME_UNKNOWN");
    expect(await logsIn(gina)).toBe(false);
  });

  it("removes the user's project memberships", async () => {
    const project = await apiProject();
    const gina = await member(project, "developer");
    await api(`/users/${gina.username}`, { method: "DELETE" });
    const members = await apiJson<{ items: { username: string }[] }>(`/projects/${project}/members`);
    expect(members.items.map((item) => item.username)).not.toContain(gina.username);
  });

  it("audits the deletion", async () => {
    const gina = await newUser();
    await api(`/users/${gina.username}`, { method: "DELETE" });
    expect(await auditOf({ principal: "admin", action: "user.delete" })).toContainEqual(expect.objectContaining({ resource: gina.username, result: "success", project: null }));
  });

  it("refuses to delete the admin with 400", async () => {
    await expectError(await api("/users/admin", { method: "DELETE" }), 400, "INVALID_REQUEST");
    expect(await apiJson("/users/admin")).toMatchObject({ username: "admin", admin: true });
  });

  it("answers an unknown user with 404", async () => {
    await expectError(await api(`/users/${unique("nobody")}`, { method: "DELETE" }), 404, "NAME_UNKNOWN");
  });

  it("refuses a user who is not a system admin with 403, audited as denied", async () => {
    const gina = await newUser();
    const hank = await newUser();
    await expectError(await api(`/users/${hank.username}`, { as: gina, method: "DELETE" }), 403, "DENIED");
    expect(await auditOf({ principal: gina.username, action: "user.delete" })).toMatchObject([{ resource: hank.username, result: "denied" }]);
    expect(await logsIn(hank)).toBe(true);
  });
});
