// GET / HEAD / PUT / DELETE /v2/<name>/manifests/<reference>
import { Hono } from "hono";
import { parseReadReference, parseReference, parseTag, type Tag } from "../oci/names";
import { RegistryError } from "../errors";
import { deleteManifest, getManifest, putManifest, readManifestBody } from "../services/manifests";
import { type AppEnv, contentLength, repositoryParam } from "./context";

export const manifestRoutes = new Hono<AppEnv>();

manifestRoutes.get("/:name{.+}/manifests/:reference", async (c) => {
  const repository = repositoryParam(c);
  const reference = parseReadReference(c.req.param("reference"));
  const manifest = await getManifest(c.env, repository, reference, c.req.method !== "HEAD");
  return new Response(manifest.body, {
    status: 200,
    headers: {
      "Content-Type": manifest.mediaType,
      "Content-Length": String(manifest.size),
      "Docker-Content-Digest": manifest.digest,
      ETag: `"${manifest.digest}"`,
    },
  });
});

manifestRoutes.put("/:name{.+}/manifests/:reference", async (c) => {
  const repository = repositoryParam(c);
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
  await deleteManifest(c.env, repositoryParam(c), parseReadReference(c.req.param("reference")));
  return c.body(null, 202);
});
