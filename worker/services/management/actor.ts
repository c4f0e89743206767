// Who is making a management request: a signed-in user or robot (never anonymous, never a bare
// token: the API middleware resolves a bearer token to the account behind it, so decisions
// follow current roles), and the client IP the audit log records.
import type { Grant } from "../../auth/permissions";
import type { Identity } from "../../auth/principal";

export interface Actor {
  principal: Identity;
  /** CF-Connecting-IP, or null when the request did not come through Cloudflare's edge. */
  ip: string | null;
}

/** The login name, as the audit log records it (a robot's as returned at its creation). */
export function loginName(actor: Actor): string {
  return actor.principal.name;
}

export function isSystemAdmin(actor: Actor): boolean {
  return actor.principal.kind === "user" && actor.principal.isAdmin;
}

/**
 * The grant for registry-wide actions (isAllowedSystem): a role belongs to one project, so
 * outside any project a user is a member without one, and a robot holds no permission.
 */
export function systemGrant(actor: Actor): Grant {
  if (actor.principal.kind === "robot") return { kind: "robot", permissions: [] };
  return actor.principal.isAdmin ? { kind: "systemAdmin" } : { kind: "member", role: null };
}
