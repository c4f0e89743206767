// The management API (issue 4, "Management API"): JSON under /api/v1 for users, projects with
// their members and robots, system robots, the audit log and system settings (/system/…). Every
// endpoint here needs a signed-in caller (requireActor); the cache endpoints beside them
// (cache.ts) are mounted apart.
import { Hono } from "hono";
import { type ApiEnv, requireActor } from "./actor";
import { auditLogRoutes } from "./audit-logs";
import { gcRoutes } from "./gc";
import { projectRoutes } from "./projects";
import { replicationRoutes } from "./replication";
import { registryRoutes } from "./registries";
import { robotRoutes } from "./robots";
import { scheduleRoutes } from "./schedules";
import { userRoutes } from "./users";

export const managementApiRoutes = new Hono<ApiEnv>();

for (const [path, routes] of [
  ["/users", userRoutes],
  ["/projects", projectRoutes],
  ["/robots", robotRoutes],
  ["/audit-logs", auditLogRoutes],
  ["/system/schedules", scheduleRoutes],
  ["/system/gc", gcRoutes],
  ["/replication", replicationRoutes],
  ["/registries", registryRoutes],
] as const) {
  // Per resource, not `use("*")`: a wildcard here would also catch /api/v1/cache.
  const protectedRoutes = new Hono<ApiEnv>();
  protectedRoutes.use("*", requireActor);
  protectedRoutes.route("/", routes);
  managementApiRoutes.route(path, protectedRoutes);
}
