// Project members and their roles (Harbor's: project admin, maintainer, developer, guest,
// limited guest). Only users are members; robots hold explicit permissions instead.
import type { ProjectRole } from "../../auth/permissions";
import type { Bindings } from "../../env";
import { RegistryError } from "../../errors";
import { database } from "../../storage/db/client";
import { findUser, listMembers as listMemberRows, removeMember as deleteMember, setMember as upsertMember } from "../../storage/db/queries/principals";
import type { Actor } from "./actor";
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
  await upsertMember(db, project, member.username, member.role);
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
  if (!(await deleteMember(database(env.DB), project, username))) {
    throw new RegistryError("NAME_UNKNOWN", `"${username}" is not a member of project "${project}"`);
  }
  await audit(env, actor, { ...entry, project });
}
