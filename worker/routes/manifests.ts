// GET / HEAD / PUT / DELETE /v2/<name>/manifests/<reference>
import { Hono } from "hono";
import { type Principal, principalName } from "../auth/principal";
import type { EventCause } from "../events/events";
import { CACHE_HEADER } from "../proxy/cache-stats";
import { parseReadReference, parseReference, parseTag, type Reference, type Tag } from "../oci/names";
import { readRequestBody } from "../bounded-body";
import { RegistryError } from "../errors";
import { getProxiedManifest } from "../proxy/manifest-cache";
import { deleteManifest, getManifest, type ManifestContent, MAX_MANIFEST_BYTES, putManifest } from "../services/manifests";
import { recordPull } from "../storage/pull-records";
import { allowRead, allowWrite, auditDone } from "./authorization";
import { type AppContext, type AppEnv, publicOrigin, readTarget, waitUntilOf } from "./context";

export const manifestRoutes = new Hono<AppEnv>();

manifestRoutes.get("/:name{.+}/manifests/:reference", async (c) => {
  // Grammar first: an invalid reference is the same answer wherever the name routes.
  const reference = parseReadReference(c.req.param("reference"));
  const route = await readTarget(c);
  const principal = await allowRead(c, route);
  const withBody = c.req.method !== "HEAD";
  const extraHeaders: Record<string, string> = {};
  let manifest: ManifestContent;
  if (route.kind === "local") manifest = await getManifest(c.env, route.repository, reference, withBody, withBody ? eventCause(c, principal) : null);
  else {
    const proxied = await getProxiedManifest(c.env, waitUntilOf(c), route.target, reference, withBody);
    extraHeaders[CACHE_HEADER] = proxied.cache;
    manifest = proxied;
  }
  // A GET is a pull; the HEADs around it are checks (worker/auth/registry-audit.ts).
  if (withBody) {
    auditDone(c, principal, "pull", resourceOf(route.kind === "proxy" ? route.target.cacheName : c.req.param("name"), reference), route);
    // Proxied pulls are counted in cached_artifacts (worker/proxy/cache-stats.ts) already.
    if (route.kind === "local") recordPull(c.env, waitUntilOf(c), route.repository, manifest.digest);
  }
  return manifestResponse(manifest, extraHeaders);
});

/** Who acts, for the event the service emits (worker/events): the principal's name, Pier's origin. */
function eventCause(c: AppContext, principal: Principal): EventCause {
  return { operator: principalName(principal) || "anonymous", origin: publicOrigin(c), waitUntil: waitUntilOf(c) };
}

/** How the audit log names a manifest: `name:tag` or `name@digest`. */
function resourceOf(name: string, reference: Reference): string {
  return reference.kind === "tag" ? `${name}:${reference.tag}` : `${name}@${reference.digest}`;
}

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
  const reference = parseReference(c.req.param("reference"));
  const { repository, principal } = await allowWrite(c, "push");
  const extraTags = reference.kind === "digest" ? tagParams(c.req.queries("tag") ?? []) : [];
  // 413 over 8 MiB, before or while reading (spec v1.1 "Pushing Manifests": registries SHOULD
  // take at least 4 MB and answer 413 past their limit).
  const bytes = await readRequestBody(c.req.raw, MAX_MANIFEST_BYTES, "the manifest");
  const { digest, subject } = await putManifest(c.env, repository, reference, bytes, c.req.header("Content-Type") ?? null, extraTags, eventCause(c, principal));
  const headers: Record<string, string> = {
    Location: `/v2/${repository}/manifests/${digest}`,
    "Docker-Content-Digest": digest,
    "Content-Length": "0",
  };
  // Tells the client this registry indexes referrers by subject (spec: "Pushing Manifests with Subject").
  if (subject !== null) headers["OCI-Subject"] = subject;
  if (extraTags.length > 0) headers["OCI-Tag"] = extraTags.join(", ");
  auditDone(c, principal, "push", resourceOf(repository, reference), { kind: "local", repository });
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
  const reference = parseReadReference(c.req.param("reference"));
  const { repository, principal } = await allowWrite(c, "delete");
  await deleteManifest(c.env, repository, reference, eventCause(c, principal));
  auditDone(c, principal, "delete", resourceOf(repository, reference), { kind: "local", repository });
  return c.body(null, 202);
});
