// The remote registries API (issue 11, "Remote registries"): POST, GET, PATCH and DELETE of
// /api/v1/registries, for system admins only. Every refusal is a 400 naming the field and
// leaves nothing behind; the password is sealed in D1 and never comes back out.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, apiJson, auditOf, expectError, newUser, unique } from "../helpers/management";
import { expectNoServerErrors } from "../helpers/registry";

// A client mistake is never answered 5xx.
expectNoServerErrors();

const PASSWORD = "s3cret-Pa55word-for-the-remote";
const REMOTE_URL = "https://registry.example.test";

interface RegistryView {
  name: string;
  url: string;
  type: string;
  username: string | null;
  credentials: "set" | "none";
  createdAt: string;
  updatedAt: string;
}

async function createRegistry(body: Record<string, unknown> = {}): Promise<RegistryView> {
  return apiJson<RegistryView>("/registries", { body: { name: unique("remote"), url: REMOTE_URL, type: "oci", username: "robot", password: PASSWORD, ...body } }, 201);
}

async function storedCredentials(name: string): Promise<string | null> {
  const row = await env.DB.prepare("SELECT credentials FROM remote_registries WHERE name = ?").bind(name).first<{ credentials: string | null }>();
  return row?.credentials ?? null;
}

describe("POST /api/v1/registries", () => {
  it("answers 201 with the registry and its Location: the username, credentials set, no password", async () => {
    const name = unique("remote");
    const response = await api("/registries", { body: { name, url: REMOTE_URL, type: "oci", username: "robot", password: PASSWORD } });
    const text = await response.text();
    expect(response.status, text).toBe(201);
    expect(response.headers.get("Location")).toBe(`/api/v1/registries/${name}`);
    expect(JSON.parse(text)).toEqual({ name, url: REMOTE_URL, type: "oci", username: "robot", credentials: "set", createdAt: expect.any(String), updatedAt: expect.any(String) });
    expect(text).not.toContain(PASSWORD);
  });

  it("stores the credentials sealed: the column holds neither the password nor the username", async () => {
    const { name } = await createRegistry();
    const sealed = await storedCredentials(name);
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain(PASSWORD);
    expect(sealed).not.toContain("robot");
  });

  it("takes a registry without credentials: username null, credentials none", async () => {
    const view = await createRegistry({ username: undefined, password: undefined });
    expect(view).toMatchObject({ username: null, credentials: "none" });
    expect(await storedCredentials(view.name)).toBeNull();
  });

  it("gives a dockerhub registry Docker Hub's url when none is given", async () => {
    const view = await createRegistry({ type: "dockerhub", url: undefined });
    expect(view.url).toBe("https://registry-1.docker.io");
  });

  it("keeps the origin only, as URL parsing spells it", async () => {
    expect((await createRegistry({ url: "HTTPS://Registry.Example.Test:443/" })).url).toBe(REMOTE_URL);
  });

  for (const [what, body, field] of [
    ["no name", { name: undefined }, "name"],
    ["a name with capitals", { name: "Remote" }, "name"],
    ["a name with a slash", { name: "a/b" }, "name"],
    ["no url", { url: undefined }, "url"],
    ["a url that is not one", { url: "registry.example.test" }, "url"],
    ["a url with a path", { url: "https://registry.example.test/v2/" }, "url"],
    ["a url with credentials in it", { url: "https://user:pw@registry.example.test" }, "url"],
    ["an ftp url", { url: "ftp://registry.example.test" }, "url"],
    ["no type", { type: undefined }, "type"],
    ["an unknown type", { type: "harbor" }, "type"],
    ["a username without a password", { password: undefined }, "password"],
    ["a password without a username", { username: undefined }, "username"],
    ["a username with a colon", { username: "a:b" }, "username"],
    ["an empty password", { password: "" }, "password"],
    ["a password that is not a string", { password: 12345 }, "password"],
    ["an unknown field", { insecure: true }, "insecure"],
  ] as const) {
    it(`refuses ${what} with 400 INVALID_REQUEST naming "${field}", and stores nothing`, async () => {
      const name = typeof (body as { name?: unknown }).name === "string" ? (body as { name: string }).name : unique("remote");
      const sent: Record<string, unknown> = { name, url: REMOTE_URL, type: "oci", username: "robot", password: PASSWORD };
      const message = await expectError(await api("/registries", { body: { ...sent, ...body } }), 400, "INVALID_REQUEST");
      expect(message).toContain(`"${field}"`);
      expect(message).not.toContain(PASSWORD);
      const stored = await env.DB.prepare("SELECT count(*) AS n FROM remote_registries WHERE name = ?").bind(name).first<{ n: number }>();
      expect(stored?.n).toBe(0);
    });
  }

  it("refuses credentials for plain http on another host, saying they would cross the network in clear text", async () => {
    const message = await expectError(await api("/registries", { body: { name: unique("remote"), url: "http://registry.example.test", type: "oci", username: "robot", password: PASSWORD } }), 400, "INVALID_REQUEST");
    expect(message).toMatch(/plain http.*clear text/);
  });

  it("takes plain http on another host without credentials, and with them on this machine", async () => {
    await createRegistry({ url: "http://registry.example.test", username: undefined, password: undefined });
    await createRegistry({ url: "http://127.0.0.1:5000" });
    await createRegistry({ url: "http://localhost:5000" });
  });

  it("answers 409 CONFLICT for a name that is taken, and keeps the first", async () => {
    const first = await createRegistry();
    await expectError(await api("/registries", { body: { name: first.name, url: "https://other.example.test", type: "oci" } }), 409, "CONFLICT");
    expect((await apiJson<RegistryView>(`/registries/${first.name}`)).url).toBe(REMOTE_URL);
  });
});

describe("GET /api/v1/registries", () => {
  it("lists registries by name with their usernames and no password", async () => {
    const withCredentials = await createRegistry();
    const anonymous = await createRegistry({ username: undefined, password: undefined });
    const response = await api("/registries");
    const text = await response.text();
    expect(response.status).toBe(200);
    const { items } = JSON.parse(text) as { items: RegistryView[] };
    expect(items).toContainEqual(withCredentials);
    expect(items).toContainEqual(anonymous);
    expect(items.map((item) => item.name)).toEqual(items.map((item) => item.name).sort());
    expect(text).not.toContain(PASSWORD);
  });

  it("shows one registry, and answers 404 NAME_UNKNOWN for a name no registry has", async () => {
    const created = await createRegistry();
    expect(await apiJson(`/registries/${created.name}`)).toEqual(created);
    await expectError(await api("/registries/nothing-here"), 404, "NAME_UNKNOWN");
  });
});

describe("PATCH /api/v1/registries/{name}", () => {
  it("changes url and type, and moves updatedAt (the credentials' generation)", async () => {
    const created = await createRegistry();
    const patched = await apiJson<RegistryView>(`/registries/${created.name}`, { method: "PATCH", body: { url: "https://mirror.example.test", type: "pier", password: PASSWORD } });
    expect(patched).toMatchObject({ url: "https://mirror.example.test", type: "pier", username: "robot", credentials: "set", createdAt: created.createdAt });
    expect(Date.parse(patched.updatedAt)).toBeGreaterThan(Date.parse(created.updatedAt));
  });

  it("changes the password alone, keeping the username; the answer never holds it", async () => {
    const created = await createRegistry();
    const response = await api(`/registries/${created.name}`, { method: "PATCH", body: { password: "another-Pa55word" } });
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ username: "robot", credentials: "set" });
    expect(text).not.toContain("another-Pa55word");
    expect(await storedCredentials(created.name)).not.toContain("another-Pa55word");
  });

  it("removes the credentials when username and password are both null", async () => {
    const created = await createRegistry();
    const patched = await apiJson<RegistryView>(`/registries/${created.name}`, { method: "PATCH", body: { username: null, password: null } });
    expect(patched).toMatchObject({ username: null, credentials: "none" });
    expect(await storedCredentials(created.name)).toBeNull();
  });

  it("asks for the password again when the url moves to another origin, and changes nothing", async () => {
    const created = await createRegistry();
    const message = await expectError(await api(`/registries/${created.name}`, { method: "PATCH", body: { url: "https://elsewhere.example.test" } }), 400, "INVALID_REQUEST");
    expect(message).toContain('"password"');
    expect(await apiJson(`/registries/${created.name}`)).toEqual(created);
  });

  for (const [what, body] of [
    ["an empty body", {}],
    ["only the username set to null", { username: null }],
    ["a new username for a registry without credentials", { username: "robot" }],
    ["the name", { name: "renamed" }],
    ["an unknown type", { type: "quay" }],
    ["credentials kept on a plain http url elsewhere", { url: "http://registry.example.test", password: PASSWORD }],
  ] as const) {
    it(`refuses ${what} with 400 INVALID_REQUEST, and changes nothing`, async () => {
      const created = await createRegistry(what.includes("without credentials") ? { username: undefined, password: undefined } : {});
      await expectError(await api(`/registries/${created.name}`, { method: "PATCH", body }), 400, "INVALID_REQUEST");
      expect(await apiJson(`/registries/${created.name}`)).toEqual(created);
    });
  }

  it("answers 404 NAME_UNKNOWN for a registry that does not exist", async () => {
    await expectError(await api("/registries/nothing-here", { method: "PATCH", body: { type: "oci" } }), 404, "NAME_UNKNOWN");
  });
});

describe("credentials that no longer open (sealed for another row, or under a replaced key)", () => {
  async function withForeignCredentials(): Promise<RegistryView> {
    const donor = await createRegistry();
    const registry = await createRegistry({ username: "other", password: "other-Pa55word" });
    // A ciphertext is bound to its row (sealed.ts): copied into another, it does not open.
    await env.DB.prepare("UPDATE remote_registries SET credentials = ? WHERE name = ?").bind(await storedCredentials(donor.name), registry.name).run();
    return registry;
  }

  it("still shows the registry, its credentials set and the username unknown", async () => {
    const registry = await withForeignCredentials();
    expect(await apiJson(`/registries/${registry.name}`)).toMatchObject({ credentials: "set", username: null });
  });

  it("are replaced by a PATCH giving both, and not by one giving the password alone", async () => {
    const registry = await withForeignCredentials();
    await expectError(await api(`/registries/${registry.name}`, { method: "PATCH", body: { password: "new-Pa55word" } }), 400, "INVALID_REQUEST");
    const patched = await apiJson(`/registries/${registry.name}`, { method: "PATCH", body: { username: "fresh", password: "new-Pa55word" } });
    expect(patched).toMatchObject({ credentials: "set", username: "fresh" });
  });

  it("make a ping answer 409 CONFLICT saying to give them again", async () => {
    const registry = await withForeignCredentials();
    const message = await expectError(await api(`/registries/${registry.name}/ping`, { method: "POST" }), 409, "CONFLICT");
    expect(message).toContain("PIER_CREDENTIALS_KEY");
  });
});

describe("DELETE /api/v1/registries/{name}", () => {
  it("deletes the registry: 204, then 404", async () => {
    const { name } = await createRegistry();
    expect((await api(`/registries/${name}`, { method: "DELETE" })).status).toBe(204);
    await expectError(await api(`/registries/${name}`), 404, "NAME_UNKNOWN");
    await expectError(await api(`/registries/${name}`, { method: "DELETE" }), 404, "NAME_UNKNOWN");
  });

  it("answers 409 CONFLICT naming the replication policy that uses it, and keeps it", async () => {
    const { name } = await createRegistry();
    const policy = unique("policy");
    await env.DB.prepare("INSERT INTO replication_policies (name, source, destination, trigger, created_at, updated_at) VALUES (?, NULL, ?, 'manual', 0, 0)")
      .bind(policy, name)
      .run();
    const message = await expectError(await api(`/registries/${name}`, { method: "DELETE" }), 409, "CONFLICT");
    expect(message).toContain(policy);
    expect((await api(`/registries/${name}`)).status).toBe(200);
  });
});

describe("who may manage remote registries", () => {
  it("system admins only: a user gets 403 DENIED for every endpoint, anonymous 401", async () => {
    const { name } = await createRegistry();
    const user = await newUser();
    await expectError(await api("/registries", { as: user, body: { name: unique("remote"), url: REMOTE_URL, type: "oci" } }), 403, "DENIED");
    await expectError(await api("/registries", { as: user }), 403, "DENIED");
    await expectError(await api(`/registries/${name}`, { as: user }), 403, "DENIED");
    await expectError(await api(`/registries/${name}`, { as: user, method: "PATCH", body: { type: "pier" } }), 403, "DENIED");
    await expectError(await api(`/registries/${name}`, { as: user, method: "DELETE" }), 403, "DENIED");
    await expectError(await api(`/registries/${name}/ping`, { as: user, method: "POST" }), 403, "DENIED");
    await expectError(await api("/registries", { as: null }), 401, "UNAUTHORIZED");
  });
});

describe("the audit log", () => {
  it("records create, update and delete by name, and never the password", async () => {
    const { name } = await createRegistry();
    await apiJson(`/registries/${name}`, { method: "PATCH", body: { password: "rotated-Pa55word" } });
    expect((await api(`/registries/${name}`, { method: "DELETE" })).status).toBe(204);
    const records = (await auditOf({ principal: "admin", n: "200" })).filter((record) => record.resource === name);
    expect(records.map((record) => record.action).sort()).toEqual(["registry.create", "registry.delete", "registry.update"]);
    const stored = await env.DB.prepare("SELECT * FROM audit_logs WHERE resource = ?").bind(name).all();
    expect(JSON.stringify(stored.results)).not.toMatch(new RegExp(`${PASSWORD}|rotated-Pa55word`));
  });
});
