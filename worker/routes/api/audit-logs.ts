// The audit log:
//   GET /api/v1/audit-logs  ?project=&principal=&action=&n=&next=
//       → {"items": [{"at", "principal", "action", "resource", "result", "ip", …}], "next"}
//   newest first, 100 a page by default (at most 1000); `next` is null on the last page.
import { Hono } from "hono";
import { listAuditLogs } from "../../services/management/audit-logs";
import { parseCursor, parsePageSize } from "../../services/management/inputs";
import type { ApiEnv } from "./actor";
import { DEFAULT_PAGE, MAX_PAGE } from "./paging";

export const auditLogRoutes = new Hono<ApiEnv>();

auditLogRoutes.get("/", async (c) => {
  const query = {
    project: c.req.query("project") || undefined,
    principal: c.req.query("principal") || undefined,
    action: c.req.query("action") || undefined,
    limit: parsePageSize(c.req.query("n"), DEFAULT_PAGE, MAX_PAGE),
    before: parseCursor(c.req.query("next")),
  };
  return c.json(await listAuditLogs(c.env, c.var.actor, query));
});
