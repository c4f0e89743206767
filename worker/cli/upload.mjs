// Pushes one blob the way a 100 MB request cap allows (distribution spec "Pushing a blob in
// chunks"): HEAD first (skip what is there), POST to open a session, PATCH chunks of at most
// min(--chunk-size, OCI-Chunk-Max-Length) each streamed from the file, then PUT ?digest=.
// When a PATCH fails (dropped connection, 5xx, 416) we ask the session where it stands
// (GET <location> → 204, Range: 0-<last byte>) and carry on from the registry's offset: the
// registry, not us, knows which bytes it kept.
import { describeError, drain } from "./http.mjs";

export const DEFAULT_CHUNK_SIZE = 50 * 1024 * 1024;
const RETRIES = 4; // failed chunk sends per blob before we give up

/** "0-N" (inclusive end) → the offset after it; a missing header or "0-0" counts as 0 bytes kept. */
export function offsetFromRange(header) {
  const match = /^(?:bytes=)?0-(\d+)$/.exec((header ?? "").trim());
  if (!match) return null;
  const end = Number(match[1]);
  // Registries answer "0-0" for an empty session (distribution, Pier); resending one byte is harmless.
  return end === 0 ? 0 : end + 1;
}

/**
 * The chunk size: --chunk-size, raised to OCI-Chunk-Min-Length (all but the last chunk should
 * be at least that, spec "Pushing a blob in chunks"), and never above OCI-Chunk-Max-Length,
 * which wins when the two disagree (it is what the edge refuses above).
 */
export function chunkLimit(chunkSize, headers) {
  const header = (name) => {
    const value = Number(headers[name]);
    return Number.isSafeInteger(value) && value > 0 ? value : null;
  };
  const [min, max] = [header("oci-chunk-min-length"), header("oci-chunk-max-length")];
  return Math.min(Math.max(chunkSize, min ?? 0), max ?? Infinity);
}

function withDigest(location, digest) {
  const url = new URL(location);
  url.searchParams.set("digest", digest);
  return url.href;
}

/**
 * Uploads `blob` ({ digest, size, mediaType, open(start, end) → Readable of bytes [start, end) })
 * to `registry` (createRegistry()). `report(event)` gets { digest, sent, size, state }.
 * Resolves "exists" or "pushed".
 */
export async function uploadBlob(registry, blob, { chunkSize = DEFAULT_CHUNK_SIZE, report = () => {}, retries = RETRIES } = {}) {
  const repo = registry.repository;
  const head = await registry.request("HEAD", `/v2/${repo}/blobs/${blob.digest}`);
  await drain(head);
  if (head.statusCode === 200) {
    report({ digest: blob.digest, sent: blob.size, size: blob.size, state: "exists" });
    return "exists";
  }
  const opened = await registry.request("POST", `/v2/${repo}/blobs/uploads/`);
  if (opened.statusCode !== 202) throw new Error(`opening an upload for ${blob.digest}: ${await describeError(opened)}`);
  await drain(opened);
  const limit = chunkLimit(chunkSize, opened.headers);
  let location = registry.resolve(opened.headers.location);

  if (blob.size <= limit) {
    // Small enough for one request: the closing PUT carries the body (a monolithic upload).
    await closeUpload(registry, location, blob, { body: () => blob.open(0, blob.size), length: blob.size });
    report({ digest: blob.digest, sent: blob.size, size: blob.size, state: "pushed" });
    return "pushed";
  }

  let offset = 0;
  let failures = 0;
  while (offset < blob.size) {
    const end = Math.min(offset + limit, blob.size);
    let problem;
    try {
      const answer = await registry.request("PATCH", location, {
        headers: { "Content-Type": "application/octet-stream", "Content-Length": String(end - offset), "Content-Range": `${offset}-${end - 1}` },
        body: () => blob.open(offset, end),
      });
      if (answer.statusCode === 202) {
        await drain(answer);
        location = registry.resolve(answer.headers.location ?? location);
        offset = offsetFromRange(answer.headers.range) ?? end;
        report({ digest: blob.digest, sent: offset, size: blob.size, state: "progress" });
        continue;
      }
      problem = await describeError(answer);
      // A client error other than "wrong offset" will not get better by sending again.
      if (answer.statusCode >= 400 && answer.statusCode < 500 && answer.statusCode !== 416 && answer.statusCode !== 408 && answer.statusCode !== 429) {
        throw Object.assign(new Error(`PATCH ${blob.digest} at ${offset}: ${problem}`), { final: true });
      }
    } catch (error) {
      if (error.final) throw error;
      problem = error.code ?? error.message;
    }
    if (++failures > retries) throw new Error(`uploading ${blob.digest} failed ${failures} times; last: ${problem}`);
    ({ location, offset } = await uploadStatus(registry, location));
    report({ digest: blob.digest, sent: offset, size: blob.size, state: `resuming at ${offset} after ${problem}` });
  }
  await closeUpload(registry, location, blob, { body: null, length: 0 });
  report({ digest: blob.digest, sent: blob.size, size: blob.size, state: "pushed" });
  return "pushed";
}

/** GET <location>: where the registry's copy of the session stands. */
async function uploadStatus(registry, location) {
  const answer = await registry.request("GET", location);
  if (answer.statusCode !== 204 && answer.statusCode !== 200) throw new Error(`asking the upload's status: ${await describeError(answer)}`);
  await drain(answer);
  const offset = offsetFromRange(answer.headers.range);
  if (offset === null) throw new Error(`the registry did not say how much of the upload it kept (Range: ${answer.headers.range})`);
  return { location: registry.resolve(answer.headers.location ?? location), offset };
}

async function closeUpload(registry, location, blob, { body, length }) {
  const headers = { "Content-Type": "application/octet-stream", "Content-Length": String(length) };
  const answer = await registry.request("PUT", withDigest(location, blob.digest), { headers, body });
  if (answer.statusCode !== 201) throw new Error(`closing the upload of ${blob.digest}: ${await describeError(answer)}`);
  await drain(answer);
}
