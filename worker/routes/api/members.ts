// Members of a project:
//   POST   /api/v1/projects/{project}/members             {"username", "role"} → 201 (adds, or changes the role)
//   GET    /api/v1/projects/{project}/members             {"items": [{"username", "role"}]}
//   DELETE /api/v1/projects/{project}/members/{username}  204
import { Hono } from "hono";
import { parseMembership } from "../../services/management/inputs";
import { listMembers, removeMember, setMember } from "../../services/management/members";
import type { ApiEnv } from "./actor";
import { jsonBody } from "./body";

export const memberRoutes = new Hono<ApiEnv>();

memberRoutes.post("/", async (c) => {
  const member = parseMembership(await jsonBody(c));
  const project = c.req.param("project")!;
  return c.json(await setMember(c.env, c.var.actor, project, member), 201, { Location: `/api/v1/projects/${project}/members/${member.username}` });
});

memberRoutes.get("/", async (c) => c.json(await listMembers(c.env, c.var.actor, c.req.param("project")!)));

memberRoutes.delete("/:username", async (c) => {
  await removeMember(c.env, c.var.actor, c.req.param("project")!, c.req.param("username"));
  return c.body(null, 204);
});
