// Remote registries (issue 11, "Remote registries"): the other ends of replication, for system
// admins only. Their credentials are sealed before they reach D1 (worker/auth/sealed.ts) and
// never leave Pier again: views say only whether some are set, and which username; no answer,
// audit record, log line or error message carries a password.
// A registry's credentials go only where they were entered for: plain http:// is accepted with
// credentials only on this machine (as for PIER_UPSTREAMS), and a PATCH that moves the url to
// another origin must give the password again rather than carry the old one to a new host.
import type { Bindings } from "../../env";
import { RegistryError } from "../../errors";
import { isRegistryName, mayCarryCredentials, parseOrigin } from "../../proxy/upstreams";
import { type Credentials, openCredentials, type PingResult, pingRemote, remoteRegistryOf, type RemoteRegistryType, sealCredentials } from "../../replication/remote-registry";
import { database } from "../../storage/db/client";
import {
  deleteUnusedRemoteRegistry,
  findRemoteRegistry,
  insertRemoteRegistry,
  listRemoteRegistries,
  policiesNaming,
  type RemoteRegistryRow,
  updateRemoteRegistry,
} from "../../storage/db/queries/remote-registries";
import type { Actor } from "./actor";
import { audit } from "./audit-trail";
import { requireSystemAdmin } from "./guard";
import { type Body, invalid } from "./inputs";

export interface RegistryView {
  name: string;
  url: string;
  type: RemoteRegistryType;
  username: string | null;
  credentials: "set" | "none";
  createdAt: string;
  updatedAt: string;
}

const TYPES: readonly RemoteRegistryType[] = ["dockerhub", "oci", "pier"];
const DOCKER_HUB_URL = "https://registry-1.docker.io";
const CREATE_FIELDS = new Set(["name", "url", "type", "username", "password"]);
const PATCH_FIELDS = new Set(["url", "type", "username", "password"]);
const MAX_USERNAME = 256;
/** Registry tokens (GitHub, cloud registries) run to a few KiB; more is a mistake. */
const MAX_PASSWORD = 8192;

export async function createRegistry(env: Bindings, actor: Actor, body: Body): Promise<RegistryView> {
  const entry = { action: "registry.create", resource: typeof body.name === "string" ? body.name.slice(0, 100) : "registries", project: null };
  await requireSystemAdmin(env, actor, entry, "manage remote registries");
  checkFields(body, CREATE_FIELDS);
  if (!isRegistryName(body.name)) throw invalid('"name" must be one lowercase segment of at most 64 letters, digits and . _ -, e.g. "hub"');
  const name = body.name;
  const type = parseType(body.type);
  const url = body.url === undefined && type === "dockerhub" ? DOCKER_HUB_URL : parseUrl(body.url);
  const credentials = parseCredentials(body.username ?? null, body.password ?? null);
  if (credentials !== null) requireSafeTransport(url);
  const now = Date.now();
  const row = await insertRemoteRegistry(database(env.DB), {
    name,
    url,
    type,
    credentials: credentials === null ? null : await sealCredentials(env, name, credentials),
    createdAt: now,
    updatedAt: now,
  });
  if (row === null) throw new RegistryError("CONFLICT", `a remote registry is already named "${name}"`);
  await audit(env, actor, { ...entry, resource: name });
  return view(row, credentials?.username ?? null);
}

export async function listRegistries(env: Bindings, actor: Actor): Promise<{ items: RegistryView[] }> {
  await requireSystemAdmin(env, actor, { action: "registry.list", resource: "registries", project: null }, "read remote registries");
  const rows = await listRemoteRegistries(database(env.DB));
  return { items: await Promise.all(rows.map((row) => viewOf(env, row))) };
}

export async function getRegistry(env: Bindings, actor: Actor, name: string): Promise<RegistryView> {
  await requireSystemAdmin(env, actor, { action: "registry.read", resource: name, project: null }, "read remote registries");
  return viewOf(env, await requireRegistry(env, name));
}

/**
 * Changes url, type and credentials. `"username": null, "password": null` removes the
 * credentials; one of them alone changes it and keeps the other. Every change moves updated_at,
 * the credentials' generation: tokens fetched with the old ones are not used again.
 */
export async function updateRegistry(env: Bindings, actor: Actor, name: string, body: Body): Promise<RegistryView> {
  const entry = { action: "registry.update", resource: name, project: null };
  await requireSystemAdmin(env, actor, entry, "manage remote registries");
  checkFields(body, PATCH_FIELDS);
  if (Object.keys(body).length === 0) throw invalid('the body must set at least one of "url", "type", "username" and "password"');
  const row = await requireRegistry(env, name);
  const url = body.url === undefined ? row.url : parseUrl(body.url);
  const type = body.type === undefined ? row.type : parseType(body.type);
  const credentials = await credentialsAfter(env, row, body);
  if (credentials === "kept" ? row.credentials !== null : credentials !== null) {
    requireSafeTransport(url);
    if (url !== row.url && typeof body.password !== "string") {
      throw invalid(`"url" moves the registry from ${row.url} to ${url}: give "password" again, so that credentials entered for one host are never sent to another`);
    }
  }
  const sealed = credentials === "kept" ? row.credentials : credentials === null ? null : await sealCredentials(env, name, credentials);
  const updated = await updateRemoteRegistry(database(env.DB), name, row.updatedAt, { url, type, credentials: sealed, updatedAt: Math.max(Date.now(), row.updatedAt + 1) });
  if (updated === null) {
    if ((await findRemoteRegistry(database(env.DB), name)) === null) throw registryUnknown(name);
    throw new RegistryError("CONFLICT", `remote registry "${name}" was changed by another request meanwhile; read it and try again`);
  }
  await audit(env, actor, entry);
  return credentials === "kept" ? viewOf(env, updated) : view(updated, credentials?.username ?? null);
}

/** Whether the registry answers, and accepts its credentials (GET /v2/ through the token flow). */
export async function pingRegistry(env: Bindings, actor: Actor, name: string): Promise<PingResult> {
  await requireSystemAdmin(env, actor, { action: "registry.ping", resource: name, project: null }, "use remote registries");
  return pingRemote(await remoteRegistryOf(env, await requireRegistry(env, name)));
}

/** 409 while a replication policy replicates from or to it: the policy would point at nothing. */
export async function deleteRegistry(env: Bindings, actor: Actor, name: string): Promise<void> {
  const entry = { action: "registry.delete", resource: name, project: null };
  await requireSystemAdmin(env, actor, entry, "manage remote registries");
  const db = database(env.DB);
  if (!(await deleteUnusedRemoteRegistry(db, name))) {
    if ((await findRemoteRegistry(db, name)) === null) throw registryUnknown(name);
    const policies = await policiesNaming(db, name, 10);
    throw new RegistryError("CONFLICT", `remote registry "${name}" is used by replication ${policies.length === 1 ? "policy" : "policies"} ${policies.join(", ")}: delete them or change their source and destination first`);
  }
  await audit(env, actor, entry);
}

/** The registry's row, or 404. */
export async function requireRegistry(env: Bindings, name: string): Promise<RemoteRegistryRow> {
  const row = await findRemoteRegistry(database(env.DB), name);
  if (row === null) throw registryUnknown(name);
  return row;
}

export function registryUnknown(name: string): RegistryError {
  return new RegistryError("NAME_UNKNOWN", `no remote registry is named "${name.slice(0, 100)}"`);
}

function checkFields(body: Body, known: Set<string>): void {
  for (const field of Object.keys(body)) {
    if (!known.has(field)) throw invalid(`unknown field "${field.slice(0, 40)}"; the fields are ${[...known].map((name) => `"${name}"`).join(", ")}`);
  }
}

function parseType(value: unknown): RemoteRegistryType {
  if (typeof value !== "string" || !(TYPES as readonly string[]).includes(value)) throw invalid(`"type" must be one of ${TYPES.join(", ")}`);
  return value as RemoteRegistryType;
}

function parseUrl(value: unknown): string {
  return parseOrigin(value, (message) => {
    throw invalid(message);
  });
}

function requireSafeTransport(url: string): void {
  if (!mayCarryCredentials(new URL(url))) {
    throw invalid(`"url" is plain http:// on another host, so the credentials would cross the network in clear text; use https:// (plain http:// takes credentials only on this machine)`);
  }
}

/** Credentials from a create body: both or neither. */
function parseCredentials(username: unknown, password: unknown): Credentials | null {
  if (username === null && password === null) return null;
  if (username === null || password === null) throw invalid('"username" and "password" go together: give both, or neither for anonymous access');
  return { username: parseUsername(username), password: parsePassword(password) };
}

/**
 * The credentials after a PATCH: "kept" when the body leaves them alone. One of username and
 * password alone changes it and keeps the other, which is then read from the sealed value.
 */
async function credentialsAfter(env: Bindings, row: RemoteRegistryRow, body: Body): Promise<"kept" | Credentials | null> {
  const { username, password } = body;
  if (username === undefined && password === undefined) return "kept";
  if (username === null || password === null) {
    if (username === null && password === null) return null;
    throw invalid('to remove the credentials set both "username" and "password" to null');
  }
  if (username !== undefined && password !== undefined) return { username: parseUsername(username), password: parsePassword(password) };
  if (row.credentials === null) throw invalid('the registry has no credentials yet: give "username" and "password" together');
  const current = await openCredentials(env, row.name, row.credentials).catch(() => {
    throw invalid('the stored credentials no longer open with PIER_CREDENTIALS_KEY (was it replaced?): give "username" and "password" together');
  });
  return {
    username: username === undefined ? current.username : parseUsername(username),
    password: password === undefined ? current.password : parsePassword(password),
  };
}

function parseUsername(value: unknown): string {
  // Basic credentials cannot carry ":" in the username (RFC 7617).
  // eslint-disable-next-line no-control-regex
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_USERNAME || /[:\u0000-\u001f\u007f]/.test(value)) {
    throw invalid(`"username" must be 1 to ${MAX_USERNAME} characters, without ":" or control characters`);
  }
  return value;
}

function parsePassword(value: unknown): string {
  // Never echoed: the message names the rule, not the value.
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_PASSWORD) throw invalid(`"password" must be a string of 1 to ${MAX_PASSWORD} characters`);
  return value;
}

async function viewOf(env: Bindings, row: RemoteRegistryRow): Promise<RegistryView> {
  if (row.credentials === null) return view(row, null);
  try {
    return view(row, (await openCredentials(env, row.name, row.credentials)).username);
  } catch (error) {
    // Sealed under another key (PIER_CREDENTIALS_KEY replaced): still listed, the username unknown.
    console.error(`remote registry ${row.name}: its credentials do not open`, (error as Error).message);
    return view(row, null);
  }
}

function view(row: RemoteRegistryRow, username: string | null): RegistryView {
  return {
    name: row.name,
    url: row.url,
    type: row.type,
    username,
    credentials: row.credentials === null ? "none" : "set",
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}
