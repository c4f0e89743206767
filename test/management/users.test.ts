// POST/GET /api/v1/users: accounts are made and listed by system admins; a user reads their own.
import { describe, expect, it } from "vitest";
import { api, apiJson, auditOf, expectError, newUser, signsIn, unique } from "../helpers/management";

const PASSWORD = "a-long-enough-password";

describe("POST /api/v1/users", () => {
  it("creates a user (201) with the fixed request shape", async () => {
    const username = unique("gina");
    const response = await api("/users", { body: { username, password: PASSWORD } });
    expect(response.status).toBe(201);
    expect(response.headers.get("Location")).toBe(`/api/v1/users/${username}`);
    const body = await response.json();
    expect(body).toMatchObject({ username, admin: false, disabled: false });
    expect(body).not.toHaveProperty("password");
    expect(body).not.toHaveProperty("passwordHash");
  });

  it("lets the new user sign in with that password", async () => {
    const username = unique("gina");
    await apiJson("/users", { body: { username, password: PASSWORD } }, 201);
    expect(await signsIn({ username, password: PASSWORD })).toBe(true);
  });

  it("answers a taken username with 409", async () => {
    const username = unique("gina");
    await apiJson("/users", { body: { username, password: PASSWORD } }, 201);
    await expectError(await api("/users", { body: { username, password: PASSWORD } }), 409, "CONFLICT");
  });

  it("answers the admin's name with 409 even before the admin row exists", async () => {
    await expectError(await api("/users", { body: { username: "admin", password: PASSWORD } }), 409, "CONFLICT");
  });

  it("answers a body over 64 KiB with 413 SIZE_INVALID", async () => {
    await expectError(await api("/users", { body: { username: unique("gina"), password: "p".repeat(70_000) } }), 413, "SIZE_INVALID");
  });

  it("refuses a user who is not a system admin with 403", async () => {
    const gina = await newUser();
    await expectError(await api("/users", { as: gina, body: { username: unique("x"), password: PASSWORD } }), 403, "DENIED");
  });

  it("audits a refused attempt as denied", async () => {
    const gina = await newUser();
    const username = unique("x");
    await api("/users", { as: gina, body: { username, password: PASSWORD } });
    expect(await auditOf({ principal: gina.username, action: "user.create" })).toMatchObject([{ resource: username, result: "denied" }]);
  });

  it("audits a creation with the admin as principal", async () => {
    const username = unique("gina");
    await apiJson("/users", { body: { username, password: PASSWORD } }, 201);
    expect(await auditOf({ principal: "admin", action: "user.create" })).toContainEqual(expect.objectContaining({ resource: username, result: "success", project: null }));
  });

  it.each([
    ["a body that is not JSON", "{"],
    ["a JSON array", []],
    ["no password", { username: "gina-x" }],
    ["a short password", { username: "gina-x", password: "short" }],
    ["no username", { password: PASSWORD }],
    ["an uppercase username", { username: "Gina", password: PASSWORD }],
    ["a username with a colon", { username: "gi:na", password: PASSWORD }],
    ["a robot-like username", { username: "robot$ci", password: PASSWORD }],
    ["a username that is a number", { username: 7, password: PASSWORD }],
  ])("answers %s with 400 INVALID_REQUEST", async (_, body) => {
    await expectError(await api("/users", { body }), 400, "INVALID_REQUEST");
  });
});

describe("GET /api/v1/users", () => {
  it("lists users in name order for a system admin", async () => {
    const prefix = unique("list");
    for (const suffix of ["b", "a"]) await apiJson("/users", { body: { username: `${prefix}-${suffix}`, password: PASSWORD } }, 201);
    const body = await apiJson<{ items: { username: string }[]; next: string | null }>(`/users?n=1000`);
    const names = body.items.map((item) => item.username).filter((name) => name.startsWith(prefix));
    expect(names).toEqual([`${prefix}-a`, `${prefix}-b`]);
  });

  it("pages with n and next, next being null on the last page", async () => {
    const first = await apiJson<{ items: { username: string }[]; next: string | null }>("/users?n=1");
    expect(first.items).toHaveLength(1);
    expect(first.next).toBe(first.items[0]!.username);
    const second = await apiJson<{ items: { username: string }[] }>(`/users?n=1&next=${encodeURIComponent(first.next!)}`);
    expect(second.items[0]!.username > first.next!).toBe(true);
    const all = await apiJson<{ next: string | null }>("/users?n=1000");
    expect(all.next).toBeNull();
  });

  it("refuses a user who is not a system admin with 403", async () => {
    await expectError(await api("/users", { as: await newUser() }), 403, "DENIED");
  });

  it("answers a bad page size with 400", async () => {
    await expectError(await api("/users?n=zero"), 400, "INVALID_REQUEST");
  });
});

describe("GET /api/v1/users/{username}", () => {
  it("shows a user their own account", async () => {
    const gina = await newUser();
    expect(await apiJson(`/users/${gina.username}`, { as: gina })).toMatchObject({ username: gina.username, admin: false });
  });

  it("refuses another user's account to a user who is not a system admin", async () => {
    const gina = await newUser();
    const hank = await newUser();
    await expectError(await api(`/users/${hank.username}`, { as: gina }), 403, "DENIED");
  });

  it("answers an unknown user with 404 for a system admin", async () => {
    await expectError(await api(`/users/${unique("nobody")}`), 404, "NAME_UNKNOWN");
  });
});
