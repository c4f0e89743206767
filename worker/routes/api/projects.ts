// Projects:
//   POST  /api/v1/projects            {"name", "public"?} → 201 the project
//   GET   /api/v1/projects            ?n=&next= → {"items", "next"}: the projects the caller can see
//   GET   /api/v1/projects/{project}  the project with "storageUsedBytes" (404 when the caller cannot see it)
//   PATCH /api/v1/projects/{project}  {"public"?, "storageLimitBytes"?} (one at least) → the project
//                                     (manageProject; the limit: system admins only, -1 for none)
//   DELETE /api/v1/projects/{project} → 204, an empty local project (manageProject); 409 when not empty
// and, below a project, its members (members.ts), robots (project-robots.ts), tag
// immutability rules (immutable-tags.ts), retention policy and runs (retention.ts) and webhooks (webhooks.ts).
import { Hono } from "hono";
import { parseNewProject, parsePageSize, parseProjectUpdate } from "../../services/management/inputs";
import { createProject, deleteProject, getProject, listProjects, updateProject } from "../../services/management/projects";
import type { ApiEnv } from "./actor";
import { jsonBody } from "./body";
import { immutableTagRoutes } from "./immutable-tags";
import { memberRoutes } from "./members";
import { DEFAULT_PAGE, MAX_PAGE } from "./paging";
import { projectRobotRoutes } from "./project-robots";
import { retentionRoutes } from "./retention";
import { webhookRoutes } from "./webhooks";

export const projectRoutes = new Hono<ApiEnv>();

projectRoutes.post("/", async (c) => {
  const project = parseNewProject(await jsonBody(c));
  const created = await createProject(c.env, c.var.config, c.var.actor, project);
  return c.json(created, 201, { Location: `/api/v1/projects/${created.name}` });
});

projectRoutes.get("/", async (c) => {
  const limit = parsePageSize(c.req.query("n"), DEFAULT_PAGE, MAX_PAGE);
  return c.json(await listProjects(c.env, c.var.actor, limit, c.req.query("next") || null));
});

projectRoutes.get("/:project", async (c) => c.json(await getProject(c.env, c.var.actor, c.req.param("project"))));

projectRoutes.patch("/:project", async (c) => {
  const change = parseProjectUpdate(await jsonBody(c));
  return c.json(await updateProject(c.env, c.var.actor, c.req.param("project"), change));
});

projectRoutes.delete("/:project", async (c) => {
  await deleteProject(c.env, c.var.actor, c.req.param("project"));
  return c.body(null, 204);
});

projectRoutes.route("/:project/members", memberRoutes);
projectRoutes.route("/:project/robots", projectRobotRoutes);
projectRoutes.route("/:project/immutable-tags", immutableTagRoutes);
projectRoutes.route("/:project/retention", retentionRoutes);
projectRoutes.route("/:project/webhooks", webhookRoutes);
