// A project's webhooks (worker/services/management/webhooks.ts), all for those who manage it:
//   POST   /api/v1/projects/{project}/webhooks                    {"name", "url", "events", "format", "secret"?, "enabled"?} → 201 the webhook
//   GET    /api/v1/projects/{project}/webhooks                    → {"items"}
//   GET    /api/v1/projects/{project}/webhooks/{name}             → the webhook ("secret": "set" | "none")
//   PATCH  /api/v1/projects/{project}/webhooks/{name}             {"url"?, "events"?, "format"?, "secret"?, "enabled"?} → the webhook
//   DELETE /api/v1/projects/{project}/webhooks/{name}             → 204
//   GET    /api/v1/projects/{project}/webhooks/{name}/deliveries  ?n=&next= → {"items", "next"}: newest first
//   POST   /api/v1/projects/{project}/webhooks/{name}/test        → 202 the test delivery, queued
import { Hono } from "hono";
import { parsePageSize } from "../../services/management/inputs";
import { createWebhook, deleteWebhook, getWebhook, listDeliveries, listWebhooks, testWebhook, updateWebhook } from "../../services/management/webhooks";
import { publicOrigin } from "../context";
import type { ApiEnv } from "./actor";
import { jsonBody } from "./body";

export const webhookRoutes = new Hono<ApiEnv>();

webhookRoutes.post("/", async (c) => {
  const project = c.req.param("project")!;
  const created = await createWebhook(c.env, c.var.actor, project, await jsonBody(c), Date.now());
  return c.json(created, 201, { Location: `/api/v1/projects/${project}/webhooks/${created.name}` });
});

webhookRoutes.get("/", async (c) => c.json(await listWebhooks(c.env, c.var.actor, c.req.param("project")!)));

webhookRoutes.get("/:name", async (c) => c.json(await getWebhook(c.env, c.var.actor, c.req.param("project")!, c.req.param("name"))));

webhookRoutes.patch("/:name", async (c) => c.json(await updateWebhook(c.env, c.var.actor, c.req.param("project")!, c.req.param("name"), await jsonBody(c), Date.now())));

webhookRoutes.delete("/:name", async (c) => {
  await deleteWebhook(c.env, c.var.actor, c.req.param("project")!, c.req.param("name"));
  return c.body(null, 204);
});

webhookRoutes.get("/:name/deliveries", async (c) => {
  const limit = parsePageSize(c.req.query("n"), 20, 100);
  return c.json(await listDeliveries(c.env, c.var.actor, c.req.param("project")!, c.req.param("name"), limit, c.req.query("next")));
});

// Takes no body. The payloads name Pier as the client sees it (PUBLIC_URL, else this request's origin).
webhookRoutes.post("/:name/test", async (c) => {
  return c.json(await testWebhook(c.env, c.var.actor, c.req.param("project")!, c.req.param("name"), publicOrigin(c)), 202);
});
