// Project members and their roles (Harbor's: project admin, maintainer, developer, guest,
// limited guest). Only users are members; robots hold explicit permissions instead.
// - Removing a member or lowering a role moves the user's access epoch in the same batch:
//   tokens carrying the old role's access stop working (worker/auth/account-state.ts).
// - A project keeps at least one project admin: removing or demoting the last one is a
//   CONFLICT, unless a system admin does it (a system admin can always manage the project).
import { forgetAccount } from "../../auth/account-state";
import { type ProjectRole, rolesLosingAccessTo } from "../../auth/permissions";
import type { Bindings } from "../../env";
import { RegistryError } from "../../errors";
import { database } from "../../storage/db/client";
import { findUser, listMembers as listMemberRows, removeMember as deleteMember, setMember as upsertMember } from "../../storage/db/queries/principals";
import { type Actor, isSystemAdmin } from "./actor";
import { audit } from "./audit-trail";
import { projectFor } from "./guard";
import type { Membership } from "./inputs";

export interface MemberView {
  username: string;
  role: ProjectRole;
}

/** Adds the user to the project with `role`, or changes the role they have. */
export async function setMember(env: Bindings, actor: Actor, project: string, member: Membership): Promise<MemberView> {
  const entry = { action: "member.set", resource: member.username };
  await projectFor(env, actor, project, "manageMembers", entry);
  const db = database(env.DB);
  if ((await findUser(db, member.username)) === null) throw new RegistryError("NAME_UNKNOWN", `no user is named "${member.username}"`);
  const change = await upsertMember(db, project, member.username, member.role, rolesLosingAccessTo(member.role), { keepAnAdmin: !isSystemAdmin(actor) });
  if (change === "lastAdmin") throw lastAdmin(project, member.username);
  forgetAccount(env, member.username);
  await audit(env, actor, { ...entry, project });
  return member;
}

export async function listMembers(env: Bindings, actor: Actor, project: string): Promise<{ items: MemberView[] }> {
  await projectFor(env, actor, project, "listMembers", { action: "member.list", resource: project });
  return { items: await listMemberRows(database(env.DB), project) };
}

export async function removeMember(env: Bindings, actor: Actor, project: string, username: string): Promise<void> {
  const entry = { action: "member.remove", resource: username };
  await projectFor(env, actor, project, "manageMembers", entry);
  const change = await deleteMember(database(env.DB), project, username, { keepAnAdmin: !isSystemAdmin(actor) });
  if (change === "missing") throw new RegistryError("NAME_UNKNOWN", `"${username}" is not a member of project "${project}"`);
  if (change === "lastAdmin") throw lastAdmin(project, username);
  forgetAccount(env, username);
  await audit(env, actor, { ...entry, project });
}

function lastAdmin(project: string, username: string): RegistryError {
  return new RegistryError("CONFLICT", `"${username}" is the last project admin of "${project}"; make another member project admin first (or ask a system admin)`);
}
