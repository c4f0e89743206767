// Schedules of the storage lifecycle jobs (worker/lifecycle), system admins only:
//   GET    /api/v1/system/schedules          → {"items": [{name, cron, options, enabled, nextRunAt, lastRunAt, lastResult}]}
//   PUT    /api/v1/system/schedules/{name}   {"cron", "enabled"?, "options"?} → 200 the schedule
//   DELETE /api/v1/system/schedules/{name}   → 204
import { Hono } from "hono";
import { deleteSchedule, listSchedules, setSchedule } from "../../services/management/schedules";
import type { ApiEnv } from "./actor";
import { jsonBody } from "./body";

export const scheduleRoutes = new Hono<ApiEnv>();

scheduleRoutes.get("/", async (c) => c.json(await listSchedules(c.env, c.var.actor)));

scheduleRoutes.put("/:name", async (c) => c.json(await setSchedule(c.env, c.var.actor, c.req.param("name"), await jsonBody(c), Date.now())));

scheduleRoutes.delete("/:name", async (c) => {
  await deleteSchedule(c.env, c.var.actor, c.req.param("name"));
  return c.body(null, 204);
});
