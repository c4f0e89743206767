// System robots (login name `robot$<name>`), system admins only:
//   POST   /api/v1/robots               {"name", "projects": [{"project", "permissions"}], "expiresInDays"?, "description"?}
//                                       → 201 {"name": "<login name>", "secret", …}, the only time the secret is shown
//   GET    /api/v1/robots               ?n=&next= → {"items", "next"}
//   GET    /api/v1/robots/{name}        one robot
//   PATCH  /api/v1/robots/{name}        {"disabled"} → the robot
//   POST   /api/v1/robots/{name}/secret → {"name", "secret"}
//   DELETE /api/v1/robots/{name}        204
import { Hono } from "hono";
import { parseFlag, parseNewSystemRobot, parsePageSize } from "../../services/management/inputs";
import {
  createSystemRobot,
  deleteSystemRobot,
  getSystemRobot,
  listSystemRobots,
  refreshSystemRobotSecret,
  setSystemRobotDisabled,
} from "../../services/management/system-robots";
import type { ApiEnv } from "./actor";
import { jsonBody } from "./body";
import { DEFAULT_PAGE, MAX_PAGE } from "./paging";

export const robotRoutes = new Hono<ApiEnv>();

robotRoutes.post("/", async (c) => {
  const robot = parseNewSystemRobot(await jsonBody(c), Date.now());
  const created = await createSystemRobot(c.env, c.var.config, c.var.actor, robot);
  return c.json(created, 201, { Location: `/api/v1/robots/${robot.name}`, "Cache-Control": "no-store" });
});

robotRoutes.get("/", async (c) => {
  const limit = parsePageSize(c.req.query("n"), DEFAULT_PAGE, MAX_PAGE);
  return c.json(await listSystemRobots(c.env, c.var.config, c.var.actor, limit, c.req.query("next") || null));
});

robotRoutes.get("/:name", async (c) => c.json(await getSystemRobot(c.env, c.var.config, c.var.actor, c.req.param("name"))));

robotRoutes.patch("/:name", async (c) => {
  const disabled = parseFlag(await jsonBody(c), "disabled");
  return c.json(await setSystemRobotDisabled(c.env, c.var.config, c.var.actor, c.req.param("name"), disabled));
});

robotRoutes.post("/:name/secret", async (c) => {
  const secret = await refreshSystemRobotSecret(c.env, c.var.config, c.var.actor, c.req.param("name"));
  return c.json(secret, 200, { "Cache-Control": "no-store" });
});

robotRoutes.delete("/:name", async (c) => {
  await deleteSystemRobot(c.env, c.var.config, c.var.actor, c.req.param("name"));
  return c.body(null, 204);
});
