// The token endpoint's half of the audit log (issue 4, "Audit"): every sign-in, failed or not,
// and every token that carries less than was asked for (a refusal). Written off the response
// path (waitUntil): a client waiting for its token does not wait for D1.
import type { Bindings, WaitUntil } from "../env";
import { database } from "../storage/db/client";
import { appendAudit, type AuditRecord } from "../storage/db/queries/audit";
import type { Scope } from "./scopes";
import type { AccessEntry } from "./tokens";

export type LoginResult = "success" | "failure" | "denied";

/** A sign-in at the token endpoint: `denied` when throttled before any check. */
export function auditLogin(env: Bindings, waitUntil: WaitUntil, login: { principal: string; result: LoginResult; ip: string | null }): void {
  write(env, waitUntil, [{ at: Date.now(), principal: login.principal, action: "login", resource: "token", project: null, result: login.result, ip: login.ip }]);
}

/** One `token.refuse` record per repository scope whose actions were not all granted. */
export function auditRefusals(env: Bindings, waitUntil: WaitUntil, refusal: { principal: string; requested: Scope[]; granted: AccessEntry[]; ip: string | null }): void {
  const records: AuditRecord[] = [];
  for (const scope of refusal.requested) {
    if (scope.type !== "repository") continue;
    const granted = new Set(refusal.granted.find((entry) => entry.type === "repository" && entry.name === scope.name)?.actions ?? []);
    const missing = [...scope.actions].filter((action) => action !== "*" && !granted.has(action));
    if (scope.actions.has("*") && granted.size < 3) missing.push("*");
    if (missing.length === 0) continue;
    records.push({
      at: Date.now(),
      principal: refusal.principal,
      action: "token.refuse",
      resource: `repository:${scope.name}:${missing.join(",")}`,
      // The first segment names the project (local, or an upstream's proxy project).
      project: scope.name.split("/")[0]!,
      result: "denied",
      ip: refusal.ip,
    });
  }
  write(env, waitUntil, records);
}

function write(env: Bindings, waitUntil: WaitUntil, records: AuditRecord[]): void {
  if (records.length === 0) return;
  waitUntil(appendAudit(database(env.DB), records).catch((error) => console.error("writing audit records failed", error)));
}
