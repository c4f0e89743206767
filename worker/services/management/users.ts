// User accounts (issue 4, "Principals and projects"): created and listed by system admins only,
// as in Harbor; a user may read their own account. Passwords are stored only as PBKDF2 hashes.
// Disabling, re-enabling, a new password and deletion are for system admins too; `admin` itself
// is left alone (its password is ADMIN_PASSWORD, and it must never be locked out). A new
// password and a disable move the account's credential epoch in the same statement, and a
// deletion removes its id: every token, refresh token and remembered login issued before stops
// working, here at once and elsewhere within the bounds of worker/auth/account-state.ts.
import { forgetAccount } from "../../auth/account-state";
import { hashSecret } from "../../auth/passwords";
import { ADMIN_USERNAME } from "../../auth/principal";
import { ANONYMOUS_NAME } from "../../auth/registry-audit";
import type { Config } from "../../config";
import type { Bindings } from "../../env";
import { RegistryError } from "../../errors";
import { database } from "../../storage/db/client";
import { deleteUser as deleteUserRow, createUser as insertUser, findUser, listUsers as listUserRows, updateUser as updateUserRow } from "../../storage/db/queries/principals";
import type { Actor } from "./actor";
import { audit } from "./audit-trail";
import { requireSystem } from "./guard";
import { invalid, type NewUser, type UserUpdate } from "./inputs";
import { type Page, pageOf, type UserView, userView } from "./views";

export async function createUser(env: Bindings, config: Config, actor: Actor, user: NewUser): Promise<UserView> {
  const entry = { action: "user.create", resource: user.username, project: null };
  await requireSystem(env, config, actor, "manageUsers", entry);
  // `admin` signs in with ADMIN_PASSWORD whether or not its row exists yet, so the name is
  // taken; `anonymous` is how the audit log names requests without credentials.
  const db = database(env.DB);
  if (user.username === ADMIN_USERNAME || user.username === ANONYMOUS_NAME || !(await insertUser(db, { username: user.username, passwordHash: await hashSecret(user.password) }))) {
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
  if (row === null) throw userUnknown(username);
  return userView(row);
}

/**
 * Audited as `user.disable` / `user.enable` and `user.password` (one record per change); a
 * refused attempt as `user.update`.
 */
export async function updateUser(env: Bindings, config: Config, actor: Actor, username: string, update: UserUpdate): Promise<UserView> {
  await requireSystem(env, config, actor, "manageUsers", { action: "user.update", resource: username, project: null });
  if (username === ADMIN_USERNAME) throw invalid(`the "${ADMIN_USERNAME}" user cannot be changed here: its password is ADMIN_PASSWORD, and it cannot be disabled`);
  const passwordHash = update.password === undefined ? undefined : await hashSecret(update.password);
  const row = await updateUserRow(database(env.DB), username, {
    ...(update.disabled !== undefined && { disabled: update.disabled }),
    ...(passwordHash !== undefined && { passwordHash }),
  });
  if (row === null) throw userUnknown(username);
  forgetAccount(env, username);
  if (update.disabled !== undefined) await audit(env, actor, { action: update.disabled ? "user.disable" : "user.enable", resource: username, project: null });
  if (passwordHash !== undefined) await audit(env, actor, { action: "user.password", resource: username, project: null });
  return userView(row);
}

/** Deletes the account and its project memberships; audited as `user.delete`. */
export async function deleteUser(env: Bindings, config: Config, actor: Actor, username: string): Promise<void> {
  const entry = { action: "user.delete", resource: username, project: null };
  await requireSystem(env, config, actor, "manageUsers", entry);
  if (username === ADMIN_USERNAME) throw invalid(`the "${ADMIN_USERNAME}" user cannot be deleted: it signs in with ADMIN_PASSWORD`);
  if (!(await deleteUserRow(database(env.DB), username))) throw userUnknown(username);
  forgetAccount(env, username);
  await audit(env, actor, entry);
}

function userUnknown(username: string): RegistryError {
  return new RegistryError("NAME_UNKNOWN", `no user is named "${username}"`);
}
