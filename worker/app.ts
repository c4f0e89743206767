// Builds the Hono app: headers every answer carries, the request-body cap, the routes, and the
// one place where errors become the spec's JSON body.
import { Hono } from "hono";
import { refuseDeclaredOver, SMALL_BODY_BYTES } from "./bounded-body";
import { ConfigError, configFrom, DEFAULT_MAX_BODY_BYTES } from "./config";
import type { Bindings } from "./env";
import { drain } from "./streams";
import { errorBody, RegistryError } from "./errors";
import { requestIdOf, requestLogEnabled, requestLogLine } from "./request-log";
import { cacheApiRoutes } from "./routes/api/cache";
import { managementApiRoutes } from "./routes/api/management";
import { blobRoutes } from "./routes/blobs";
import { allowBase } from "./routes/authorization";
import type { AppEnv } from "./routes/context";
import { listingRoutes } from "./routes/listings";
import { manifestRoutes } from "./routes/manifests";
import { tokenRoutes } from "./routes/token";
import { uploadRoutes } from "./routes/uploads";
import { checkHealth } from "./services/health";

export function buildApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  // Every answer names its request (Cloudflare's ray id where there is one), so that a client's
  // report and the Worker's log line (request-log.ts) can be matched; set last, so that error
  // answers carry it too.
  app.use("*", async (c, next) => {
    const startedAt = Date.now();
    const requestId = requestIdOf(c);
    await next();
    c.res.headers.set("X-Request-Id", requestId);
    if (requestLogEnabled(c.env)) console.log(JSON.stringify(requestLogLine(c, requestId, startedAt)));
  });

  // Before the configuration is read: a health check must answer even when that is what fails.
  app.get("/healthz", async (c) => {
    const health = await checkHealth(c.env);
    return c.json(health, health.status === "ok" ? 200 : 503, { "Cache-Control": "no-store" });
  });

  app.use("*", async (c, next) => {
    c.set("config", configFrom(c.env));
    await next();
    c.res.headers.set("Docker-Distribution-API-Version", "registry/2.0");
  });

  // Outside /v2 every body is a form or a JSON document of at most 64 KiB (bounded-body.ts): one
  // declared larger is 413 before authentication and before a byte of it is read, whatever the
  // route (a POST that takes no body included). Chunked ones are bounded where they are read.
  app.use("*", async (c, next) => {
    if (!isRegistryPath(c.req.path)) refuseDeclaredOver(c.req.raw.headers, SMALL_BODY_BYTES, "the request body");
    await next();
  });

  app.use("/v2/*", async (c, next) => {
    // Names, tags, digests and session ids never contain "%": an encoded slash or dot in the
    // path is a trick to reach another repository, not a name.
    if (rawPath(c.req.url).includes("%")) throw new RegistryError("NAME_INVALID", "percent-encoded characters are not allowed in registry paths");
    // Refused from Content-Length before any byte is read, as Cloudflare's edge would (413).
    const declared = Number(c.req.header("Content-Length") ?? 0);
    if (declared > c.var.config.maxBodyBytes) {
      throw new RegistryError("SIZE_INVALID", `request body of ${declared} bytes is over this registry's limit of ${c.var.config.maxBodyBytes}; send it in chunks`, { status: 413 });
    }
    await next();
  });

  // The API version check (OCI distribution spec v1.1, end-1); anonymous callers get the
  // challenge that tells docker login & co. where the token endpoint is (issue 4).
  for (const path of ["/v2/", "/v2"]) {
    app.get(path, async (c) => {
      await allowBase(c);
      return c.json({});
    });
  }

  app.route("/v2", listingRoutes);
  app.route("/v2", uploadRoutes);
  app.route("/v2", blobRoutes);
  app.route("/v2", manifestRoutes);
  app.route("/api/v1/cache", cacheApiRoutes);
  app.route("/api/v1", managementApiRoutes);
  app.route("/", tokenRoutes);

  app.notFound(() => renderError(new RegistryError("UNSUPPORTED", "no such endpoint", { status: 404 })));
  app.onError(async (error, c) => {
    // Refused bodies are read (up to a bound) before answering; see drain(). Under /v2 the bound
    // is the body cap (a blob chunk the client is still sending); elsewhere bodies are small, so
    // no more than 64 KiB is read. A 413 is never drained: not reading is what it is for.
    if (!(error instanceof RegistryError && error.status === 413)) {
      await drain(c.req.raw.body, isRegistryPath(c.req.path) ? maxBodyBytes(c.env) : SMALL_BODY_BYTES);
    }
    if (error instanceof RegistryError) return renderError(error);
    if (error instanceof ConfigError) {
      console.error(`Pier is misconfigured: ${error.message}`);
      return renderError(new RegistryError("UNKNOWN", `Pier is misconfigured: ${error.message}`));
    }
    console.error("unexpected error", error);
    return renderError(new RegistryError("UNKNOWN", "internal error"));
  });
  return app;
}

/** Whether the path is the OCI distribution API's (/v2), where blobs, not forms, are sent. */
function isRegistryPath(path: string): boolean {
  return path === "/v2" || path.startsWith("/v2/");
}

/** The path as the client sent it, percent-encoding intact (cheaper than parsing a URL). */
function rawPath(url: string): string {
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

/** The cap, even when the configuration itself is what failed. */
function maxBodyBytes(env: Bindings): number {
  try {
    return configFrom(env).maxBodyBytes;
  } catch {
    return DEFAULT_MAX_BODY_BYTES;
  }
}

function renderError(error: RegistryError): Response {
  return new Response(errorBody(error), {
    status: error.status,
    headers: {
      ...error.headers,
      "Content-Type": "application/json; charset=utf-8",
      "Docker-Distribution-API-Version": "registry/2.0",
    },
  });
}
