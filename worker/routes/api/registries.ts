// Remote registries (issue 11), system admins only:
//   POST   /api/v1/registries              {"name", "url", "type", "username"?, "password"?} → 201 the registry
//   GET    /api/v1/registries              → {"items": [registry, ...]} by name
//   GET    /api/v1/registries/{name}       → the registry
//   PATCH  /api/v1/registries/{name}       {"url"?, "type"?, "username"?, "password"?} → 200 the registry
//   DELETE /api/v1/registries/{name}       → 204; 409 while a replication policy names it
//   POST   /api/v1/registries/{name}/ping  → 200 {"reachable", "authenticated", "status", "message"}
// A registry: {"name", "url", "type", "username", "credentials": "set"|"none", "createdAt", "updatedAt"};
// the password is never returned.
import { Hono } from "hono";
import { createRegistry, deleteRegistry, getRegistry, listRegistries, pingRegistry, updateRegistry } from "../../services/management/registries";
import type { ApiEnv } from "./actor";
import { jsonBody } from "./body";

export const registryRoutes = new Hono<ApiEnv>();

registryRoutes.post("/", async (c) => {
  const created = await createRegistry(c.env, c.var.actor, await jsonBody(c));
  return c.json(created, 201, { Location: `/api/v1/registries/${created.name}` });
});

registryRoutes.get("/", async (c) => c.json(await listRegistries(c.env, c.var.actor)));

registryRoutes.get("/:name", async (c) => c.json(await getRegistry(c.env, c.var.actor, c.req.param("name"))));

registryRoutes.patch("/:name", async (c) => c.json(await updateRegistry(c.env, c.var.actor, c.req.param("name"), await jsonBody(c))));

registryRoutes.delete("/:name", async (c) => {
  await deleteRegistry(c.env, c.var.actor, c.req.param("name"));
  return c.body(null, 204);
});

registryRoutes.post("/:name/ping", async (c) => c.json(await pingRegistry(c.env, c.var.actor, c.req.param("name"))));
