// GET / HEAD / DELETE /v2/<name>/blobs/<digest>
import { Hono } from "hono";
import { parseDigest } from "../oci/digest";
import { deleteBlob, openBlob, statBlob } from "../services/blobs";
import { type AppEnv, repositoryParam } from "./context";

export const blobRoutes = new Hono<AppEnv>();

blobRoutes.get("/:name{.+}/blobs/:digest", async (c) => {
  const repository = repositoryParam(c);
  const digest = parseDigest(c.req.param("digest"));
  const headers: Record<string, string> = {
    "Content-Type": "application/octet-stream",
    "Docker-Content-Digest": digest,
    ETag: `"${digest}"`,
    "Accept-Ranges": "bytes",
    // Content-addressed: the bytes behind a digest never change.
    "Cache-Control": "max-age=31536000, immutable",
  };
  if (c.req.method === "HEAD") {
    const blob = await statBlob(c.env, repository, digest);
    return new Response(null, { status: 200, headers: { ...headers, "Content-Length": String(blob.size) } });
  }
  const blob = await openBlob(c.env, repository, digest, c.req.header("Range") ?? null);
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
  await deleteBlob(c.env, repositoryParam(c), parseDigest(c.req.param("digest")));
  return c.body(null, 202);
});
