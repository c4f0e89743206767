// The copy engine's building blocks (copy-artifact.ts drives them): reading a manifest from the
// source and checking its digest, and copying a manifest with everything it points at so that
// the destination never holds a manifest pointing at nothing: an image's blobs (config and
// layers) before the image, an index's children (recursively) before the index.
//
// Nothing read is trusted: a manifest's bytes are hashed here before anything is written; a
// blob's bytes are checked by the destination as they are written (this Pier: R2's checksum on
// put, worker/storage/blob-store.ts writeVerified; a remote: the registry's digest check on the
// closing PUT ?digest=, which the spec requires), so a blob that does not match is never stored.
// Blobs stream from source to destination, never held whole.
import { RegistryError } from "../errors";
import { type Digest, digestAlgorithm, digestOf } from "../oci/digest";
import { type Descriptor, parseManifest, type ParsedManifest } from "../oci/manifest";
import type { BlobBody, Endpoint, ManifestBytes } from "./endpoint";
import { type Pacer, throttled } from "./throttle";

/** Manifests an index may nest (index → index → …): deeper ones are refused as invalid. */
export const MAX_INDEX_DEPTH = 4;
/**
 * Blobs of one image streamed at once (like a client pushing layers in parallel). Each holds
 * two connections (its read and its write; R2 calls count as connections too), and a Worker
 * invocation has six simultaneous ones: with more, reads whose writes wait for a connection
 * could stall each other, and the runtime cancels one to break the stall.
 */
export const BLOB_CONCURRENCY = 3;

export interface CopyCounts {
  /** Manifests put at the destination (a tag put on a manifest already there counts). */
  manifestsCopied: number;
  /** Manifests the destination already had. */
  manifestsSkipped: number;
  /** Blobs the destination did not hold and now does (streamed or mounted). */
  blobsCopied: number;
  /** Blobs the destination already held (HEAD). */
  blobsSkipped: number;
  /** Bytes streamed from source to destination (a mount streams none). */
  bytesCopied: number;
}

/** One artifact copy: its two ends, the repository at each, and what it did so far. */
export interface CopyRun {
  source: Endpoint;
  destination: Endpoint;
  from: string;
  to: string;
  mountFrom: string | null;
  pacer: Pacer | null;
  counts: CopyCounts;
}

export interface SourceManifest {
  manifest: ManifestBytes;
  parsed: ParsedManifest;
}

/**
 * The source's manifest for a tag or digest, its bytes checked against the digest it is served
 * under and (`expected`) the digest the caller resolved; null when the source does not have it.
 */
export async function readSourceManifest(run: CopyRun, reference: string, expected: Digest | null): Promise<SourceManifest | null> {
  const manifest = await run.source.getManifest(run.from, reference);
  if (manifest === null) return null;
  const wanted = expected ?? manifest.digest;
  const actual = await digestOf(manifest.bytes, digestAlgorithm(wanted));
  if (actual !== wanted || manifest.digest !== wanted) {
    throw new RegistryError("DIGEST_INVALID", `${run.source.name} served ${run.from}:${reference} as ${manifest.digest}, but its bytes have digest ${actual}${expected === null ? "" : ` and ${expected} was asked for`}`);
  }
  return { manifest, parsed: parseManifest(manifest.bytes, manifest.mediaType) };
}

/**
 * Copies a manifest by digest unless the destination has it (then, by the destination's own
 * rule, everything it points at too). "absent": the source does not have it.
 */
export async function copyByDigest(run: CopyRun, digest: Digest, depth: number): Promise<"copied" | "present" | "absent"> {
  if ((await run.destination.manifestDigest(run.to, digest)) !== null) {
    run.counts.manifestsSkipped += 1;
    return "present";
  }
  const found = await readSourceManifest(run, digest, digest);
  if (found === null) return "absent";
  await copyManifest(run, digest, found, depth);
  return "copied";
}

/** Puts the manifest under `reference` (a tag or its digest) after everything it points at. */
export async function copyManifest(run: CopyRun, reference: string, { manifest, parsed }: SourceManifest, depth: number): Promise<void> {
  if (parsed.kind === "image") {
    await copyBlobs(run, parsed.blobs, manifest.digest);
  } else {
    if (depth >= MAX_INDEX_DEPTH) throw new RegistryError("MANIFEST_INVALID", `index ${manifest.digest} in ${run.from} nests indexes deeper than ${MAX_INDEX_DEPTH} levels`);
    // One child at a time: each may stream several blobs at once already.
    for (const child of uniqueDigests(parsed.children)) {
      const outcome = await copyByDigest(run, child, depth + 1);
      if (outcome === "absent") {
        throw new RegistryError("MANIFEST_BLOB_UNKNOWN", `${run.source.name} lacks manifest ${child}, which index ${manifest.digest} in ${run.from} lists`);
      }
    }
  }
  await run.destination.putManifest(run.to, reference, manifest);
  run.counts.manifestsCopied += 1;
}

/** An image's blobs, a few at a time; non-distributable layers (with `urls`) live outside registries. */
async function copyBlobs(run: CopyRun, blobs: Descriptor[], owner: Digest): Promise<void> {
  const seen = new Set<string>();
  const wanted = blobs.filter((blob) => blob.urls === undefined && !seen.has(blob.digest) && seen.add(blob.digest));
  await eachLimited(wanted, BLOB_CONCURRENCY, (blob) => copyBlob(run, blob, owner));
}

async function copyBlob(run: CopyRun, descriptor: Descriptor, owner: Digest): Promise<void> {
  const { digest } = descriptor;
  if (await run.destination.hasBlob(run.to, digest)) {
    run.counts.blobsSkipped += 1;
    return;
  }
  let size = 0;
  const read = async (): Promise<BlobBody> => {
    const blob = await run.source.getBlob(run.from, digest);
    if (blob === null) throw new RegistryError("BLOB_UNKNOWN", `${run.source.name} lacks blob ${digest}, which manifest ${owner} in ${run.from} references`);
    if (blob.size !== descriptor.size) {
      await blob.body.cancel().catch((error: unknown) => console.error(`releasing the source stream of ${digest} failed`, error));
      throw new RegistryError("SIZE_INVALID", `${run.source.name} serves blob ${digest} with ${blob.size} bytes; manifest ${owner} in ${run.from} says ${descriptor.size}`);
    }
    size = blob.size;
    return { size, body: run.pacer === null ? blob.body : throttled(blob.body, run.pacer) };
  };
  let transferred: boolean;
  try {
    ({ transferred } = await run.destination.putBlob(run.to, digest, read, run.mountFrom));
  } catch (error) {
    if (error instanceof RegistryError && error.code === "DIGEST_INVALID") {
      throw new RegistryError("DIGEST_INVALID", `${run.source.name} served bytes for ${run.from}@${digest} that do not match that digest; ${run.destination.name} stored nothing`);
    }
    throw error;
  }
  run.counts.blobsCopied += 1;
  // The destination verified the whole body (digest and length), so exactly `size` bytes went.
  if (transferred) run.counts.bytesCopied += size;
}

/** Runs `task` over `items`, at most `limit` at once; the first failure stops new work and is thrown once all started ones end. */
async function eachLimited<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (failure === null && next < items.length) {
      const item = items[next++]!;
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}

export function uniqueDigests(descriptors: Descriptor[]): Digest[] {
  return [...new Set(descriptors.map((descriptor) => descriptor.digest))];
}
