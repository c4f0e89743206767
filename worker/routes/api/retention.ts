// A project's retention policy and runs (worker/services/management/retention.ts):
//   GET    /api/v1/projects/{project}/retention             → the policy ({"rules": [], "schedule": null} when none)
//   PUT    /api/v1/projects/{project}/retention             {"rules", "schedule"?} → 200 the policy (manageProject)
//   DELETE /api/v1/projects/{project}/retention             → 204 (manageProject)
//   POST   /api/v1/projects/{project}/retention/runs        {"dryRun"?} → 201 the finished run with its items (manageProject)
//   GET    /api/v1/projects/{project}/retention/runs        ?n= → {"items"}: runs newest first, without items (at most 100)
//   GET    /api/v1/projects/{project}/retention/runs/{id}   → the run with its items (the first 1,000)
import { Hono } from "hono";
import { parsePageSize } from "../../services/management/inputs";
import { getPolicy, getRun, getRuns, removePolicy, setPolicy, startRun } from "../../services/management/retention";
import type { ApiEnv } from "./actor";
import { jsonBody } from "./body";

export const retentionRoutes = new Hono<ApiEnv>();

retentionRoutes.get("/", async (c) => c.json(await getPolicy(c.env, c.var.actor, c.req.param("project")!)));

retentionRoutes.put("/", async (c) => c.json(await setPolicy(c.env, c.var.actor, c.req.param("project")!, await jsonBody(c), Date.now())));

retentionRoutes.delete("/", async (c) => {
  await removePolicy(c.env, c.var.actor, c.req.param("project")!);
  return c.body(null, 204);
});

retentionRoutes.post("/runs", async (c) => {
  const project = c.req.param("project")!;
  const run = await startRun(c.env, c.var.actor, project, await jsonBody(c));
  return c.json(run, 201, { Location: `/api/v1/projects/${project}/retention/runs/${run.id}` });
});

retentionRoutes.get("/runs", async (c) => c.json(await getRuns(c.env, c.var.actor, c.req.param("project")!, parsePageSize(c.req.query("n"), 20, 100))));

retentionRoutes.get("/runs/:id", async (c) => c.json(await getRun(c.env, c.var.actor, c.req.param("project")!, c.req.param("id"))));
