// GET / HEAD / PUT / DELETE /v2/<name>/manifests/<reference>
import { Hono } from "hono";
import { CACHE_HEADER } from "../proxy/cache-stats";
import { parseReadReference, parseReference, parseTag, type Tag } from "../oci/names";
import { RegistryError } from "../errors";
import { getProxiedManifest } from "../proxy/manifest-cache";
import { deleteManifest, getManifest, type ManifestContent, putManifest, readManifestBody } from "../services/manifests";
import { type AppEnv, contentLength, readTarget, waitUntilOf, writeRepository } from "./context";

export const manifestRoutes = new Hono<AppEnv>();

manifestRoutes.get("/:name{.+}/manifests/:reference", async (c) => {
  // Grammar first: an invalid reference is the same answer wherever the name routes.
  const reference = parseReadReference(c.req.param("reference"));
  const route = await readTarget(c);
  const withBody = c.req.method !== "HEAD";
  if (route.kind === "local") return manifestResponse(await getManifest(c.env, route.repository, reference, withBody), {});
  const manifest = await getProxiedManifest(c.env, waitUntilOf(c), route.target, reference, withBody);
  return manifestResponse(manifest, { [CACHE_HEADER]: manifest.cache });
});

function manifestResponse(manifest: ManifestContent, extraHeaders: Record<string, string>): Response {
  return new Response(manifest.body, {
    status: 200,
    headers: {
      "Content-Type": manifest.mediaType,
      "Content-Length": String(manifest.size),
      "Docker-Content-Digest": manifest.digest,
      ETag: `"${manifest.digest}"`,
      ...extraHeaders,
    },
  });
}

manifestRoutes.put("/:name{.+}/manifests/:reference", async (c) => {
  const repository = writeRepository(c);
  const reference = parseReference(c.req.param("reference"));
  const extraTags = reference.kind === "digest" ? tagParams(c.req.queries("tag") ?? []) : [];
  const bytes = await readManifestBody(c.req.raw.body, contentLength(c));
  const { digest, subject } = await putManifest(c.env, repository, reference, bytes, c.req.header("Content-Type") ?? null, extraTags);
  const headers: Record<string, string> = {
    Location: `/v2/${repository}/manifests/${digest}`,
    "Docker-Content-Digest": digest,
    "Content-Length": "0",
  };
  // Tells the client this registry indexes referrers by subject (spec: "Pushing Manifests with Subject").
  if (subject !== null) headers["OCI-Subject"] = subject;
  if (extraTags.length > 0) headers["OCI-Tag"] = extraTags.join(", ");
  return new Response(null, { status: 201, headers });
});

/** Most tags one PUT may set with `?tag=` (the spec asks for at least 10). */
const MAX_TAG_PARAMS = 100;

/** `PUT /manifests/<digest>?tag=a&tag=b` tags the manifest too (spec: "Pushing Manifests"). */
function tagParams(values: string[]): Tag[] {
  if (values.length > MAX_TAG_PARAMS) {
    throw new RegistryError("TAG_INVALID", `at most ${MAX_TAG_PARAMS} tag parameters per request`, { status: 414 });
  }
  return [...new Set(values.map(parseTag))];
}

manifestRoutes.delete("/:name{.+}/manifests/:reference", async (c) => {
  await deleteManifest(c.env, writeRepository(c), parseReadReference(c.req.param("reference")));
  return c.body(null, 202);
});
