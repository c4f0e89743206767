// Bodies that Pier parses whole (the token form, management JSON, manifests) are read with a
// byte limit that holds while reading, never after:
//   - a Content-Length over the limit is refused before a byte is read;
//   - otherwise (chunked bodies have no Content-Length) the body is read only until it passes
//     the limit, and the rest is cancelled, so a 400 MB body costs its sender, not the isolate
//     (128 MB of memory) nor the CPU time it would take to read it.
// Over the limit is 413 SIZE_INVALID, the answer Cloudflare's edge gives a body over the plan's
// cap, and what the OCI distribution spec v1.1 asks for an oversized manifest ("A registry that
// enforces this limit SHOULD respond … with a response code 413 Payload Too Large", "Pushing
// Manifests"). Blobs are never read whole: they stream (worker/routes/uploads.ts).
import { RegistryError } from "./errors";
import { readAtMost } from "./streams";

/** Forms (POST /token) and management JSON: a few hundred bytes in practice, 64 KiB at most. */
export const SMALL_BODY_BYTES = 64 * 1024;

/**
 * The whole of `body`, at most `limit` bytes; 413 when `declaredLength` or the bytes read pass
 * it. `what` names the body in the message ("the form"). A stream that fails while being read
 * rejects as it did (the caller knows whether that was a client or an upstream).
 */
export async function readBounded(body: ReadableStream<Uint8Array> | null, declaredLength: number | null, limit: number, what: string): Promise<Uint8Array> {
  if (declaredLength !== null && declaredLength > limit) throw bodyTooLarge(what, limit);
  const bytes = await readAtMost(body, limit);
  if (bytes === null) throw bodyTooLarge(what, limit);
  return bytes;
}

/**
 * A request's whole body, as readBounded does. A body that breaks off before its end (the
 * client went away, or a malformed chunked encoding) is 400 SIZE_INVALID ("provided length did
 * not match content length"), a client's mistake rather than a 500.
 */
export async function readRequestBody(request: Request, limit: number, what: string): Promise<Uint8Array> {
  // Read twice would be Pier's bug, not the client's: not dressed up as a broken body.
  if (request.bodyUsed) throw new Error(`${what} was already read`);
  try {
    return await readBounded(request.body, declaredLength(request.headers), limit, what);
  } catch (error) {
    if (error instanceof RegistryError) throw error;
    throw new RegistryError("SIZE_INVALID", `${what} broke off before its end: ${(error as Error).message}`);
  }
}

/** 413 when the request declares a body longer than `limit`: refused before it is read. */
export function refuseDeclaredOver(headers: Headers, limit: number, what: string): void {
  const declared = declaredLength(headers);
  if (declared !== null && declared > limit) throw bodyTooLarge(what, limit);
}

/** Content-Length as a number (a request's or an upstream's answer), or null when absent (a chunked body) or not a length. */
export function declaredLength(headers: Headers): number | null {
  const header = headers.get("Content-Length");
  if (header === null || !/^\d+$/.test(header)) return null;
  return Number(header);
}

function bodyTooLarge(what: string, limit: number): RegistryError {
  return new RegistryError("SIZE_INVALID", `${what} is larger than this endpoint's limit of ${sizeOf(limit)}`, { status: 413 });
}

/** "64 KiB (65536 bytes)": the unit a person reads, and the exact number a program compares. */
function sizeOf(bytes: number): string {
  const units: [number, string][] = [
    [1024 * 1024, "MiB"],
    [1024, "KiB"],
  ];
  for (const [size, unit] of units) if (bytes % size === 0) return `${bytes / size} ${unit} (${bytes} bytes)`;
  return `${bytes} bytes`;
}
