// Management API for the pull-through cache:
//   GET  /api/v1/cache/stats              counters per upstream, most recently pulled artifacts
//   POST /api/v1/cache/prefetch           {"upstream","repository","reference","platform"?} → 202 job
//   GET  /api/v1/cache/prefetch/{id}      a job's progress; GET /api/v1/cache/prefetch lists recent ones
// For system admins only: the statistics name every cached repository (private proxy projects'
// too), and a prefetch spends upstream requests, which are what the cache exists to save.
import { Hono } from "hono";
import { RegistryError } from "../../errors";
import { parseReference, parseRepoName } from "../../oci/names";
import { enqueuePrefetch, prefetchJob, recentPrefetches } from "../../services/prefetch";
import { cacheStats } from "../../services/cache-stats";
import { requireSystemAdmin } from "../../services/management/guard";
import { type ApiEnv, requireActor } from "./actor";
import { jsonBody } from "./body";

export const cacheApiRoutes = new Hono<ApiEnv>();

cacheApiRoutes.use("*", requireActor, async (c, next) => {
  await requireSystemAdmin(c.env, c.var.actor, { action: c.req.method === "POST" ? "cache.prefetch" : "cache.read", resource: c.req.path, project: null }, "use the cache API");
  await next();
});

const DEFAULT_ARTIFACTS = 100;
const MAX_ARTIFACTS = 1000;

cacheApiRoutes.get("/stats", async (c) => {
  const limit = c.req.query("artifacts");
  const artifacts = limit === undefined ? DEFAULT_ARTIFACTS : Number(limit);
  if (!Number.isSafeInteger(artifacts) || artifacts < 0) throw new RegistryError("INVALID_REQUEST", `artifacts must be a whole number, got "${limit}"`);
  return c.json(await cacheStats(c.env, c.var.config, Math.min(artifacts, MAX_ARTIFACTS)));
});

cacheApiRoutes.post("/prefetch", async (c) => {
  // Read with the management API's bound (64 KiB, 413 past it), never whole whatever its size.
  const { upstream, repository, reference, platform } = await jsonBody(c);
  if (typeof upstream !== "string" || typeof repository !== "string" || typeof reference !== "string") {
    throw new RegistryError("INVALID_REQUEST", '"upstream", "repository" and "reference" are required strings');
  }
  if (platform !== undefined && typeof platform !== "string") throw new RegistryError("INVALID_REQUEST", '"platform" must be a string like "linux/amd64"');
  parseReference(reference);
  const job = await enqueuePrefetch(c.env, c.var.config, { upstream, repository: parseRepoName(repository), reference, platform: platform ?? null });
  return c.json(job, 202, { Location: `/api/v1/cache/prefetch/${job.id}` });
});

cacheApiRoutes.get("/prefetch", async (c) => c.json({ items: await recentPrefetches(c.env) }));

cacheApiRoutes.get("/prefetch/:id", async (c) => c.json(await prefetchJob(c.env, c.req.param("id"))));
