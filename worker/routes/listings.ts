// GET /v2/<name>/tags/list, GET /v2/_catalog, GET /v2/<name>/referrers/<digest>
import { Hono } from "hono";
import { CACHE_HEADER } from "../proxy/cache-stats";
import { parseDigest } from "../oci/digest";
import { nextLink, parsePage } from "../oci/pagination";
import { listProxiedTags } from "../proxy/tag-listing";
import { type Listing, listCatalog, listReferrers, listTags } from "../services/listings";
import { allowCatalog, allowRead } from "./authorization";
import { type AppEnv, readTarget, routingQuery, waitUntilOf } from "./context";

export const listingRoutes = new Hono<AppEnv>();

listingRoutes.get("/_catalog", async (c) => {
  const page = parsePage(c.req.query("n"), c.req.query("last"));
  const listing = await listCatalog(c.env, page, await allowCatalog(c));
  if (listing.next !== null) c.header("Link", nextLink("/v2/_catalog", page.limit, listing.next));
  return c.json({ repositories: listing.items });
});

listingRoutes.get("/:name{.+}/tags/list", async (c) => {
  const route = await readTarget(c);
  await allowRead(c, route);
  const name = c.req.param("name");
  const page = parsePage(c.req.query("n"), c.req.query("last"));
  let listing: Listing<string>;
  if (route.kind === "local") {
    listing = await listTags(c.env, route.repository, page);
  } else {
    const proxied = await listProxiedTags(c.env, waitUntilOf(c), route.target, page);
    c.header(CACHE_HEADER, proxied.cache);
    listing = proxied;
  }
  if (listing.next !== null) c.header("Link", nextLink(`/v2/${name}/tags/list`, page.limit, listing.next, routingQuery(c)));
  return c.json({ name, tags: listing.items });
});

listingRoutes.get("/:name{.+}/referrers/:digest", async (c) => {
  const subject = parseDigest(c.req.param("digest"));
  const route = await readTarget(c);
  await allowRead(c, route);
  // Referrers of cached content are those Pier has cached (the referrers API is not a pull).
  const repository = route.kind === "local" ? route.repository : route.target.cacheName;
  const name = c.req.param("name");
  const artifactType = c.req.query("artifactType") || null;
  const page = parsePage(c.req.query("n"), c.req.query("last"));
  const listing = await listReferrers(c.env, repository, subject, artifactType, page);
  if (artifactType !== null) c.header("OCI-Filters-Applied", "artifactType");
  if (listing.next !== null) {
    const extra: Record<string, string> = artifactType === null ? routingQuery(c) : { ...routingQuery(c), artifactType };
    c.header("Link", nextLink(`/v2/${name}/referrers/${subject}`, page.limit, listing.next, extra));
  }
  return c.body(JSON.stringify({ schemaVersion: 2, mediaType: listing.mediaType, manifests: listing.items }), 200, {
    "Content-Type": listing.mediaType,
  });
});
