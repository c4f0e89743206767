// The two ends of a replication: this Pier (local-endpoint.ts) or a remote registry
// (remote-endpoint.ts). The copy engine (copy-artifact.ts) speaks only this interface, so a copy
// from a remote into Pier and one from Pier to a remote are the same code.
//
// Repository names are the endpoint's own (already mapped through the policy's namespace and,
// for Docker Hub, normalised to library/…). Absence is null or false (DESIGN convention 2);
// failures throw: a RegistryError for what Pier itself refuses (quota, immutability, invalid
// content), an UpstreamError (worker/proxy/upstream-client.ts) for what a remote answered,
// whose status 429 with its Retry-After makes the task wait rather than fail.
import type { Digest } from "../oci/digest";

/** A manifest's exact bytes and the media type it is served as. */
export interface ManifestBytes {
  digest: Digest;
  mediaType: string;
  bytes: Uint8Array;
}

/** A blob's bytes as a stream of known length (never buffered whole). */
export interface BlobBody {
  size: number;
  body: ReadableStream<Uint8Array>;
}

/** A manifest whose subject is another (OCI referrers API descriptor). */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
}

export interface Endpoint {
  /** For messages: "this Pier" or the remote registry's name. */
  readonly name: string;

  /**
   * Every repository it holds (the catalog, all pages), or null when it serves none (Docker
   * Hub, ghcr.io): then only literal repository names can be replicated from it.
   */
  listRepositories(): Promise<string[] | null>;
  /** Every tag of the repository (all pages); [] when the repository is unknown. */
  listTags(repository: string): Promise<string[]>;

  /** The manifest a tag or digest names, or null. `accept`: every manifest media type Pier knows. */
  getManifest(repository: string, reference: string): Promise<ManifestBytes | null>;
  /** HEAD: the digest a tag or digest resolves to here, or null when it does not. */
  manifestDigest(repository: string, reference: string): Promise<Digest | null>;
  /** Stores a manifest under a tag or its digest; everything it points at is already there. */
  putManifest(repository: string, reference: string, manifest: ManifestBytes): Promise<void>;
  /** Deletes a manifest by digest, or a tag; false when it was not there. */
  deleteManifest(repository: string, reference: string): Promise<boolean>;

  /** Whether the repository can serve the blob (HEAD). */
  hasBlob(repository: string, digest: Digest): Promise<boolean>;
  /** The blob's bytes, streamed, or null. */
  getBlob(repository: string, digest: Digest): Promise<BlobBody | null>;
  /**
   * Stores a blob, checked against its digest. Tries a cross-repository mount from `mountFrom`
   * (another repository at this endpoint that holds it) first, where the endpoint offers one,
   * and reads `body` only when the mount did not happen; resolves to whether bytes were sent.
   */
  putBlob(repository: string, digest: Digest, blob: () => Promise<BlobBody>, mountFrom: string | null): Promise<{ transferred: boolean }>;

  /** The manifests whose subject is `digest` (the referrers API, or the tag-schema fallback). */
  listReferrers(repository: string, digest: Digest): Promise<ReferrerDescriptor[]>;
}
