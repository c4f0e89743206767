// The read side of a fake remote registry, per the OCI distribution spec v1.1: manifests and
// blobs (GET/HEAD), tag lists and the catalog with `n`/`last` paging and a Link header, and the
// referrers API (an OCI index of the manifests whose subject is a digest). The catalog and the
// referrers API answer 404 when the registry was created without them, as registries that
// lack them do (Docker Hub has no catalog; distribution 2.x has no referrers API).
import { isDigest } from "./fake-remote-store.mjs";
import { sendError, sendJson } from "./fake-upstream-registry.mjs";

/** @typedef {import("./fake-remote-store.mjs").FakeRemoteStore} FakeRemoteStore */
/** @typedef {import("node:http").IncomingMessage} Req */
/** @typedef {import("node:http").ServerResponse} Res */
/**
 * @typedef {{ kind: "version" } | { kind: "catalog" }
 *   | { kind: "manifests" | "blobs" | "tags" | "referrers" | "upload", repo: string, rest: string }
 *   | { kind: "uploads", repo: string }} Target
 */

export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

/**
 * What a /v2/ path addresses. Names have several segments and a segment may itself be called
 * "blobs", so the last keyword wins (the greedy `.+`).
 * @returns {Target | null}
 */
export function parseTarget(pathname) {
  if (pathname === "/v2/" || pathname === "/v2") return { kind: "version" };
  if (pathname === "/v2/_catalog") return { kind: "catalog" };
  const uploads = /^\/v2\/(.+)\/blobs\/uploads\/?$/.exec(pathname);
  if (uploads) return { kind: "uploads", repo: uploads[1] };
  const upload = /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/.exec(pathname);
  if (upload) return { kind: "upload", repo: upload[1], rest: upload[2] };
  const match = /^\/v2\/(.+)\/(manifests|blobs|tags|referrers)\/([^/]+)$/.exec(pathname);
  if (!match) return null;
  return { kind: /** @type {"manifests" | "blobs" | "tags" | "referrers"} */ (match[2]), repo: match[1], rest: match[3] };
}

/**
 * GET/HEAD of a manifest by tag or digest.
 * @param {FakeRemoteStore} store
 */
export function serveManifest(store, req, res, repo, reference) {
  const manifest = store.manifest(repo, reference);
  if (!manifest) return sendError(req, res, 404, "MANIFEST_UNKNOWN", `manifest unknown: ${repo}:${reference}`);
  res.writeHead(200, { "Content-Type": manifest.mediaType, "Content-Length": manifest.bytes.length, "Docker-Content-Digest": manifest.digest });
  res.end(req.method === "HEAD" ? undefined : manifest.bytes);
}

/**
 * GET/HEAD of a blob; with `cdn`, a GET answers 307 to it (bytes served by another origin,
 * which must not receive the registry's credentials).
 * @param {FakeRemoteStore} store
 * @param {string | null} cdn
 */
export function serveBlob(store, cdn, req, res, repo, digest) {
  const bytes = isDigest(digest) ? store.blob(repo, digest) : null;
  if (!bytes) return sendError(req, res, 404, "BLOB_UNKNOWN", `blob unknown: ${repo}@${digest}`);
  const headers = { "Content-Type": "application/octet-stream", "Content-Length": bytes.length, "Docker-Content-Digest": digest };
  if (req.method === "GET" && cdn !== null) {
    res.writeHead(307, { Location: `${cdn}/cdn/${repo}/${digest}`, "Content-Length": 0 });
    return res.end();
  }
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? undefined : bytes);
}

/** @param {FakeRemoteStore} store */
export function serveTags(store, req, res, repo, url) {
  const stored = store.repo(repo);
  if (!stored) return sendError(req, res, 404, "NAME_UNKNOWN", `repository name not known to registry: ${repo}`);
  const { items, link } = page([...stored.tags.keys()].sort(), url, `/v2/${repo}/tags/list`);
  sendJson(res, 200, { name: repo, tags: items }, link ? { Link: link } : {});
}

/** @param {FakeRemoteStore} store */
export function serveCatalog(store, req, res, url) {
  const { items, link } = page(store.repositories(), url, "/v2/_catalog");
  sendJson(res, 200, { repositories: items }, link ? { Link: link } : {});
}

/**
 * GET /v2/<name>/referrers/<digest>[?artifactType=]: always 200, an empty index when nothing
 * refers to the digest (the spec's answer even for an unknown subject).
 * @param {FakeRemoteStore} store
 */
export function serveReferrers(store, req, res, repo, digest, url) {
  if (!isDigest(digest)) return sendError(req, res, 400, "DIGEST_INVALID", `not a digest: ${digest}`);
  const artifactType = url.searchParams.get("artifactType");
  const manifests = store
    .referrers(repo, digest)
    .filter((referrer) => artifactType === null || referrer.artifactType === artifactType)
    .sort((a, b) => (a.digest < b.digest ? -1 : 1))
    .map((referrer) => ({
      mediaType: referrer.mediaType,
      digest: referrer.digest,
      size: referrer.bytes.length,
      ...(referrer.artifactType ? { artifactType: referrer.artifactType } : {}),
      ...(referrer.annotations ? { annotations: referrer.annotations } : {}),
    }));
  const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
  const headers = { "Content-Type": OCI_INDEX, "Content-Length": Buffer.byteLength(body) };
  if (artifactType !== null) headers["OCI-Filters-Applied"] = "artifactType";
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? undefined : body);
}

/**
 * One page of sorted names after `last`, at most `n` long, with distribution's
 * `Link: <path?n=…&last=…>; rel="next"` when more follow.
 */
function page(sorted, url, path) {
  const last = url.searchParams.get("last");
  let items = sorted.filter((name) => last === null || name > last);
  const n = url.searchParams.has("n") ? Number(url.searchParams.get("n")) : null;
  let link = null;
  if (n !== null && Number.isSafeInteger(n) && n >= 0 && items.length > n) {
    items = items.slice(0, n);
    if (n > 0) link = `<${path}?n=${n}&last=${encodeURIComponent(items[n - 1])}>; rel="next"`;
  }
  return { items, link };
}
