// User accounts (issue 4, "Principals and projects"): created and listed by system admins only,
// as in Harbor; a user may read their own account. Passwords are stored only as PBKDF2 hashes.
import { hashSecret } from "../../auth/passwords";
import { ADMIN_USERNAME } from "../../auth/principal";
import type { Config } from "../../config";
import type { Bindings } from "../../env";
import { RegistryError } from "../../errors";
import { database } from "../../storage/db/client";
import { listUsers as listUserRows } from "../../storage/db/queries/identity-listings";
import { createUser as insertUser, findUser } from "../../storage/db/queries/principals";
import type { Actor } from "./actor";
import { audit } from "./audit-trail";
import { requireSystem } from "./guard";
import type { NewUser } from "./inputs";
import { type Page, pageOf, type UserView, userView } from "./views";

export async function createUser(env: Bindings, config: Config, actor: Actor, user: NewUser): Promise<UserView> {
  const entry = { action: "user.create", resource: user.username, project: null };
  await requireSystem(env, config, actor, "manageUsers", entry);
  // `admin` signs in with ADMIN_PASSWORD whether or not its row exists yet, so the name is taken.
  const db = database(env.DB);
  if (user.username === ADMIN_USERNAME || !(await insertUser(db, { username: user.username, passwordHash: await hashSecret(user.password) }))) {
    throw new RegistryError("CONFLICT", `the username "${user.username}" is taken`);
  }
  await audit(env, actor, entry);
  return userView((await findUser(db, user.username))!);
}

export async function listUsers(env: Bindings, config: Config, actor: Actor, limit: number, last: string | null): Promise<Page<UserView>> {
  await requireSystem(env, config, actor, "manageUsers", { action: "user.list", resource: "users", project: null });
  const rows = await listUserRows(database(env.DB), last, limit + 1);
  return pageOf(rows, limit, userView, (row) => row.username);
}

export async function getUser(env: Bindings, config: Config, actor: Actor, username: string): Promise<UserView> {
  if (actor.principal.name !== username) await requireSystem(env, config, actor, "manageUsers", { action: "user.read", resource: username, project: null });
  const row = await findUser(database(env.DB), username);
  if (row === null) throw new RegistryError("NAME_UNKNOWN", `no user is named "${username}"`);
  return userView(row);
}
