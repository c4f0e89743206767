// The management API's authorisation, in one place: the permission table decides
// (worker/auth/permissions.ts), and this file decides how a refusal looks.
// - A project the actor may not even pull is answered as if it did not exist (404), so the
//   names of private projects do not leak to those outside them (issue 4).
// - A visible project, or a system action, that the actor may not act on is 403 DENIED, and the
//   attempt is audited as `denied`.
import { grantIn } from "../../auth/access";
import { type Action, isAllowed, isAllowedSystem, PERMISSION_TABLE, type SystemAction } from "../../auth/permissions";
import type { Config } from "../../config";
import type { Bindings } from "../../env";
import { RegistryError } from "../../errors";
import { database } from "../../storage/db/client";
import { findProject, type ProjectRow } from "../../storage/db/queries/principals";
import { type Actor, isSystemAdmin, systemGrant } from "./actor";
import { audit, type AuditEntry } from "./audit-trail";

export function projectUnknown(name: string): RegistryError {
  return new RegistryError("NAME_UNKNOWN", `no project is named "${name}"`);
}

/**
 * The project, when the actor may perform `action` in it; `attempt` is what the audit log
 * records if not. `pull` asks only that the project be visible.
 */
export async function projectFor(env: Bindings, actor: Actor, name: string, action: Action, attempt: Omit<AuditEntry, "project">): Promise<ProjectRow> {
  // Both reads at once: every project-level request waits on them.
  const [project, grant] = await Promise.all([findProject(database(env.DB), name), grantIn(env, actor.principal, name)]);
  if (project === null) throw projectUnknown(name);
  const facts = { kind: project.kind, public: project.public };
  if (!isAllowed(grant, "pull", facts)) throw projectUnknown(name);
  if (!isAllowed(grant, action, facts)) await refuse(env, actor, { ...attempt, project: name }, `${PERMISSION_TABLE[action].covers} in project "${name}"`);
  return project;
}

/** Passes when the actor may perform the registry-wide `action`; 403 (audited) when not. */
export async function requireSystem(env: Bindings, config: Config, actor: Actor, action: SystemAction, attempt: AuditEntry): Promise<void> {
  const settings = { usersMayCreateProjects: config.auth.usersMayCreateProjects };
  if (!isAllowedSystem(systemGrant(actor), action, settings)) await refuse(env, actor, attempt, PERMISSION_TABLE[action].covers.replace(" (system-wide)", ""));
}

/** Passes for system admins only: what the permission table leaves to nobody else. */
export async function requireSystemAdmin(env: Bindings, actor: Actor, attempt: AuditEntry, what: string): Promise<void> {
  if (!isSystemAdmin(actor)) await refuse(env, actor, attempt, what);
}

async function refuse(env: Bindings, actor: Actor, attempt: AuditEntry, what: string): Promise<never> {
  await audit(env, actor, attempt, "denied");
  throw new RegistryError("DENIED", `${actor.principal.name} may not ${what}`);
}
