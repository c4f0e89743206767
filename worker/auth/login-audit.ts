// The sign-in half of the audit log (issue 4, "Audit"; issue 9): every sign-in, failed or not,
// wherever credentials were checked (/token, Basic on /v2 and on the management API), and
// every token that carries less than was asked for (a refusal).
//
// Sign-ins are counted, not listed one by one: one record per result, login name, client
// address (an IPv6 client by its /64) and minute, with a count. A flood of wrong passwords, or
// of sign-ins that the throttle refuses, therefore adds a row per address and minute at most,
// never one per request, and D1 (10 GB) cannot be filled through the login form. An address
// the throttle refuses whatever the name is recorded under the name `*`. Names are recorded
// with control and bidirectional characters escaped (worker/auth/printable.ts).
// Records are collected per isolate and written a second later in one batch
// (worker/storage/deferred-writes.ts); reading the log flushes the reading isolate first.
import type { Bindings, WaitUntil } from "../env";
import { database } from "../storage/db/client";
import { addAuditCounts, appendAudit, type AuditRecord } from "../storage/db/queries/audit";
import { deferredWrites } from "../storage/deferred-writes";
import { addressKey } from "./client-address";
import { printableName } from "./printable";
import type { Scope } from "./scopes";
import type { AccessEntry } from "./tokens";

export type LoginResult = "success" | "failure" | "denied";

/** The name a sign-in refused for every name (its address was throttled) is recorded under. */
export const ANY_NAME = "*";

const MINUTE_MS = 60_000;

type CountedRecord = AuditRecord & { aggregateKey: string; count: number };

const deferred = deferredWrites<Map<string, CountedRecord>>(
  "sign-in records",
  () => new Map(),
  (records) => records.size === 0,
  (env, records) => addAuditCounts(database(env.DB), [...records.values()]),
);

/** One sign-in, counted into its (result, name, address, minute) record. */
export function auditLogin(env: Bindings, waitUntil: WaitUntil, login: { principal: string; result: LoginResult; ip: string | null }): void {
  const now = Date.now();
  const minute = now - (now % MINUTE_MS);
  const name = login.principal === ANY_NAME ? ANY_NAME : printableName(login.principal);
  const aggregateKey = JSON.stringify(["login", login.result, addressKey(login.ip), minute, name]);
  const pending = deferred.pending(env, waitUntil);
  const record = pending.get(aggregateKey);
  if (record !== undefined) record.count++;
  else pending.set(aggregateKey, { at: minute, principal: name, action: "login", resource: "token", project: null, result: login.result, ip: login.ip, aggregateKey, count: 1 });
}

/** Writes this isolate's pending sign-in records now (before the log is read). */
export function flushLoginAudit(env: Bindings): Promise<void> {
  return deferred.flush(env);
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
