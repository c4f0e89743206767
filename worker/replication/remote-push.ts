// Pushing one blob to a remote registry (OCI distribution spec v1.1, "Pushing blobs"):
//   1. a cross-repository mount from `mountFrom` when the copy knows a repository there that
//      holds it (POST …/blobs/uploads/?mount=&from=): 201 and nothing is sent; a 202 opens an
//      upload session instead, which the push then uses;
//   2. otherwise POST …/blobs/uploads/ opens a session; its answer may bound chunk sizes
//      (OCI-Chunk-Max-Length; chunks of the largest size allowed also meet any
//      OCI-Chunk-Min-Length the remote can take at all);
//   3. a blob within the chunk limit goes in one PUT <location>?digest= (monolithic), a larger
//      one in PATCHes of exactly the chunk size (the last one shorter) and a closing PUT.
// The chunk limit is the smallest of the remote's OCI-Chunk-Max-Length, PIER_MAX_BODY_BYTES (a
// Pier on the other end refuses more, as Cloudflare's edge would) and MAX_CHUNK_BYTES. Every
// request body is streamed with its exact length (a FixedLengthStream in the client): a chunk is
// never held in memory whole, only the bytes of one source read that spill into the next chunk.
// The remote checks the digest when the upload closes; the source is read once, after the mount
// failed, and never again (no retry of a body inside one push: the task is retried instead).
import type { Digest } from "../oci/digest";
import { type Peer, type RequestBody, UpstreamError } from "../proxy/upstream-client";
import type { BlobBody } from "./endpoint";
import { remoteFetch } from "./remote-requests";

/** A bound of our own on one request body: large enough to be fast, small enough to retry. */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;

export interface PushTarget {
  peer: Peer;
  /** The remote's repository name (normalised). */
  repository: string;
  /** PIER_MAX_BODY_BYTES: no request body of ours is larger. */
  maxBodyBytes: number;
}

/** Stores `digest` at the remote; `transferred` false when a mount made sending it unnecessary. */
export async function pushBlob(target: PushTarget, digest: Digest, blob: () => Promise<BlobBody>, mountFrom: string | null): Promise<{ transferred: boolean }> {
  let session: Response | null = null;
  if (mountFrom !== null && mountFrom !== target.repository) {
    const query = new URLSearchParams({ mount: digest, from: mountFrom });
    const mounted = await push(target, "POST", `/v2/${target.repository}/blobs/uploads/?${query}`, { scopes: [`repository:${mountFrom}:pull`] });
    if (mounted.status === 201) {
      await mounted.body?.cancel();
      return { transferred: false };
    }
    session = mounted;
  }
  session ??= await push(target, "POST", `/v2/${target.repository}/blobs/uploads/`);
  await session.body?.cancel();
  if (session.status !== 202) throw invalid(target, `it answered HTTP ${session.status} to opening an upload, not 202`);
  const chunkBytes = chunkLimit(target, session.headers);
  let location = locationOf(target, session);

  const source = await blob();
  if (source.size <= chunkBytes) {
    try {
      await close(target, location, digest, source.size === 0 ? new Uint8Array(0) : { stream: source.body, length: source.size });
    } finally {
      // Unread (an empty blob, a failed PUT): the source may stop sending. Sent: already closed.
      await source.body.cancel().catch(() => undefined);
    }
    return { transferred: true };
  }
  const reader = source.body.getReader();
  try {
    let spill: Uint8Array | null = null;
    for (let offset = 0; offset < source.size; ) {
      const length = Math.min(chunkBytes, source.size - offset);
      const chunk = readerStream(reader, length, spill);
      const answer = await push(target, "PATCH", location, {
        body: { stream: chunk.stream, length },
        headers: { "Content-Type": "application/octet-stream", "Content-Range": `${offset}-${offset + length - 1}` },
      });
      await answer.body?.cancel();
      spill = chunk.spill();
      offset += length;
      if (answer.status !== 202) throw invalid(target, `it answered HTTP ${answer.status} to a chunk, not 202`);
      const range = answer.headers.get("Range");
      if (range !== null && range !== `0-${offset - 1}`) throw invalid(target, `after ${offset} bytes it holds the range ${range.slice(0, 40)}`);
      location = locationOf(target, answer);
    }
    await close(target, location, digest, new Uint8Array(0));
    return { transferred: true };
  } finally {
    // Whatever is left unread (a failed push) is not needed: let the source stop sending.
    await reader.cancel().catch(() => undefined);
  }
}

/** The closing PUT <location>?digest=…, with the last bytes or none; the remote verifies the digest. */
async function close(target: PushTarget, location: string, digest: Digest, body: RequestBody): Promise<void> {
  const url = new URL(location);
  url.searchParams.set("digest", digest);
  const answer = await push(target, "PUT", url.toString(), { body, headers: { "Content-Type": "application/octet-stream" } });
  await answer.body?.cancel();
  if (answer.status !== 201) throw invalid(target, `it answered HTTP ${answer.status} to the upload's closing PUT, not 201`);
  const stored = answer.headers.get("Docker-Content-Digest");
  if (stored !== null && stored !== digest) throw invalid(target, `it stored the blob as ${stored.slice(0, 80)}, not ${digest}`);
}

interface PushOptions {
  scopes?: string[];
  body?: RequestBody;
  headers?: Record<string, string>;
}

/** One request of the push; 404 (an upload or repository the remote does not know) is a failure here. */
async function push(target: PushTarget, method: "POST" | "PATCH" | "PUT", path: string, options: PushOptions = {}): Promise<Response> {
  const response = await remoteFetch(target.peer, { method, repository: target.repository, actions: "pull,push", path, ...options });
  if (response.status === 404) {
    await response.body?.cancel();
    throw new UpstreamError(target.peer.name, { kind: "status", status: 404, retryAfter: null, detail: `${method} of an upload to ${target.repository}` });
  }
  return response;
}

/**
 * The largest request body of this upload. Every chunk but the last is of this size, which is
 * at least the remote's OCI-Chunk-Min-Length whenever the remote allows that much at all.
 */
function chunkLimit(target: PushTarget, headers: Headers): number {
  const advertised = Number(headers.get("OCI-Chunk-Max-Length") ?? NaN);
  return Math.min(Number.isSafeInteger(advertised) && advertised > 0 ? advertised : Infinity, target.maxBodyBytes, MAX_CHUNK_BYTES);
}

/** The upload's next URL: its Location, absolute or relative to the registry (the client sends credentials only to the registry's origin). */
function locationOf(target: PushTarget, response: Response): string {
  const location = response.headers.get("Location");
  if (location === null) throw invalid(target, `its HTTP ${response.status} to an upload request has no Location`);
  const url = new URL(location, target.peer.url);
  if (url.protocol !== "https:" && url.protocol !== "http:") throw invalid(target, `its upload Location is a ${url.protocol} URL`);
  return url.toString();
}

/**
 * The next `length` bytes of the source as a stream. A source read that runs past them is split:
 * the rest is the next chunk's start (`spill()`, a copy: the first part may be handed on and
 * detached by the stream it is sent through). A source that ends early makes the stream short,
 * which the FixedLengthStream it is sent through turns into a failed request.
 */
function readerStream(reader: ReadableStreamDefaultReader<Uint8Array>, length: number, start: Uint8Array | null): { stream: ReadableStream<Uint8Array>; spill: () => Uint8Array | null } {
  let pending = start;
  let remaining = length;
  let spilled: Uint8Array | null = null;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk = pending;
      pending = null;
      while (chunk === null || chunk.byteLength === 0) {
        const read = await reader.read();
        if (read.done) return controller.close();
        chunk = read.value;
      }
      if (chunk.byteLength > remaining) {
        spilled = chunk.slice(remaining);
        chunk = chunk.subarray(0, remaining);
      }
      remaining -= chunk.byteLength;
      controller.enqueue(chunk);
      if (remaining === 0) controller.close();
    },
  });
  return { stream, spill: () => spilled };
}

function invalid(target: PushTarget, message: string): UpstreamError {
  return new UpstreamError(target.peer.name, { kind: "invalid", message });
}
