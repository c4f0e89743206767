// The copy engine (issue 11, "The copy engine"): one artifact (a tag or a digest) from one
// endpoint to another, with an index's children, every blob, and the artifact's referrers. The
// replication runner calls only this module; the endpoints hide whether an end is this Pier or
// a remote registry.
//
// Idempotent and resumable: what the destination has is skipped (a HEAD on each manifest and
// blob before anything is read from the source), so a redelivered message or a copy interrupted
// half way and run again streams only what is still missing. The order of writes (copy-content.ts)
// means an interruption leaves blobs and child manifests, never a manifest pointing at nothing.
//
// Artifact types (the policy's artifactTypes filter): an artifact's type is its manifest's
// `artifactType`, else an image's config media type (OCI image spec v1.1, as the referrers API
// reports it). An index without `artifactType` has its children's types, and matches when any
// child does (a multi-platform image is an image).
import { RegistryError } from "../errors";
import type { Digest } from "../oci/digest";
import { tryParseDigest } from "../oci/digest";
import { copyManifest, MAX_INDEX_DEPTH, type CopyCounts, type CopyRun, readSourceManifest, type SourceManifest, uniqueDigests } from "./copy-content";
import { copyReferrers } from "./copy-referrers";
import type { Endpoint } from "./endpoint";
import { Pacer } from "./throttle";

export interface CopyOptions {
  /** Whether a tag the destination has on another digest is moved. */
  override: boolean;
  /** Artifact types to copy; null: all. */
  artifactTypes: string[] | null;
  /** Bandwidth bound for this copy's blob streams together; null: none. */
  bytesPerSecond: number | null;
  /** A repository at the destination that may hold the blobs (cross-repository mount). */
  mountFrom: string | null;
}

export interface CopyResult extends CopyCounts {
  digest: Digest;
  /** Why the artifact was deliberately not copied (tag conflict, type filter); null otherwise. */
  skipped: string | null;
}

/**
 * Copies `from` (a tag or digest of the source) to the same reference in `to.repository` at the
 * destination. Null when the source no longer has it.
 */
export async function copyArtifact(
  source: Endpoint,
  destination: Endpoint,
  from: { repository: string; reference: string },
  to: { repository: string },
  options: CopyOptions,
): Promise<CopyResult | null> {
  const run: CopyRun = {
    source,
    destination,
    from: from.repository,
    to: to.repository,
    mountFrom: options.mountFrom,
    pacer: options.bytesPerSecond === null ? null : new Pacer(options.bytesPerSecond),
    counts: { manifestsCopied: 0, manifestsSkipped: 0, blobsCopied: 0, blobsSkipped: 0, bytesCopied: 0 },
  };
  const byDigest = tryParseDigest(from.reference);
  const top = await readSourceManifest(run, from.reference, byDigest);
  if (top === null) return null;
  const digest = top.manifest.digest;
  const result = (skipped: string | null): CopyResult => ({ digest, skipped, ...run.counts });

  if (options.artifactTypes !== null) {
    const types = await artifactTypesOf(run, top, 0);
    if (!types.some((type) => options.artifactTypes!.includes(type))) {
      return result(`artifact type ${types.length === 0 ? "(none)" : types.join(", ")} is not among ${options.artifactTypes.join(", ") || "(none)"}`);
    }
  }

  const there = await destination.manifestDigest(to.repository, from.reference);
  if (there === digest) {
    run.counts.manifestsSkipped += 1;
  } else if (there !== null && !options.override) {
    return result(`tag ${from.reference} of ${to.repository} at ${destination.name} is on ${there}, and the policy does not override`);
  } else if (byDigest === null && (await destination.manifestDigest(to.repository, digest)) !== null) {
    // The content is there under its digest; only the tag is missing (or moves): same bytes, tag put.
    await destination.putManifest(to.repository, from.reference, top.manifest);
    run.counts.manifestsCopied += 1;
  } else {
    await copyManifest(run, from.reference, top, 0);
  }

  await copyReferrers(run, [digest, ...uniqueDigests(top.parsed.children)]);
  return result(null);
}

/** A replicated deletion: the tag, or the manifest by digest; false when it was not there. */
export function deleteArtifact(destination: Endpoint, repository: string, reference: string): Promise<boolean> {
  return destination.deleteManifest(repository, reference);
}

/** The artifact's types (see the header): its own, or for an index without one, its children's. */
async function artifactTypesOf(run: CopyRun, node: SourceManifest, depth: number): Promise<string[]> {
  if (node.parsed.artifactType !== null) return [node.parsed.artifactType];
  if (node.parsed.kind === "image" || depth >= MAX_INDEX_DEPTH) return [];
  const types = new Set<string>();
  for (const child of uniqueDigests(node.parsed.children)) {
    const found = await readSourceManifest(run, child, child);
    if (found === null) throw new RegistryError("MANIFEST_BLOB_UNKNOWN", `${run.source.name} lacks manifest ${child}, which index ${node.manifest.digest} in ${run.from} lists`);
    for (const type of await artifactTypesOf(run, found, depth + 1)) types.add(type);
  }
  return [...types];
}
