// Blob bytes in R2 (or, for small manifests, in the D1 row): reading ranges, and writing bytes
// whose digest is known up front so that R2 verifies it on the way in.
import { type Digest, digestAlgorithm, digestHex, toHex, webCryptoName } from "../oci/digest";
import type { ByteRange } from "../oci/ranges";
import type { BlobLocation } from "./db/queries/blobs";
import { contentKey, HEALTH_PROBE_KEY } from "./keys";

/** The stored bytes (or a range of them); null when R2 has lost the object. */
export async function readStoredBytes(
  bucket: R2Bucket,
  blob: Pick<BlobLocation, "objectKey" | "content">,
  range: ByteRange | null,
): Promise<ReadableStream<Uint8Array> | null> {
  if (blob.content !== null) {
    const bytes = new TextEncoder().encode(blob.content);
    const slice = range === null ? bytes : bytes.subarray(range.offset, range.offset + range.length);
    return new Response(slice).body!;
  }
  const object = await bucket.get(blob.objectKey!, range === null ? {} : { range });
  return object?.body ?? null;
}

export type VerifiedWrite = { ok: true; objectKey: string } | { ok: false; reason: "digest-mismatch" | "body-failed" };

/**
 * Streams `length` bytes into the blob's content key with R2 checking the digest as it writes
 * (R2PutOptions sha256/sha512): on a mismatch R2 stores nothing, so bytes that do not match
 * their name never land under it.
 */
export async function writeVerified(
  bucket: R2Bucket,
  digest: Digest,
  body: ReadableStream<Uint8Array> | Uint8Array,
  length: number,
): Promise<VerifiedWrite> {
  const key = contentKey(digest);
  const checksum = { [digestAlgorithm(digest)]: digestHex(digest) };
  if (body instanceof Uint8Array) {
    try {
      await bucket.put(key, body, checksum);
      return { ok: true, objectKey: key };
    } catch (error) {
      if (isChecksumMismatch(error)) return { ok: false, reason: "digest-mismatch" };
      throw error;
    }
  }
  // A FixedLengthStream gives R2 the length it needs, and the copy into it stays native (no
  // JavaScript per chunk: a counting TransformStream here halved push throughput). A client
  // that drops makes the copy fail; one that sends fewer bytes than it announced makes the
  // FixedLengthStream fail R2's put. Both are the client's fault (400), not ours (500).
  const sized = new FixedLengthStream(length);
  const piping = body.pipeTo(sized.writable).then(
    () => true,
    () => false,
  );
  try {
    await bucket.put(key, sized.readable, checksum);
  } catch (error) {
    if (!(await piping) || isShortBody(error)) return { ok: false, reason: "body-failed" };
    if (isChecksumMismatch(error)) return { ok: false, reason: "digest-mismatch" };
    throw error;
  }
  return (await piping) ? { ok: true, objectKey: key } : { ok: false, reason: "body-failed" };
}

/** Hashes a stream natively without storing it (re-pushes of content the registry holds). */
export async function digestOfStream(body: ReadableStream<Uint8Array>, digest: Digest): Promise<{ hex: string; size: number } | null> {
  const hasher = new crypto.DigestStream(webCryptoName(digestAlgorithm(digest)));
  let size = 0;
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      size += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  try {
    await body.pipeThrough(counter).pipeTo(hasher);
  } catch {
    return null;
  }
  return { hex: toHex(await hasher.digest), size };
}

// workerd: "FixedLengthStream did not see all expected bytes before close()".
function isShortBody(error: unknown): boolean {
  return error instanceof Error && /expected bytes/i.test(error.message);
}

// R2 reports a checksum mismatch as an error whose message names the checksum (code 10037).
function isChecksumMismatch(error: unknown): boolean {
  return error instanceof Error && /checksum|10037/i.test(error.message);
}

/** The health check's question to R2 (worker/services/health.ts): does it answer a read. */
export async function pingBucket(bucket: R2Bucket): Promise<void> {
  await bucket.head(HEALTH_PROBE_KEY);
}
