// GET / HEAD / DELETE /v2/<name>/blobs/<digest>
import { Hono } from "hono";
import { CACHE_HEADER } from "../proxy/cache-stats";
import { parseDigest } from "../oci/digest";
import { openProxiedBlob, statProxiedBlob } from "../proxy/blob-cache";
import { type BlobContent, deleteBlob, openBlob, statBlob } from "../services/blobs";
import { allowRead, allowWrite, auditDone } from "./authorization";
import { type AppEnv, readTarget, waitUntilOf } from "./context";

export const blobRoutes = new Hono<AppEnv>();

blobRoutes.get("/:name{.+}/blobs/:digest", async (c) => {
  const digest = parseDigest(c.req.param("digest"));
  const route = await readTarget(c);
  await allowRead(c, route);
  const proxied = route.kind === "proxy";
  const headers: Record<string, string> = {
    "Content-Type": "application/octet-stream",
    "Docker-Content-Digest": digest,
    ETag: `"${digest}"`,
    "Accept-Ranges": "bytes",
    // Content-addressed: the bytes behind a digest never change.
    "Cache-Control": "max-age=31536000, immutable",
  };
  if (c.req.method === "HEAD") {
    const blob: { size: number; cache?: string } = proxied
      ? await statProxiedBlob(c.env, waitUntilOf(c), route.target, digest)
      : await statBlob(c.env, route.repository, digest);
    if (blob.cache !== undefined) headers[CACHE_HEADER] = blob.cache;
    return new Response(null, { status: 200, headers: { ...headers, "Content-Length": String(blob.size) } });
  }
  const range = c.req.header("Range") ?? null;
  const blob: BlobContent & { cache?: string } = proxied
    ? await openProxiedBlob(c.env, waitUntilOf(c), route.target, digest, range)
    : await openBlob(c.env, route.repository, digest, range);
  if (blob.cache !== undefined) headers[CACHE_HEADER] = blob.cache;
  if (blob.range === null) {
    return new Response(blob.body, { status: 200, headers: { ...headers, "Content-Length": String(blob.size) } });
  }
  const { offset, length } = blob.range;
  return new Response(blob.body, {
    status: 206,
    headers: { ...headers, "Content-Length": String(length), "Content-Range": `bytes ${offset}-${offset + length - 1}/${blob.size}` },
  });
});

blobRoutes.delete("/:name{.+}/blobs/:digest", async (c) => {
  const digest = parseDigest(c.req.param("digest"));
  const { repository, principal } = await allowWrite(c, "delete");
  await deleteBlob(c.env, repository, digest);
  auditDone(c, principal, "delete", `${repository}@${digest}`, { kind: "local", repository });
  return c.body(null, 202);
});
