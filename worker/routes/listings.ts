// GET /v2/<name>/tags/list, GET /v2/_catalog, GET /v2/<name>/referrers/<digest>
import { Hono } from "hono";
import { parseDigest } from "../oci/digest";
import { nextLink, parsePage } from "../oci/pagination";
import { listCatalog, listReferrers, listTags } from "../services/listings";
import { type AppEnv, repositoryParam } from "./context";

export const listingRoutes = new Hono<AppEnv>();

listingRoutes.get("/_catalog", async (c) => {
  const page = parsePage(c.req.query("n"), c.req.query("last"));
  const listing = await listCatalog(c.env, page);
  if (listing.next !== null) c.header("Link", nextLink("/v2/_catalog", page.limit, listing.next));
  return c.json({ repositories: listing.items });
});

listingRoutes.get("/:name{.+}/tags/list", async (c) => {
  const repository = repositoryParam(c);
  const page = parsePage(c.req.query("n"), c.req.query("last"));
  const listing = await listTags(c.env, repository, page);
  if (listing.next !== null) c.header("Link", nextLink(`/v2/${repository}/tags/list`, page.limit, listing.next));
  return c.json({ name: repository, tags: listing.items });
});

listingRoutes.get("/:name{.+}/referrers/:digest", async (c) => {
  const repository = repositoryParam(c);
  const subject = parseDigest(c.req.param("digest"));
  const artifactType = c.req.query("artifactType") || null;
  const page = parsePage(c.req.query("n"), c.req.query("last"));
  const listing = await listReferrers(c.env, repository, subject, artifactType, page);
  if (artifactType !== null) c.header("OCI-Filters-Applied", "artifactType");
  if (listing.next !== null) {
    const extra: Record<string, string> = artifactType === null ? {} : { artifactType };
    c.header("Link", nextLink(`/v2/${repository}/referrers/${subject}`, page.limit, listing.next, extra));
  }
  return c.body(JSON.stringify({ schemaVersion: 2, mediaType: listing.mediaType, manifests: listing.items }), 200, {
    "Content-Type": listing.mediaType,
  });
});
