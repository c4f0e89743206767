// The whole R2 key layout. Nothing else in Pier spells an R2 key.
//
//   blobs/<algorithm>/<hex>/<write-id>
//                             bytes whose digest was known before they were written: monolithic
//                             pushes, small chunked uploads and fills, large manifests. R2 itself
//                             checks the digest on write (R2PutOptions sha256/sha512), so content
//                             that does not match its name is never stored under it. Objects
//                             written before the storage lifecycle (issue 10) have no write id;
//                             D1 names them as they are.
//   uploads/<session-id>      bytes assembled by an upload session from R2 multipart parts. The
//                             digest is learned only at the final PUT and R2 cannot rename, so
//                             the object stays here; D1 `blobs.object_key` maps digest → key.
//   fills/<fill-id>           bytes fetched from an upstream by a BlobFill (pull-through cache)
//                             in multipart parts; like uploads/, visible only once D1 records
//                             the digest, which happens after the fill verified it.
//
// Every write gets a key no other write uses. That is what lets the garbage collector delete
// the object a tombstoned `blobs` row names without a lock (durable-objects/registry-lock.ts):
// a writer storing the same digest meanwhile writes elsewhere, never under the doomed key. Two
// writers of the same new digest both write; the one D1 did not record deletes its copy.
//
// Either way a blob's bytes are stored once for the whole registry (D1 `blobs` has one row per
// digest) and reached only through D1, which also says which repositories may read them.
import { type Digest, digestAlgorithm, digestHex } from "../oci/digest";

/** A key of its own for one write of `digest`'s bytes. */
export function contentKey(digest: Digest): string {
  return `blobs/${digestAlgorithm(digest)}/${digestHex(digest)}/${crypto.randomUUID()}`;
}

/** Every prefix Pier writes under: what the collector lists for objects D1 no longer names. */
export const OBJECT_PREFIXES = ["blobs/", "uploads/", "fills/"] as const;

export function uploadKey(sessionId: string): string {
  return `uploads/${sessionId}`;
}

export function fillKey(fillId: string): string {
  return `fills/${fillId}`;
}

/** What the health check asks R2 for (a HEAD): never written, so its answer is always "absent". */
export const HEALTH_PROBE_KEY = "health/probe";
