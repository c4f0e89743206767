// The registry's half of the audit log (issue 4, "Audit"): every pull, push and delete on /v2,
// and every one refused to a signed-in principal. Which requests count:
//   pull    GET of a manifest (HEADs and blob reads are parts of the same pull; Harbor counts
//           the same way), locally held or proxied;
//   push    PUT of a manifest (its blobs went up before it), and a project created by a push;
//   delete  DELETE of a manifest, tag or blob.
// Refusals are recorded for signed-in principals and tokens. An anonymous request answered
// with a challenge (401) is not: it is the first half of every token dance, not an attempt.
//
// Pulls are the hot path, so records are written like the cache statistics: collected per
// isolate and written about a second later in one batch (worker/storage/deferred-writes.ts).
// Reading the log flushes the reading isolate first.
import type { Bindings, WaitUntil } from "../env";
import { database } from "../storage/db/client";
import { appendAudit, type AuditRecord } from "../storage/db/queries/audit";
import { deferredWrites } from "../storage/deferred-writes";
import { type Principal, principalName } from "./principal";

/** How an anonymous principal is named in the log; no account can have this name. */
export const ANONYMOUS_NAME = "anonymous";

export interface RegistryEvent {
  principal: Principal;
  action: "pull" | "push" | "delete";
  /** `<name>:<tag>`, `<name>@<digest>`, or the repository name. */
  resource: string;
  /** The project the resource belongs to (an upstream's proxy project for proxied content). */
  project: string | null;
  result: "success" | "denied";
  ip: string | null;
}

const deferred = deferredWrites<AuditRecord[]>(
  "audit records",
  () => [],
  (records) => records.length === 0,
  (env, records) => appendAudit(database(env.DB), records),
);

export function auditRegistry(env: Bindings, waitUntil: WaitUntil, event: RegistryEvent): void {
  const { principal, ...rest } = event;
  deferred.pending(env, waitUntil).push({ at: Date.now(), principal: auditName(principal), ...rest });
}

/** Writes this isolate's pending records now (before the log is read). */
export function flushRegistryAudit(env: Bindings): Promise<void> {
  return deferred.flush(env);
}

/** The login name the log records: a token's subject, `anonymous` for nobody. */
export function auditName(principal: Principal): string {
  return principalName(principal) || ANONYMOUS_NAME;
}
