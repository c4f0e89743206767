// Replication (issue 11), system admins only:
//   POST   /api/v1/replication/policies                 {"name", "source", "destination", …} → 201 the policy
//   GET    /api/v1/replication/policies                 → {"items"} by name
//   GET    /api/v1/replication/policies/{name}          → the policy
//   PUT    /api/v1/replication/policies/{name}          the POST body → 200 the policy, replaced whole
//   DELETE /api/v1/replication/policies/{name}          → 204 (its schedule goes, its running executions stop)
//   POST   /api/v1/replication/executions               {"policy"} → 201 the execution; 409 disabled or running
//   GET    /api/v1/replication/executions               ?policy=&n= → {"items"} newest first (at most 100)
//   GET    /api/v1/replication/executions/{id}          → the execution with its task counts
//   GET    /api/v1/replication/executions/{id}/tasks    ?n=&next= → {"items", "next"} in listing order (at most 1000)
//   POST   /api/v1/replication/executions/{id}/stop     → 200 the execution, stopped; 409 when not running
import { Hono } from "hono";
import { parsePageSize } from "../../services/management/inputs";
import { createReplicationPolicy, deleteReplicationPolicy, getReplicationPolicy, listReplicationPolicies, replaceReplicationPolicy } from "../../services/management/replication";
import {
  getReplicationExecution,
  getReplicationTasks,
  listReplicationExecutions,
  startManualExecution,
  stopReplicationExecution,
} from "../../services/management/replication-executions";
import type { ApiEnv } from "./actor";
import { jsonBody } from "./body";
import { DEFAULT_PAGE, MAX_PAGE } from "./paging";

export const replicationRoutes = new Hono<ApiEnv>();

replicationRoutes.post("/policies", async (c) => {
  const policy = await createReplicationPolicy(c.env, c.var.actor, await jsonBody(c), Date.now());
  return c.json(policy, 201, { Location: `/api/v1/replication/policies/${policy.name}` });
});

replicationRoutes.get("/policies", async (c) => c.json(await listReplicationPolicies(c.env, c.var.actor)));

replicationRoutes.get("/policies/:name", async (c) => c.json(await getReplicationPolicy(c.env, c.var.actor, c.req.param("name"))));

replicationRoutes.put("/policies/:name", async (c) => c.json(await replaceReplicationPolicy(c.env, c.var.actor, c.req.param("name"), await jsonBody(c), Date.now())));

replicationRoutes.delete("/policies/:name", async (c) => {
  await deleteReplicationPolicy(c.env, c.var.actor, c.req.param("name"), Date.now());
  return c.body(null, 204);
});

replicationRoutes.post("/executions", async (c) => {
  const execution = await startManualExecution(c.env, c.var.actor, await jsonBody(c), Date.now());
  return c.json(execution, 201, { Location: `/api/v1/replication/executions/${execution.id}` });
});

replicationRoutes.get("/executions", async (c) =>
  c.json(await listReplicationExecutions(c.env, c.var.actor, c.req.query("policy") ?? null, parsePageSize(c.req.query("n"), 20, 100))),
);

replicationRoutes.get("/executions/:id", async (c) => c.json(await getReplicationExecution(c.env, c.var.actor, c.req.param("id"))));

replicationRoutes.get("/executions/:id/tasks", async (c) =>
  c.json(await getReplicationTasks(c.env, c.var.actor, c.req.param("id"), c.req.query("next") || undefined, parsePageSize(c.req.query("n"), DEFAULT_PAGE, MAX_PAGE))),
);

// Takes no body, and reads none.
replicationRoutes.post("/executions/:id/stop", async (c) => c.json(await stopReplicationExecution(c.env, c.var.actor, c.req.param("id"), Date.now())));
