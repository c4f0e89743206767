// The management API's half of the audit log: every administrative change, and every refused
// attempt at one, becomes one record naming the actor by login name (issue 4, "Audit").
import type { Bindings } from "../../env";
import { database } from "../../storage/db/client";
import { appendAudit } from "../../storage/db/queries/audit";
import { type Actor, loginName } from "./actor";

export type AuditResult = "success" | "denied";

export interface AuditEntry {
  /** What was done, `<thing>.<verb>`: `user.create`, `member.set`, `robot.secret`… */
  action: string;
  /** The thing it was done to: a username, a project, a robot's login name. */
  resource: string;
  /** The project the thing belongs to, so project admins see it; null for system-wide things. */
  project: string | null;
}

export async function audit(env: Bindings, actor: Actor, entry: AuditEntry, result: AuditResult = "success"): Promise<void> {
  await appendAudit(database(env.DB), [{ at: Date.now(), principal: loginName(actor), ...entry, result, ip: actor.ip }]);
}
