// Who is asking: the one value that authentication produces (worker/auth/authenticate.ts) and
// authorisation reads (worker/auth/access.ts). Pure: no I/O.
import type { RobotGrant } from "../storage/db/queries/robots";
import type { AccountStamp } from "./account-stamp";
import type { AccessEntry } from "./tokens";

export type { RobotGrant };

/** The user whose password is the ADMIN_PASSWORD secret (issue 4: "the first admin … user `admin`"). */
export const ADMIN_USERNAME = "admin";

/**
 * Robot login names start with this (Harbor's convention), so a name alone says which table
 * holds the account: no user can be called like a robot, nor the other way round.
 */
export const ROBOT_PREFIX = "robot$";

// Signed-in principals carry their account's stamp (worker/auth/account-stamp.ts): what a token
// issued to them names, and what a remembered login is checked against.
export type Principal =
  | { kind: "anonymous" }
  | { kind: "user"; name: string; isAdmin: boolean; account: AccountStamp }
  | { kind: "robot"; name: string; level: "system" | "project"; grants: RobotGrant[]; account: AccountStamp }
  // A verified bearer token on a registry request: it carries its access, so a registry
  // request needs no lookup; identityOf resolves the account behind it where one is needed.
  // `account` is null for an anonymous token; `issuedAt` in ms.
  | { kind: "token"; subject: string; access: AccessEntry[]; account: AccountStamp | null; issuedAt: number };

/** A signed-in account: what a token resolves to, and whom the management API decides for. */
export type Identity = Extract<Principal, { kind: "user" } | { kind: "robot" }>;

/** The login name (a token's subject), "" for anonymous, as tokens carry it in `sub`. */
export function principalName(principal: Principal): string {
  switch (principal.kind) {
    case "anonymous":
      return "";
    case "user":
    case "robot":
      return principal.name;
    case "token":
      return principal.subject;
  }
}

export function isRobotName(name: string): boolean {
  return name.startsWith(ROBOT_PREFIX);
}
