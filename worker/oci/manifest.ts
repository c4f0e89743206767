// Manifest parsing and validation. A manifest is accepted only when it is one of the shapes a
// registry serves: an image manifest (OCI or Docker v2 schema 2: config + layers) or an index
// (OCI index or Docker manifest list: manifests). Everything else is MANIFEST_INVALID, with a
// message that says which field is wrong. Whether the referenced content exists is checked
// later, against the repository (worker/services/manifests.ts).
import { RegistryError } from "../errors";
import { type Digest, tryParseDigest } from "./digest";
import { bareMediaType, type ManifestKind, manifestKindOf, OCI_INDEX, OCI_MANIFEST } from "./media-types";

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  /** Non-distributable content lives at these URLs, not in the registry. */
  urls?: string[];
}

export interface ParsedManifest {
  /** The media type the manifest is served with (its `mediaType`, or the request's Content-Type). */
  mediaType: string;
  kind: ManifestKind;
  /** Blobs it needs: config and layers of an image, nothing for an index. */
  blobs: Descriptor[];
  /** Manifests it needs: the children of an index, nothing for an image. */
  children: Descriptor[];
  subject: Descriptor | null;
  /** For the referrers API: `artifactType`, else an image's config media type. */
  artifactType: string | null;
  annotations: Record<string, string> | null;
}

type Json = Record<string, unknown>;

export function parseManifest(bytes: Uint8Array, contentType: string | null): ParsedManifest {
  const body = decodeJsonObject(bytes);
  if (body.schemaVersion !== 2) invalid("schemaVersion must be 2 (Docker schema 1 is not supported)");

  const mediaType = resolveMediaType(body, bareMediaType(contentType));
  const kind = manifestKindOf(mediaType)!;
  const subject = body.subject === undefined ? null : parseDescriptor(body.subject, "subject");
  const annotations = parseAnnotations(body.annotations, "annotations");
  const explicitArtifactType = optionalString(body.artifactType, "artifactType");
  if (explicitArtifactType !== null && !isMediaType(explicitArtifactType)) invalid("artifactType must be a media type (RFC 6838)");

  if (kind === "image") {
    const config = parseDescriptor(body.config, "config");
    const layers = parseDescriptorList(body.layers, "layers");
    return {
      mediaType,
      kind,
      blobs: [config, ...layers],
      children: [],
      subject,
      artifactType: explicitArtifactType ?? (isMediaType(config.mediaType) ? config.mediaType : null),
      annotations,
    };
  }
  return {
    mediaType,
    kind,
    blobs: [],
    children: parseDescriptorList(body.manifests, "manifests"),
    subject,
    artifactType: explicitArtifactType,
    annotations,
  };
}

/** The annotations of a stored (already validated) manifest, for the referrers API. */
export function annotationsOf(text: string): Record<string, string> | null {
  const body = JSON.parse(text) as Json;
  return isObject(body.annotations) ? (body.annotations as Record<string, string>) : null;
}

// RFC 6838: type "/" subtype, each at most 127 characters.
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

function isMediaType(value: string): boolean {
  return MEDIA_TYPE.test(value);
}

function decodeJsonObject(bytes: Uint8Array): Json {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    invalid("manifest is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    invalid(`manifest is not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(value)) invalid("manifest must be a JSON object");
  return value;
}

/**
 * The manifest's `mediaType` wins; the request's Content-Type must agree with it when both are
 * given. Without either, the shape decides (an OCI manifest may omit `mediaType`).
 */
function resolveMediaType(body: Json, header: string | null): string {
  const declared = optionalString(body.mediaType, "mediaType");
  if (declared !== null) {
    if (manifestKindOf(declared) === null) invalid(`unsupported manifest mediaType "${declared}"`);
    if (header !== null && manifestKindOf(header) !== null && header !== declared) {
      invalid(`Content-Type "${header}" does not match the manifest's mediaType "${declared}"`);
    }
    return declared;
  }
  if (header !== null && manifestKindOf(header) !== null) return header;
  if (Array.isArray(body.manifests)) return OCI_INDEX;
  if (isObject(body.config)) return OCI_MANIFEST;
  invalid("cannot tell the manifest's type: no mediaType, no known Content-Type, no config or manifests");
}

function parseDescriptorList(value: unknown, field: string): Descriptor[] {
  if (!Array.isArray(value)) invalid(`${field} must be an array of descriptors`);
  return value.map((item, index) => parseDescriptor(item, `${field}[${index}]`));
}

function parseDescriptor(value: unknown, field: string): Descriptor {
  if (!isObject(value)) invalid(`${field} must be a descriptor object`);
  const mediaType = value.mediaType;
  if (typeof mediaType !== "string" || mediaType.length === 0) invalid(`${field}.mediaType must be a non-empty string`);
  const digest = typeof value.digest === "string" ? tryParseDigest(value.digest) : null;
  if (digest === null) invalid(`${field}.digest must be a sha256 or sha512 digest`);
  const size = value.size;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) invalid(`${field}.size must be a non-negative integer`);
  const descriptor: Descriptor = { mediaType, digest, size };
  if (value.urls !== undefined) {
    if (!Array.isArray(value.urls) || !value.urls.every((url) => typeof url === "string")) {
      invalid(`${field}.urls must be an array of strings`);
    }
    descriptor.urls = value.urls as string[];
  }
  return descriptor;
}

function parseAnnotations(value: unknown, field: string): Record<string, string> | null {
  if (value === undefined) return null;
  if (!isObject(value) || !Object.values(value).every((entry) => typeof entry === "string")) {
    invalid(`${field} must map strings to strings`);
  }
  return value as Record<string, string>;
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined) return null;
  if (typeof value !== "string") invalid(`${field} must be a string`);
  return value;
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(message: string): never {
  throw new RegistryError("MANIFEST_INVALID", message);
}
