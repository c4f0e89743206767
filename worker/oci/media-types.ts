// Media types a registry must know (OCI image spec v1.1 and Docker image manifest v2.2).

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_EMPTY = "application/vnd.oci.empty.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";

export type ManifestKind = "image" | "index";

/** Which shape a manifest media type has: an image (config + layers) or an index (manifests). */
export function manifestKindOf(mediaType: string): ManifestKind | null {
  switch (mediaType) {
    case OCI_MANIFEST:
    case DOCKER_MANIFEST:
      return "image";
    case OCI_INDEX:
    case DOCKER_MANIFEST_LIST:
      return "index";
    default:
      return null;
  }
}

/** "application/json; charset=utf-8" → "application/json". */
export function bareMediaType(header: string | null | undefined): string | null {
  if (!header) return null;
  const bare = header.split(";")[0]!.trim().toLowerCase();
  return bare === "" ? null : bare;
}
