// Users, projects, members and robots for access-control tests, made through the query modules
// (each with a unique name, so tests never see each other's), and the token endpoint's calls.
import { env } from "cloudflare:test";
import { decodeJwt } from "jose";
import { expect } from "vitest";
import type { AccountStamp } from "../../worker/auth/account-stamp";
import { hashSecret } from "../../worker/auth/passwords";
import { ADMIN_USERNAME, isRobotName, ROBOT_PREFIX } from "../../worker/auth/principal";
import { RegistryError } from "../../worker/errors";
import { database } from "../../worker/storage/db/client";
import { createProject, createUser, findUser, type MemberRole, setMember, updateUser } from "../../worker/storage/db/queries/principals";
import { createRobot, findRobot, type RobotGrant } from "../../worker/storage/db/queries/robots";
import { ADMIN, basic, type Login, request } from "./registry";

export { ADMIN, basic, type Login };

export const db = database(env.DB);

export function unique(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}


export async function newUser(options: { disabled?: boolean; isAdmin?: boolean } = {}): Promise<Login> {
  const login = { username: unique("user"), password: `pw-${crypto.randomUUID()}` };
  await createUser(db, { username: login.username, passwordHash: await hashSecret(login.password), isAdmin: options.isAdmin ?? false });
  if (options.disabled) await updateUser(db, login.username, { disabled: true });
  return login;
}

export async function newProject(options: { public?: boolean; members?: [Login, MemberRole][] } = {}): Promise<string> {
  const name = unique("team");
  await createProject(db, { name, kind: "local", public: options.public ?? false, createdBy: "admin" });
  // New members lose no role, and the project has no admin to keep yet.
  for (const [login, role] of options.members ?? []) await setMember(db, name, login.username, role, [], { keepAnAdmin: false });
  return name;
}

export async function newRobot(grants: RobotGrant[], options: { expiresAt?: number | null; disabled?: boolean } = {}): Promise<Login> {
  const login = { username: `${ROBOT_PREFIX}${unique("ci")}`, password: `secret-${crypto.randomUUID()}` };
  await createRobot(
    db,
    { name: login.username, level: "project", secretHash: await hashSecret(login.password), expiresAt: options.expiresAt ?? null, disabled: options.disabled ?? false },
    grants,
  );
  return login;
}

/**
 * The account's stamp as D1 holds it now (what a token issued to it this moment would carry,
 * and what its use is checked against). Fails the test when there is no such account.
 */
export async function stampOf(loginName: string): Promise<AccountStamp> {
  const row = isRobotName(loginName) ? await findRobot(db, loginName) : await findUser(db, loginName);
  if (row === null) return expect.fail(`no account named ${loginName}`);
  return { id: row.id, credentialEpoch: row.credentialEpoch, accessEpoch: row.accessEpoch };
}

/**
 * The admin's stamp. Its row is written by its first password sign-in (worker/auth/sign-in.ts),
 * so the admin signs in once (GET /token with Basic) before the row is read.
 */
export async function adminStamp(): Promise<AccountStamp> {
  const response = await getToken([], ADMIN);
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return stampOf(ADMIN_USERNAME);
}

/** GET /token with these query parameters (`scope` may repeat) and optional Basic credentials. */
export function getToken(parameters: [string, string][], login?: Login, headers: Record<string, string> = {}): Promise<Response> {
  const query = new URLSearchParams(parameters).toString();
  return request(`/token${query === "" ? "" : `?${query}`}`, { headers }, login ?? null);
}

/** POST /token with a form, as docker and containerd send it. */
export function postToken(form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return request("/token", { method: "POST", headers: { ...headers, "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form).toString() }, null);
}

/** The access claim of a token response's token. */
export async function accessOf(response: Response): Promise<unknown> {
  const body = (await response.json()) as { token: string };
  return decodeJwt(body.token).access;
}

/** The RegistryError a refused call rejects with; fails the test if it goes ahead or throws anything else. */
export async function refusal(promise: Promise<unknown>): Promise<RegistryError> {
  const error = await promise.then(
    () => expect.fail("expected a refusal"),
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(RegistryError);
  return error as RegistryError;
}
