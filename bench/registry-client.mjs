// Push/pull helpers for the benchmark: an OCI registry client (Pier and distribution speak the
// same API) and a client of the bare R2 worker. Bodies are generated on the fly, so a 10 GiB
// blob costs no disk and no memory on the client side.
import { createCipheriv, createHash } from "node:crypto";
import http from "node:http";
import { once } from "node:events";

const BLOCK = 1024 * 1024;
const REQUEST_TIMEOUT_MS = 300_000;
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

// Credentials per registry origin, kept the way `docker login` keeps them per host: every
// request to a registry signed in to carries them (Pier's local repositories are private),
// so the push and pull helpers need not thread them through; distribution has no auth.
const logins = new Map();

/** From now on, every request to `base`'s origin (wrk's too) sends `authorization`. */
export function login(base, authorization) {
  logins.set(new URL(base).origin, authorization);
}

/** { Authorization } for the registry `url` belongs to after login(), else {}. */
export function credentialsFor(url) {
  const authorization = logins.get(new URL(url).origin);
  return authorization === undefined ? {} : { Authorization: authorization };
}

// One pseudo-random 1 MiB block (AES-CTR over zeros: deterministic, incompressible), shared by
// every blob; a blob is made distinct by its seed in the first 32 bytes, so that no repetition
// is a re-push of bytes the registry already holds (which Pier would hash and drop).
const BASE = (() => {
  const cipher = createCipheriv("aes-128-ctr", Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  return Buffer.concat([cipher.update(Buffer.alloc(BLOCK)), cipher.final()]);
})();

/** A blob of `size` bytes: { size, seed, bytes(start, end) -> iterator of Buffers }. */
export function makeBlob(size, seed) {
  const first = Buffer.from(BASE);
  createHash("sha256").update(`pier-bench:${seed}`).digest().copy(first, 0);
  return {
    size,
    seed,
    *bytes(start = 0, end = size) {
      for (let at = start; at < end; ) {
        const block = Math.floor(at / BLOCK);
        const from = at - block * BLOCK;
        const to = Math.min(BLOCK, end - block * BLOCK);
        yield (block === 0 ? first : BASE).subarray(from, to);
        at += to - from;
      }
    },
  };
}

/** sha256 of the whole blob, computed before a push that must name its digest up front. */
export function digestOf(blob) {
  const hash = createHash("sha256");
  for (const chunk of blob.bytes()) hash.update(chunk);
  return `sha256:${hash.digest("hex")}`;
}

/**
 * One HTTP request, signed in when its registry was (login) unless `signedIn` is false. `body`
 * is a Buffer or an iterable of Buffers (written with backpressure), `onBody` sees each chunk of the answer; returns { status, headers, bytes, text }. `via`: an
 * http.Agent other than the shared one (whose 8 sockets would serialise more concurrent requests).
 */
export function request(method, url, { headers = {}, body = null, onBody = null, keepText = true, via = agent, signedIn = true } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { ...(signedIn ? credentialsFor(url) : {}), ...headers }, agent: via });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${url}: no progress for ${REQUEST_TIMEOUT_MS} ms`)));
    req.on("error", reject);
    req.on("response", (res) => {
      let bytes = 0;
      const text = [];
      res.on("data", (chunk) => {
        bytes += chunk.length;
        onBody?.(chunk);
        if (keepText && bytes <= 1 << 20) text.push(chunk);
      });
      res.on("error", reject);
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, bytes, text: Buffer.concat(text).toString("utf8") }));
    });
    writeBody(req, body).catch((error) => req.destroy(error));
  });
}

async function writeBody(req, body) {
  if (body === null || Buffer.isBuffer(body)) {
    req.end(body ?? undefined);
    return;
  }
  for (const chunk of body) {
    if (!req.write(chunk)) await once(req, "drain");
  }
  req.end();
}

/** The answer, when its status is `status`; otherwise an error naming `what` and the answer. */
export function expectStatus(response, status, what) {
  if (response.status !== status) throw new Error(`${what}: expected ${status}, got ${response.status} ${response.text.slice(0, 500)}`);
  return response;
}

/** request()'s options for a JSON body (the management API's). */
export function jsonBody(value) {
  const body = Buffer.from(JSON.stringify(value));
  return { headers: { "Content-Type": "application/json", "Content-Length": String(body.length) }, body };
}

/** Passes chunks through a sha256, for a digest computed while the bytes stream. */
function hashing(chunks, hash) {
  return (function* () {
    for (const chunk of chunks) {
      hash?.update(chunk);
      yield chunk;
    }
  })();
}

// --- OCI distribution API (Pier, distribution) ----------------------------------------------

const octets = (length) => ({ "Content-Type": "application/octet-stream", "Content-Length": String(length) });

/**
 * The whole blob in one body. `singleRequest`: POST /v2/<repo>/blobs/uploads/?digest= with the
 * body; otherwise the spec's other monolithic form, an empty POST then PUT <location>?digest=
 * with the body (for registries without the former, such as distribution 2.8).
 */
export async function pushMonolithic(base, repo, blob, digest, { singleRequest = true } = {}) {
  const what = `monolithic push to ${base}`;
  if (singleRequest) {
    const url = `${base}/v2/${repo}/blobs/uploads/?digest=${digest}`;
    expectStatus(await request("POST", url, { headers: octets(blob.size), body: blob.bytes() }), 201, what);
    return;
  }
  const location = expectStatus(await request("POST", `${base}/v2/${repo}/blobs/uploads/`), 202, what).headers.location;
  const closing = new URL(location, base);
  closing.searchParams.set("digest", digest);
  expectStatus(await request("PUT", closing.href, { headers: octets(blob.size), body: blob.bytes() }), 201, what);
}

/** Whether the registry takes a whole blob in POST ?digest= (201), or only opens a session (202). */
export async function supportsPostDigest(base, repo) {
  const bytes = Buffer.from(`probe ${base}`);
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  const answer = await request("POST", `${base}/v2/${repo}/blobs/uploads/?digest=${digest}`, { headers: octets(bytes.length), body: bytes });
  if (answer.status === 201) return true;
  expectStatus(answer, 202, `probing POST ?digest= on ${base}`);
  await request("DELETE", new URL(answer.headers.location, base).href);
  return false;
}

/**
 * POST, then one PATCH per chunk (Content-Range), then PUT ?digest=, following Location.
 * Without `digest`, the sha256 is computed while the chunks are sent; returns the digest.
 */
export async function pushChunked(base, repo, blob, chunkSize, digest = null) {
  const hash = digest === null ? createHash("sha256") : null;
  let location = expectStatus(await request("POST", `${base}/v2/${repo}/blobs/uploads/`), 202, `opening an upload on ${base}`).headers.location;
  for (let start = 0; start < blob.size; start += chunkSize) {
    const end = Math.min(start + chunkSize, blob.size);
    const headers = { ...octets(end - start), "Content-Range": `${start}-${end - 1}` };
    const answer = await request("PATCH", new URL(location, base).href, { headers, body: hashing(blob.bytes(start, end), hash) });
    location = expectStatus(answer, 202, `PATCH ${start}-${end - 1} on ${base}`).headers.location;
  }
  digest ??= `sha256:${hash.digest("hex")}`;
  const closing = new URL(location, base);
  closing.searchParams.set("digest", digest);
  expectStatus(await request("PUT", closing.href, { headers: { "Content-Length": "0" } }), 201, `closing PUT on ${base}`);
  return digest;
}

/** GET a blob, reading all of it; with `verify`, checks its sha256 and length. Returns bytes read. */
export async function pullBlob(base, repo, digest, { size, verify = false }) {
  const hash = verify ? createHash("sha256") : null;
  const answer = await request("GET", `${base}/v2/${repo}/blobs/${digest}`, { onBody: hash && ((c) => hash.update(c)), keepText: false });
  expectStatus(answer, 200, `pull from ${base}`);
  if (answer.bytes !== size) throw new Error(`pull from ${base}: ${answer.bytes} bytes, expected ${size}`);
  if (hash !== null && `sha256:${hash.digest("hex")}` !== digest) throw new Error(`pull from ${base}: content does not match ${digest}`);
  return answer.bytes;
}

/**
 * GET a blob as consecutive `Range` requests of `rangeBytes` (206 each), hashing them in order;
 * checks the sha256 and length of the whole. Returns bytes read.
 */
export async function pullBlobInRanges(base, repo, digest, { size, rangeBytes }) {
  const hash = createHash("sha256");
  let read = 0;
  for (let start = 0; start < size; start += rangeBytes) {
    const end = Math.min(start + rangeBytes, size) - 1;
    const headers = { Range: `bytes=${start}-${end}` };
    const answer = await request("GET", `${base}/v2/${repo}/blobs/${digest}`, { headers, onBody: (c) => hash.update(c), keepText: false });
    expectStatus(answer, 206, `ranged pull ${start}-${end} from ${base}`);
    if (answer.bytes !== end - start + 1) throw new Error(`ranged pull ${start}-${end}: ${answer.bytes} bytes`);
    read += answer.bytes;
  }
  if (`sha256:${hash.digest("hex")}` !== digest) throw new Error(`ranged pull from ${base}: content does not match ${digest}`);
  return read;
}

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

/** Pushes a small image (config, one layer, OCI manifest) under `tag`; returns the manifest digest. */
export async function pushSmallImage(base, repo, tag, { singleRequest = true } = {}) {
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
  const layer = makeBlob(4096, `layer-${repo}`);
  const blobs = [
    { mediaType: "application/vnd.oci.image.config.v1+json", bytes: config },
    { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: Buffer.concat([...layer.bytes()]) },
  ];
  for (const blob of blobs) {
    blob.digest = `sha256:${createHash("sha256").update(blob.bytes).digest("hex")}`;
    const whole = { size: blob.bytes.length, bytes: () => [blob.bytes] };
    await pushMonolithic(base, repo, whole, blob.digest, { singleRequest });
  }
  const descriptor = ({ mediaType, digest, bytes }) => ({ mediaType, digest, size: bytes.length });
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(blobs[0]), layers: [descriptor(blobs[1])] }),
  );
  const headers = { "Content-Type": OCI_MANIFEST, "Content-Length": String(manifest.length) };
  expectStatus(await request("PUT", `${base}/v2/${repo}/manifests/${tag}`, { headers, body: manifest }), 201, `pushing a manifest to ${base}`);
  const digest = `sha256:${createHash("sha256").update(manifest).digest("hex")}`;
  // What wrk will hammer must answer 200 with these very bytes.
  for (const reference of [tag, digest]) {
    const answer = expectStatus(await request("GET", `${base}/v2/${repo}/manifests/${reference}`, { headers: { Accept: OCI_MANIFEST } }), 200, `GET manifest ${reference}`);
    if (answer.text !== manifest.toString("utf8")) throw new Error(`${base}: manifest ${reference} came back different`);
  }
  return digest;
}

// --- the bare R2 worker ---------------------------------------------------------------------

const segment = encodeURIComponent;

export async function barePut(base, key, blob) {
  expectStatus(await request("PUT", `${base}/objects/${segment(key)}`, { headers: octets(blob.size), body: blob.bytes() }), 201, "bare PUT");
}

/** GET an object, reading all of it; with `digest`, checks its sha256. */
export async function bareGet(base, key, size, digest = null) {
  const hash = digest === null ? null : createHash("sha256");
  const answer = await request("GET", `${base}/objects/${segment(key)}`, { onBody: hash && ((c) => hash.update(c)), keepText: false });
  expectStatus(answer, 200, "bare GET");
  if (answer.bytes !== size) throw new Error(`bare GET: ${answer.bytes} bytes, expected ${size}`);
  if (hash !== null && `sha256:${hash.digest("hex")}` !== digest) throw new Error(`bare GET: content does not match ${digest}`);
}

/** create multipart, one uploadPart per chunk, complete. */
export async function bareMultipart(base, key, blob, chunkSize) {
  const created = expectStatus(await request("POST", `${base}/multipart/${segment(key)}`), 200, "bare create multipart");
  const prefix = `${base}/multipart/${segment(key)}/${segment(JSON.parse(created.text).uploadId)}`;
  const parts = [];
  for (let start = 0, number = 1; start < blob.size; start += chunkSize, number++) {
    const end = Math.min(start + chunkSize, blob.size);
    const answer = await request("PUT", `${prefix}/${number}`, { headers: octets(end - start), body: blob.bytes(start, end) });
    parts.push(JSON.parse(expectStatus(answer, 200, `bare uploadPart ${number}`).text));
  }
  const body = Buffer.from(JSON.stringify(parts));
  const headers = { "Content-Type": "application/json", "Content-Length": String(body.length) };
  expectStatus(await request("POST", `${prefix}/complete`, { headers, body }), 201, "bare complete multipart");
}
