// Tag immutability rules of a project (worker/lifecycle/immutability.ts):
//   GET /api/v1/projects/{project}/immutable-tags  → {"rules": [{"repositories", "tags"}]} (the project visible)
//   PUT /api/v1/projects/{project}/immutable-tags  {"rules": [...]} → the rules, replacing all (manageProject)
import { Hono } from "hono";
import { parseImmutableRules } from "../../lifecycle/immutability";
import { getImmutableTagRules, setImmutableTags } from "../../services/management/immutable-tags";
import type { ApiEnv } from "./actor";
import { jsonBody } from "./body";

export const immutableTagRoutes = new Hono<ApiEnv>();

immutableTagRoutes.get("/", async (c) => c.json(await getImmutableTagRules(c.env, c.var.actor, c.req.param("project")!)));

immutableTagRoutes.put("/", async (c) => {
  const rules = parseImmutableRules((await jsonBody(c)).rules);
  return c.json(await setImmutableTags(c.env, c.var.actor, c.req.param("project")!, rules));
});
