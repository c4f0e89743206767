// Users:
//   POST /api/v1/users             {"username", "password"} → 201 the user (system admin)
//   GET  /api/v1/users             ?n=&next= → {"items", "next"} (system admin)
//   GET  /api/v1/users/{username}  the user (system admin, or the user)
//   PATCH /api/v1/users/{username} {"disabled"} and/or {"password"} → 200 the user (system admin; not `admin`)
//   DELETE /api/v1/users/{username} → 204, with the user's project memberships (system admin; not `admin`)
import { Hono } from "hono";
import { parseNewUser, parsePageSize, parseUserUpdate } from "../../services/management/inputs";
import { createUser, deleteUser, getUser, listUsers, updateUser } from "../../services/management/users";
import type { ApiEnv } from "./actor";
import { jsonBody } from "./body";
import { DEFAULT_PAGE, MAX_PAGE } from "./paging";

export const userRoutes = new Hono<ApiEnv>();

userRoutes.post("/", async (c) => {
  const user = parseNewUser(await jsonBody(c));
  const created = await createUser(c.env, c.var.config, c.var.actor, user);
  return c.json(created, 201, { Location: `/api/v1/users/${created.username}` });
});

userRoutes.get("/", async (c) => {
  const limit = parsePageSize(c.req.query("n"), DEFAULT_PAGE, MAX_PAGE);
  return c.json(await listUsers(c.env, c.var.config, c.var.actor, limit, c.req.query("next") || null));
});

userRoutes.get("/:username", async (c) => c.json(await getUser(c.env, c.var.config, c.var.actor, c.req.param("username"))));

userRoutes.patch("/:username", async (c) => {
  const update = parseUserUpdate(await jsonBody(c));
  return c.json(await updateUser(c.env, c.var.config, c.var.actor, c.req.param("username"), update));
});

userRoutes.delete("/:username", async (c) => {
  await deleteUser(c.env, c.var.config, c.var.actor, c.req.param("username"));
  return c.body(null, 204);
});
