// Robots of a project (login name `robot$<project>+<name>`):
//   POST   /api/v1/projects/{project}/robots               {"name", "permissions", "expiresInDays"?, "description"?}
//                                                          → 201 {"name": "<login name>", "secret", …}, the only time the secret is shown
//   GET    /api/v1/projects/{project}/robots               {"items"}: never secrets
//   GET    /api/v1/projects/{project}/robots/{name}        one robot
//   PATCH  /api/v1/projects/{project}/robots/{name}        {"disabled"} → the robot
//   POST   /api/v1/projects/{project}/robots/{name}/secret → {"name", "secret"}: a new secret, the old one stops working
//   DELETE /api/v1/projects/{project}/robots/{name}        204
import { Hono } from "hono";
import { parseFlag, parseNewProjectRobot } from "../../services/management/inputs";
import {
  createProjectRobot,
  deleteProjectRobot,
  getProjectRobot,
  listProjectRobotViews,
  refreshProjectRobotSecret,
  setProjectRobotDisabled,
} from "../../services/management/project-robots";
import type { ApiEnv } from "./actor";
import { jsonBody } from "./body";

export const projectRobotRoutes = new Hono<ApiEnv>();

projectRobotRoutes.post("/", async (c) => {
  const robot = parseNewProjectRobot(await jsonBody(c), Date.now());
  const project = c.req.param("project")!;
  const created = await createProjectRobot(c.env, c.var.actor, project, robot);
  return c.json(created, 201, { Location: `/api/v1/projects/${project}/robots/${robot.name}`, "Cache-Control": "no-store" });
});

projectRobotRoutes.get("/", async (c) => c.json(await listProjectRobotViews(c.env, c.var.actor, c.req.param("project")!)));

projectRobotRoutes.get("/:name", async (c) => c.json(await getProjectRobot(c.env, c.var.actor, c.req.param("project")!, c.req.param("name"))));

projectRobotRoutes.patch("/:name", async (c) => {
  const disabled = parseFlag(await jsonBody(c), "disabled");
  return c.json(await setProjectRobotDisabled(c.env, c.var.actor, c.req.param("project")!, c.req.param("name"), disabled));
});

projectRobotRoutes.post("/:name/secret", async (c) => {
  const secret = await refreshProjectRobotSecret(c.env, c.var.actor, c.req.param("project")!, c.req.param("name"));
  return c.json(secret, 200, { "Cache-Control": "no-store" });
});

projectRobotRoutes.delete("/:name", async (c) => {
  await deleteProjectRobot(c.env, c.var.actor, c.req.param("project")!, c.req.param("name"));
  return c.body(null, 204);
});
