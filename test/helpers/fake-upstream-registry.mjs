// The read side of the OCI distribution API as the fake upstreams serve it once a request is
// authenticated (fake-upstream-server.mjs does auth): manifests, blobs and tag lists from the
// shared store, bent by the repo's behaviour (errors, delays, broken or paused bodies,
// redirects) so that the pull-through cache can be tested against a misbehaving upstream.
import { isDigest } from "./fake-upstream-store.mjs";

/** @typedef {import("./fake-upstream-store.mjs").FakeUpstreamStore} FakeUpstreamStore */
/** @typedef {import("node:http").IncomingMessage} Req */
/** @typedef {import("node:http").ServerResponse} Res */

/**
 * Splits `/v2/<name>/(manifests|blobs|tags)/<rest>`. Names have several segments, and a
 * segment may itself be called "blobs", so the LAST keyword wins (the greedy `.+`).
 * @returns {{ repo: string, kind: "manifests" | "blobs" | "tags", rest: string } | null}
 */
export function parseRegistryPath(pathname) {
  const match = /^\/v2\/(.+)\/(manifests|blobs|tags)\/([^/]+)$/.exec(pathname);
  if (!match) return null;
  return { repo: match[1], kind: /** @type {"manifests" | "blobs" | "tags"} */ (match[2]), rest: match[3] };
}

/** Sends a distribution-spec error body (`{"errors": [{code, message, detail}]}`); none on HEAD. */
export function sendError(req, res, status, code, message, headers = {}) {
  const body = JSON.stringify({ errors: [{ code, message, detail: null }] });
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), ...headers });
  res.end(req.method === "HEAD" ? undefined : body);
}

export function sendJson(res, status, value, headers = {}) {
  const body = JSON.stringify(value);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Resolves when the client hangs up (or the response is done): nothing waits past that. */
function closed(res) {
  return new Promise((resolve) => res.once("close", resolve));
}

/** Waits `ms` unless the client goes away first; the timer never keeps the process alive. */
export async function delay(res, ms) {
  let timer;
  const elapsed = new Promise((resolve) => (timer = setTimeout(resolve, ms)));
  timer.unref();
  await Promise.race([elapsed, closed(res)]);
  clearTimeout(timer);
}

/** The status code's distribution-spec error code, for the forced-status behaviour. */
function codeFor(status) {
  if (status === 401) return "UNAUTHORIZED";
  if (status === 403) return "DENIED";
  if (status === 404) return "NAME_UNKNOWN";
  if (status === 429) return "TOOMANYREQUESTS";
  return "UNAVAILABLE";
}

/**
 * Answers one authenticated registry request. `cdn` is the origin blob redirects point at.
 * @param {{ store: FakeUpstreamStore, cdn: string }} context
 * @param {Req} req
 * @param {Res} res
 * @param {URL} url
 */
export async function serveRegistry({ store, cdn }, req, res, url) {
  if (url.pathname === "/v2/" || url.pathname === "/v2") return sendJson(res, 200, {});
  const target = parseRegistryPath(url.pathname);
  if (!target) return sendError(req, res, 404, "NAME_UNKNOWN", `no route for ${url.pathname}`);
  if (req.method !== "GET" && req.method !== "HEAD") return sendError(req, res, 405, "UNSUPPORTED", "the fake upstream is read-only");

  const behaviour = store.behaviour(target.repo);
  if (behaviour.delayMs) await delay(res, behaviour.delayMs);
  if (res.destroyed || res.socket?.destroyed !== false) return; // the client gave up waiting
  const forced = store.takeStatus(target.repo);
  if (forced) {
    const headers = forced.retryAfter === null ? {} : { "Retry-After": forced.retryAfter };
    return sendError(req, res, forced.status, codeFor(forced.status), `forced status ${forced.status}`, headers);
  }

  if (target.kind === "manifests") return serveManifest(store, req, res, target);
  if (target.kind === "blobs") return serveBlob(store, cdn, req, res, target);
  if (target.rest === "list" && req.method === "GET") return serveTags(store, req, res, target.repo, url);
  return sendError(req, res, 404, "NAME_UNKNOWN", `no route for ${url.pathname}`);
}

function serveManifest(store, req, res, { repo, rest: reference }) {
  const manifest = store.manifest(repo, reference);
  if (!manifest) return sendError(req, res, 404, "MANIFEST_UNKNOWN", `manifest unknown: ${repo}:${reference}`);
  const headers = { "Content-Type": manifest.mediaType, "Content-Length": manifest.bytes.length };
  if (!store.behaviour(repo).omitDigestHeader) headers["Docker-Content-Digest"] = manifest.digest;
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? undefined : manifest.bytes);
}

async function serveBlob(store, cdn, req, res, { repo, rest: digest }) {
  const stored = isDigest(digest) ? store.blob(repo, digest) : null;
  if (!stored) return sendError(req, res, 404, "BLOB_UNKNOWN", `blob unknown: ${repo}@${digest}`);
  const headers = { "Content-Type": "application/octet-stream", "Content-Length": stored.length, "Docker-Content-Digest": digest };
  if (req.method === "HEAD") {
    res.writeHead(200, headers);
    return res.end();
  }
  const behaviour = store.behaviour(repo);
  if (behaviour.redirectBlobs) {
    // Like registries that hand blob bytes to S3 or a CDN: a client must follow without
    // carrying the registry's Authorization along (fake-upstream-server.mjs logs what it gets).
    res.writeHead(307, { Location: `${cdn}/cdn/${repo}/${digest}`, "Content-Length": 0 });
    return res.end();
  }
  // Same length, different bytes: only the digest check can notice.
  const bytes = behaviour.corruptBlobs ? Buffer.from(stored.map((byte) => byte ^ 0xff)) : stored;
  // Chunked transfer encoding: the length is known only once the body has ended.
  if (behaviour.chunkedBlobs) delete headers["Content-Length"];
  res.writeHead(200, headers);
  if (behaviour.cutBlobsAfter !== undefined) return cutAfter(res, bytes, behaviour.cutBlobsAfter);
  if (behaviour.holdBlobsAfter !== undefined) return holdAfter(store, repo, res, bytes, behaviour.holdBlobsAfter);
  res.end(bytes);
}

/** Sends the first n bytes, then drops the connection: a body shorter than its Content-Length. */
function cutAfter(res, bytes, n) {
  // destroy() discards unflushed writes, so it waits for the write (headers + n bytes) to land.
  res.write(bytes.subarray(0, n), () => res.socket?.destroy());
}

/** Sends the first n bytes, then pauses until the control API releases the repo (or the client leaves). */
async function holdAfter(store, repo, res, bytes, n) {
  res.write(bytes.subarray(0, n));
  const { released, cancel } = store.hold(repo);
  const outcome = await Promise.race([released.then(() => "released"), closed(res).then(() => "closed")]);
  if (outcome === "closed") return cancel();
  res.end(bytes.subarray(n));
}

/** Tag listing with `n` and `last` paging and a `Link: <…>; rel="next"` like distribution. */
function serveTags(store, req, res, repo, url) {
  const stored = store.repo(repo);
  if (!stored) return sendError(req, res, 404, "NAME_UNKNOWN", `repository name not known to registry: ${repo}`);
  const last = url.searchParams.get("last");
  let tags = [...stored.tags.keys()].sort().filter((tag) => last === null || tag > last);
  const n = url.searchParams.has("n") ? Number(url.searchParams.get("n")) : null;
  const headers = {};
  if (n !== null && Number.isSafeInteger(n) && n >= 0 && tags.length > n) {
    tags = tags.slice(0, n);
    if (n > 0) headers.Link = `</v2/${repo}/tags/list?n=${n}&last=${encodeURIComponent(tags[n - 1])}>; rel="next"`;
  }
  sendJson(res, 200, { name: repo, tags }, headers);
}
