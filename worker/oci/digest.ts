// Digests (OCI image spec, "Digests"): `algorithm ":" encoded`. Pier accepts the two
// registered algorithms, sha256 (64 lowercase hex) and sha512 (128 lowercase hex); any other
// well-formed algorithm is refused as unsupported, which the spec allows.
import { RegistryError } from "../errors";

export type DigestAlgorithm = "sha256" | "sha512";

/** A validated digest string such as `sha256:e3b0…`. Made only by `parseDigest`. */
export type Digest = string & { readonly __brand: "Digest" };

const ENCODED_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const LOWER_HEX = /^[0-9a-f]+$/;

/** Parses a digest, or returns null when it is not a supported, well-formed digest. */
export function tryParseDigest(text: string): Digest | null {
  if (text.length > 256 || !DIGEST_GRAMMAR.test(text)) return null;
  const colon = text.indexOf(":");
  const algorithm = text.slice(0, colon);
  const encoded = text.slice(colon + 1);
  if (algorithm !== "sha256" && algorithm !== "sha512") return null;
  if (encoded.length !== ENCODED_LENGTH[algorithm] || !LOWER_HEX.test(encoded)) return null;
  return text as Digest;
}

/** Parses a digest or throws DIGEST_INVALID. */
export function parseDigest(text: string): Digest {
  const digest = tryParseDigest(text);
  if (digest === null) {
    throw new RegistryError("DIGEST_INVALID", `invalid digest "${truncate(text)}": expected sha256:<64 hex> or sha512:<128 hex>`);
  }
  return digest;
}

export function digestAlgorithm(digest: Digest): DigestAlgorithm {
  return digest.startsWith("sha256:") ? "sha256" : "sha512";
}

export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(":") + 1);
}

/** The WebCrypto name of an algorithm, for crypto.subtle and crypto.DigestStream. */
export function webCryptoName(algorithm: DigestAlgorithm): "SHA-256" | "SHA-512" {
  return algorithm === "sha256" ? "SHA-256" : "SHA-512";
}

export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let hex = "";
  for (const byte of view) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** The digest of bytes already in memory (manifests, small bodies). */
export async function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = "sha256"): Promise<Digest> {
  const hash = await crypto.subtle.digest(webCryptoName(algorithm), bytes);
  return `${algorithm}:${toHex(hash)}` as Digest;
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
