// Garbage collection (issue 10), system admins only:
//   POST   /api/v1/system/gc        {"dryRun"?, "deleteUntagged"?} → 202 {"id"}; 409 while one runs
//   GET    /api/v1/system/gc        → {"items": [run, ...]} newest first (?limit=, at most 100)
//   GET    /api/v1/system/gc/{id}   → the run: status, counts, bytes freed, times
//   DELETE /api/v1/system/gc/{id}   → 202 the run; it stops before its next step
import { Hono } from "hono";
import { gcRun, gcRuns, startGc, stopGc } from "../../services/management/gc";
import { parsePageSize } from "../../services/management/inputs";
import type { ApiEnv } from "./actor";
import { jsonBody } from "./body";

export const gcRoutes = new Hono<ApiEnv>();

gcRoutes.post("/", async (c) => {
  const { id } = await startGc(c.env, c.var.config, c.var.actor, await jsonBody(c));
  return c.json({ id }, 202, { Location: `/api/v1/system/gc/${id}` });
});

gcRoutes.get("/", async (c) => c.json(await gcRuns(c.env, c.var.actor, parsePageSize(c.req.query("limit"), 20, 100))));

gcRoutes.get("/:id", async (c) => c.json(await gcRun(c.env, c.var.actor, c.req.param("id"))));

gcRoutes.delete("/:id", async (c) => c.json(await stopGc(c.env, c.var.actor, c.req.param("id")), 202));
