// Shared helpers for tests that talk to the registry through its HTTP API (SELF.fetch runs the
// real Worker in workerd, with real R2, D1 and Durable Objects).
import { SELF } from "cloudflare:test";
import { expect } from "vitest";

export const BASE = "http://registry.test";
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  [field: string]: unknown;
}

export function request(path: string, init: RequestInit = {}): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, init);
}

export function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function randomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export async function digestOf(bytes: Uint8Array, algorithm: "sha256" | "sha512" = "sha256"): Promise<string> {
  const hash = await crypto.subtle.digest(algorithm === "sha256" ? "SHA-256" : "SHA-512", bytes);
  return `${algorithm}:${[...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Pushes a blob monolithically (POST ?digest=) and returns its descriptor. */
export async function pushBlob(repository: string, bytes: Uint8Array, mediaType = OCI_LAYER): Promise<Descriptor> {
  const digest = await digestOf(bytes);
  const response = await request(`/v2/${repository}/blobs/uploads/?digest=${digest}`, {
    method: "POST",
    body: bytes,
    headers: { "Content-Type": "application/octet-stream", "Content-Length": String(bytes.byteLength) },
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return { mediaType, digest, size: bytes.byteLength };
}

/** An OCI image manifest over the given config and layers. */
export function imageManifest(config: Descriptor, layers: Descriptor[], extra: Record<string, unknown> = {}): Uint8Array {
  return bytesOf(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers, ...extra }));
}

/** Pushes a config blob and one layer, then the manifest under `reference`. */
export async function pushImage(
  repository: string,
  reference: string,
  options: { seed?: number; extra?: Record<string, unknown> } = {},
): Promise<{ digest: string; bytes: Uint8Array; config: Descriptor; layer: Descriptor }> {
  const seed = options.seed ?? 1;
  const config = await pushBlob(repository, bytesOf(JSON.stringify({ architecture: "amd64", os: "linux", seed })), OCI_CONFIG);
  const layer = await pushBlob(repository, randomBytes(1024, seed));
  const bytes = imageManifest(config, [layer], options.extra);
  const digest = await pushManifest(repository, reference, bytes);
  return { digest, bytes, config, layer };
}

export async function pushManifest(repository: string, reference: string, bytes: Uint8Array, contentType = OCI_MANIFEST): Promise<string> {
  const response = await request(`/v2/${repository}/manifests/${reference}`, {
    method: "PUT",
    body: bytes,
    headers: { "Content-Type": contentType },
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return response.headers.get("Docker-Content-Digest")!;
}

/** The spec's error body: `{"errors": [{"code", "message", …}]}`; returns the first code. */
export async function errorCode(response: Response): Promise<string> {
  const body = (await response.json()) as { errors: { code: string; message: string }[] };
  expect(body.errors.length).toBeGreaterThan(0);
  expect(typeof body.errors[0]!.message).toBe("string");
  return body.errors[0]!.code;
}
