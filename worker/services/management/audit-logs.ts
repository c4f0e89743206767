// Reading the audit log (issue 4, "Audit": "listed and filtered through the management API,
// admins and project admins only"): one project's records for whoever may readLogs there, the
// whole log for system admins. Newest first, paged by an id cursor.
import { flushLoginAudit } from "../../auth/login-audit";
import { flushRegistryAudit } from "../../auth/registry-audit";
import type { Bindings } from "../../env";
import { database } from "../../storage/db/client";
import { type AuditCursor, type AuditRow, listAudit } from "../../storage/db/queries/audit";
import { type Actor, isSystemAdmin } from "./actor";
import { projectFor, requireSystemAdmin } from "./guard";
import { type Page, pageOf } from "./views";

export interface AuditQuery {
  project?: string;
  principal?: string;
  action?: string;
  limit: number;
  /** The `next` of the previous page: only the records after it. */
  before?: AuditCursor;
}

export interface AuditItem {
  id: number;
  /** ISO 8601. */
  at: string;
  principal: string;
  action: string;
  resource: string;
  project: string | null;
  result: AuditRow["result"];
  ip: string | null;
  /** How many times it happened: sign-ins are counted per name, address and minute. */
  count: number;
}

export async function listAuditLogs(env: Bindings, actor: Actor, query: AuditQuery): Promise<Page<AuditItem>> {
  // A system admin reads the whole log, and any project's records, a deleted project's too.
  if (!isSystemAdmin(actor)) await requireReadable(env, actor, query.project);
  // The records of sign-ins, pulls, pushes and deletes this isolate has not written yet are written now.
  await Promise.all([flushRegistryAudit(env), flushLoginAudit(env)]);
  const { limit, ...filter } = query;
  const rows = await listAudit(database(env.DB), filter, limit + 1);
  return pageOf(rows, limit, auditItem, (row) => `${row.at}.${row.id}`);
}

/** Anyone else reads one project's log at a time, where the permission table lets them (readLogs). */
async function requireReadable(env: Bindings, actor: Actor, project: string | undefined): Promise<void> {
  if (project === undefined) {
    await requireSystemAdmin(env, actor, { action: "audit.read", resource: "audit-logs", project: null }, "read the registry-wide audit log (name a project)");
  } else {
    await projectFor(env, actor, project, "readLogs", { action: "audit.read", resource: project });
  }
}

function auditItem(row: AuditRow): AuditItem {
  return {
    id: row.id,
    at: new Date(row.at).toISOString(),
    principal: row.principal,
    action: row.action,
    resource: row.resource,
    project: row.project,
    result: row.result,
    count: row.count,
    ip: row.ip,
  };
}
