// The write side of a fake remote registry, per the OCI distribution spec v1.1: upload sessions
// (POST, PATCH chunks with Content-Range, PUT ?digest= to finish, GET status, DELETE cancel),
// single-request monolithic pushes (POST ?digest=), cross-repository mounts (POST ?mount=&from=),
// manifest PUT by tag or digest and DELETE of manifests, tags and blobs. Strict where
// distribution is strict, so a copy engine that works here works there:
// - an upload's Location carries an opaque `_state` that later requests must bring back (a
//   client must use the Location as given, appending `digest` to its query);
// - a chunk must start where the session ends (416 with the session's Range otherwise) and be
//   exactly as long as its Content-Range says; one longer than chunkMaxLength is refused (413);
// - the digest is checked over everything received (sha256 or sha512; 400 DIGEST_INVALID, and
//   the session is gone);
// - a manifest whose blobs or child manifests are not in the repository is refused with 400
//   MANIFEST_BLOB_UNKNOWN; one pushed by digest must have that digest; its Content-Type must
//   match its mediaType field.
import { digestOf, isDigest, parseJson } from "./fake-remote-store.mjs";
import { sendError } from "./fake-upstream-registry.mjs";

/** @typedef {import("./fake-remote-store.mjs").FakeRemoteStore} FakeRemoteStore */
/** @typedef {import("./fake-remote-store.mjs").Upload} Upload */
/**
 * @typedef {{ referrersApi: boolean, monolithic: boolean, mount: boolean, deletes: boolean,
 *   chunkMinLength: number | null, chunkMaxLength: number | null, relativeLocations: boolean }} PushOptions
 * @typedef {{ store: FakeRemoteStore, options: PushOptions, origin: string, mayPull: (repo: string) => boolean, entry: { bodyBytes: number } }} PushContext
 */

/** Manifests larger than this are refused, as distribution refuses them (4 MiB). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * Reads a request body, counting into the log entry; stops reading past `limit` bytes.
 * @returns {Promise<{ pieces: Buffer[], size: number, tooLarge: boolean }>}
 */
async function readBody(req, entry, limit = Infinity) {
  const pieces = [];
  let size = 0;
  for await (const piece of req) {
    size += piece.length;
    entry.bodyBytes += piece.length;
    if (size > limit) return { pieces: [], size, tooLarge: true };
    pieces.push(piece);
  }
  return { pieces, size, tooLarge: false };
}

function location(context, path) {
  return context.options.relativeLocations ? path : `${context.origin}${path}`;
}

/**
 * A 202 naming the session: where to send the next chunk, how much is stored, chunk limits.
 * @param {PushContext} context @param {Upload} upload
 */
function sendSession(context, res, upload, status = 202) {
  const headers = {
    Location: location(context, `/v2/${upload.repo}/blobs/uploads/${upload.id}?_state=${upload.state}`),
    Range: `0-${Math.max(upload.size - 1, 0)}`,
    "Docker-Upload-UUID": upload.id,
    "Content-Length": 0,
  };
  if (context.options.chunkMinLength !== null) headers["OCI-Chunk-Min-Length"] = String(context.options.chunkMinLength);
  if (context.options.chunkMaxLength !== null) headers["OCI-Chunk-Max-Length"] = String(context.options.chunkMaxLength);
  res.writeHead(status, headers);
  res.end();
}

/** 201 for a blob now in the repository. */
function sendBlobCreated(context, res, repo, digest) {
  res.writeHead(201, { Location: location(context, `/v2/${repo}/blobs/${digest}`), "Docker-Content-Digest": digest, "Content-Length": 0 });
  res.end();
}

/** @param {PushContext} context */
function openSession(context, res, repo) {
  const upload = context.store.openUpload(repo);
  sendSession(context, res, upload);
}

function digestAlgorithm(digest) {
  const algorithm = isDigest(digest) ? digest.split(":")[0] : null;
  return algorithm === "sha256" || algorithm === "sha512" ? algorithm : null;
}

/**
 * POST /v2/<name>/blobs/uploads/: a mount, a monolithic push, or a new session.
 * @param {PushContext} context
 */
export async function startUpload(context, req, res, repo, url) {
  const { store, options } = context;
  const mount = url.searchParams.get("mount");
  const from = url.searchParams.get("from");
  if (mount !== null && from !== null && options.mount && context.mayPull(from)) {
    const bytes = store.blob(from, mount);
    if (bytes !== null) {
      store.linkBlob(repo, mount, bytes);
      return sendBlobCreated(context, res, repo, mount);
    }
  }
  const digest = url.searchParams.get("digest");
  const body = await readBody(req, context.entry);
  if (digest === null || mount !== null || !options.monolithic) return openSession(context, res, repo);
  const algorithm = digestAlgorithm(digest);
  const bytes = Buffer.concat(body.pieces);
  if (algorithm === null || digestOf(bytes, algorithm) !== digest) return sendError(req, res, 400, "DIGEST_INVALID", `the body does not have digest ${digest}`);
  store.linkBlob(repo, digest, bytes);
  sendBlobCreated(context, res, repo, digest);
}

/**
 * PATCH, PUT, GET and DELETE of an upload session.
 * @param {PushContext} context
 */
export async function continueUpload(context, req, res, repo, id, url) {
  const { store } = context;
  const upload = store.upload(repo, id);
  if (upload === null) return sendError(req, res, 404, "BLOB_UPLOAD_UNKNOWN", `no upload session ${id} in ${repo}`);
  if (url.searchParams.get("_state") !== upload.state) {
    return sendError(req, res, 400, "BLOB_UPLOAD_INVALID", "the upload's _state is missing or wrong: use the Location as given");
  }
  if (req.method === "GET") return sendSession(context, res, upload, 204);
  if (req.method === "DELETE") {
    store.closeUpload(id);
    res.writeHead(204, { "Content-Length": 0 });
    return res.end();
  }
  if (req.method !== "PATCH" && req.method !== "PUT") return sendError(req, res, 405, "UNSUPPORTED", `${req.method} on an upload session`);
  const appended = await appendChunk(context, req, res, upload);
  if (!appended) return;
  if (req.method === "PATCH") return sendSession(context, res, upload);

  const digest = url.searchParams.get("digest");
  const algorithm = digest === null ? null : digestAlgorithm(digest);
  store.closeUpload(id);
  if (algorithm === null) return sendError(req, res, 400, "DIGEST_INVALID", `digest parameter missing or unsupported: ${digest}`);
  const received = `${algorithm}:${upload[algorithm].copy().digest("hex")}`;
  if (received !== digest) return sendError(req, res, 400, "DIGEST_INVALID", `received ${upload.size} bytes with digest ${received}, not ${digest}`);
  store.linkBlob(repo, digest, Buffer.concat(upload.chunks));
  sendBlobCreated(context, res, repo, digest);
}

/**
 * Appends the request's body to the session when its Content-Range (optional: a streamed
 * chunk) starts where the session ends and its size is within chunkMaxLength; otherwise
 * answers the refusal and returns false.
 * @param {PushContext} context @param {Upload} upload
 */
async function appendChunk(context, req, res, upload) {
  const max = context.options.chunkMaxLength ?? Infinity;
  const range = req.headers["content-range"];
  const refuseRange = (message) => {
    const headers = { Range: `0-${Math.max(upload.size - 1, 0)}`, Location: location(context, `/v2/${upload.repo}/blobs/uploads/${upload.id}?_state=${upload.state}`) };
    sendError(req, res, 416, "BLOB_UPLOAD_INVALID", message, headers);
    return false;
  };
  let expected = null;
  if (range !== undefined) {
    const match = /^(?:bytes[= ])?(\d+)-(\d+)$/.exec(range);
    if (!match) return refuseRange(`malformed Content-Range "${range}"`);
    const [start, end] = [Number(match[1]), Number(match[2])];
    if (start !== upload.size) return refuseRange(`the chunk starts at ${start}, the session holds ${upload.size} bytes`);
    expected = end - start + 1;
  }
  const declared = req.headers["content-length"] === undefined ? null : Number(req.headers["content-length"]);
  if (declared !== null && declared > max) {
    res.setHeader("Connection", "close");
    sendError(req, res, 413, "SIZE_INVALID", `a chunk of ${declared} bytes exceeds OCI-Chunk-Max-Length ${max}`);
    return false;
  }
  const body = await readBody(req, context.entry, max);
  if (body.tooLarge) {
    res.setHeader("Connection", "close");
    sendError(req, res, 413, "SIZE_INVALID", `a chunk of more than ${max} bytes exceeds OCI-Chunk-Max-Length`);
    return false;
  }
  // An empty PUT body with a Content-Range of 0-0 would claim one byte: only a non-empty body
  // is held to its range.
  if (expected !== null && body.size > 0 && body.size !== expected) return refuseRange(`Content-Range ${range} announces ${expected} bytes, the body has ${body.size}`);
  for (const piece of body.pieces) {
    upload.sha256.update(piece);
    upload.sha512.update(piece);
    upload.chunks.push(piece);
  }
  upload.size += body.size;
  return true;
}

/**
 * PUT /v2/<name>/manifests/<reference>.
 * @param {PushContext} context
 */
export async function putManifest(context, req, res, repo, reference) {
  const body = await readBody(req, context.entry, MAX_MANIFEST_BYTES);
  if (body.tooLarge) return sendError(req, res, 413, "SIZE_INVALID", `manifests are limited to ${MAX_MANIFEST_BYTES} bytes`);
  const bytes = Buffer.concat(body.pieces);
  const contentType = req.headers["content-type"];
  const fields = parseJson(bytes);
  if (!contentType) return sendError(req, res, 400, "MANIFEST_INVALID", "a manifest needs a Content-Type");
  if (fields === null) return sendError(req, res, 400, "MANIFEST_INVALID", "the manifest is not a JSON object");
  if (typeof fields.mediaType === "string" && fields.mediaType !== contentType) {
    return sendError(req, res, 400, "MANIFEST_INVALID", `mediaType ${fields.mediaType} differs from Content-Type ${contentType}`);
  }
  if (isDigest(reference)) {
    const algorithm = digestAlgorithm(reference);
    if (algorithm === null || digestOf(bytes, algorithm) !== reference) return sendError(req, res, 400, "DIGEST_INVALID", `the manifest's digest is not ${reference}`);
  }
  const missing = missingReference(context.store, repo, fields);
  if (missing !== null) return sendError(req, res, 400, "MANIFEST_BLOB_UNKNOWN", `blob unknown to registry: ${missing}`);
  const digest = context.store.putManifest(repo, reference, bytes, contentType);
  const headers = { Location: location(context, `/v2/${repo}/manifests/${digest}`), "Docker-Content-Digest": digest, "Content-Length": 0 };
  if (context.options.referrersApi && typeof fields.subject?.digest === "string") headers["OCI-Subject"] = fields.subject.digest;
  res.writeHead(201, headers);
  res.end();
}

/**
 * The first blob (config, layer) or child manifest the manifest names that the repository
 * lacks; null when it has them all. The subject may be absent (spec: a referrer may be pushed
 * before its subject), and so may non-distributable layers.
 */
function missingReference(store, repo, fields) {
  const descriptors = (key) => (Array.isArray(fields[key]) ? fields[key] : []).filter((d) => typeof d?.digest === "string");
  for (const child of descriptors("manifests")) if (store.manifest(repo, child.digest) === null) return child.digest;
  const blobs = [...(fields.config?.digest ? [fields.config] : []), ...descriptors("layers"), ...descriptors("blobs")];
  const foreign = (d) => Array.isArray(d.urls) || /nondistributable|foreign/.test(String(d.mediaType));
  for (const blob of blobs) if (!foreign(blob) && store.blob(repo, blob.digest) === null) return blob.digest;
  return null;
}

/**
 * DELETE of a manifest (by digest: 202, its tags go too; by tag: 202, the manifest stays) or a blob.
 * @param {PushContext} context
 */
export function deleteContent(context, req, res, target) {
  if (!context.options.deletes) return sendError(req, res, 405, "UNSUPPORTED", "deletes are disabled on this registry");
  const removed = target.kind === "manifests" ? context.store.deleteManifest(target.repo, target.rest) : context.store.deleteBlob(target.repo, target.rest);
  if (!removed) return sendError(req, res, 404, target.kind === "manifests" ? "MANIFEST_UNKNOWN" : "BLOB_UNKNOWN", `${target.repo}:${target.rest} is not there`);
  res.writeHead(202, { "Content-Length": 0 });
  res.end();
}
