// Shared helpers for tests that talk to the registry through its HTTP API (SELF.fetch runs the
// real Worker in workerd, with real R2, D1 and Durable Objects).
import { env, SELF } from "cloudflare:test";
import { afterEach, beforeEach, expect } from "vitest";
import { RegistryError } from "../../worker/errors";

export const BASE = "http://registry.test";
/** The request-body cap the tests run with (test/vitest.config.ts). */
export const BODY_CAP = Number(env.PIER_MAX_BODY_BYTES);
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

/** A user name and password for Basic credentials. */
export interface Login {
  username: string;
  password: string;
}

/** The system admin (ADMIN_PASSWORD): who the registry tests act as unless they say otherwise. */
export const ADMIN: Login = { username: "admin", password: env.ADMIN_PASSWORD };

export function basic(login: Login): string {
  const bytes = new TextEncoder().encode(`${login.username}:${login.password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/**
 * One request to the Worker, signed in with Basic credentials as `as` (the admin unless told;
 * null: no credentials). An Authorization header in `init` wins.
 */
export function request(path: string, init: RequestInit = {}, as: Login | null = ADMIN): Promise<Response> {
  const answer = SELF.fetch(`${BASE}${path}`, signedIn(init, as));
  if (responseObservers.size === 0) return answer;
  return answer.then((response) => {
    for (const observe of responseObservers) observe(init.method ?? "GET", path, response.status);
    return response;
  });
}

/** `init` with Basic credentials for `as` added, unless it has an Authorization header already. */
export function signedIn(init: RequestInit, as: Login | null): RequestInit {
  const headers = new Headers(init.headers);
  if (as !== null && !headers.has("Authorization")) headers.set("Authorization", basic(as));
  return { ...init, headers };
}

const responseObservers = new Set<(method: string, path: string, status: number) => void>();

/**
 * Collects every 5xx answer to `request()` (and the helpers built on it) from now on, e.g. to
 * check in `afterEach` that client mistakes never surface as server errors. Returns the list
 * (filled as answers arrive) and a function that stops collecting.
 */
export function collectServerErrors(): { errors: string[]; stop: () => void } {
  const errors: string[] = [];
  const observer = (method: string, path: string, status: number) => {
    if (status >= 500) errors.push(`${method} ${path} -> ${status}`);
  };
  responseObservers.add(observer);
  return { errors, stop: () => responseObservers.delete(observer) };
}

/** Called in a describe block (or at a file's top): each test there fails if a `request()` answered 5xx. */
export function expectNoServerErrors(): void {
  let collected: ReturnType<typeof collectServerErrors>;
  beforeEach(() => {
    collected = collectServerErrors();
  });
  afterEach(() => {
    collected.stop();
    expect(collected.errors).toEqual([]);
  });
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

/** A source of never-repeating test blobs: each call uses the next seed after `firstSeed`. */
export function freshBytesFrom(firstSeed: number): (length: number) => Uint8Array {
  let seed = firstSeed;
  return (length) => randomBytes(length, ++seed);
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

// ---- Added for the manifest, blob, listing and oci tests -------------------------------------

export const OCI_EMPTY = "application/vnd.oci.empty.v1+json";
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
export const DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip";

let repoCounter = 0;

/** A repository name no other test uses (test files may share one D1 database): `<label>/r<n>-<hex>`. */
export function uniqueRepo(label: string): string {
  repoCounter += 1;
  // Two segments: local repositories live in a project (the first segment), which the admin's
  // first push creates.
  return `${label}/r${repoCounter}-${crypto.randomUUID().slice(0, 8)}`;
}

/** JSON.stringify as bytes. */
export function jsonBytes(value: unknown): Uint8Array {
  return bytesOf(JSON.stringify(value));
}

/** PUTs a manifest and returns the raw response, whatever its status. */
export function putManifest(repository: string, reference: string, bytes: Uint8Array, contentType: string | null = OCI_MANIFEST): Promise<Response> {
  const headers: Record<string, string> = contentType === null ? {} : { "Content-Type": contentType };
  return request(`/v2/${repository}/manifests/${reference}`, { method: "PUT", body: bytes, headers });
}

/** The empty config blob `{}` (OCI image spec "Guidance for an Empty Descriptor"), pushed. */
export async function pushEmptyConfig(repository: string): Promise<Descriptor> {
  return pushBlob(repository, bytesOf("{}"), OCI_EMPTY);
}

/** The descriptor of a manifest already pushed. */
export function manifestDescriptor(bytes: Uint8Array, digest: string, mediaType = OCI_MANIFEST): Descriptor {
  return { mediaType, digest, size: bytes.byteLength };
}

/**
 * Pushes an artifact manifest (empty config, one layer) whose subject is `subject`, by digest
 * unless `reference` is given; returns its digest, bytes and descriptor.
 */
export async function pushReferrer(
  repository: string,
  subject: Descriptor,
  options: { artifactType?: string; annotations?: Record<string, string>; reference?: string; seed?: number; config?: Descriptor } = {},
): Promise<{ digest: string; bytes: Uint8Array; descriptor: Descriptor }> {
  const config = options.config ?? (await pushEmptyConfig(repository));
  const layer = await pushBlob(repository, randomBytes(64, options.seed ?? 7), "application/octet-stream");
  const body: Record<string, unknown> = { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer], subject };
  if (options.artifactType !== undefined) body.artifactType = options.artifactType;
  if (options.annotations !== undefined) body.annotations = options.annotations;
  const bytes = jsonBytes(body);
  const reference = options.reference ?? (await digestOf(bytes));
  const digest = await pushManifest(repository, reference, bytes);
  return { digest, bytes, descriptor: manifestDescriptor(bytes, digest) };
}

/** The bytes of a response body. */
export async function bodyBytes(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

/** Runs `action` and checks it throws a RegistryError with this code (and status, if given). */
export function expectRegistryError(action: () => unknown, code: string, status?: number): RegistryError {
  let caught: unknown = null;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(RegistryError);
  const error = caught as RegistryError;
  expect(error.code).toBe(code);
  if (status !== undefined) expect(error.status).toBe(status);
  return error;
}

// ---- Added for the upload tests (test/uploads) -----------------------------------------------

export const MiB = 1024 * 1024;

/** `path` with query parameters appended (upload Locations may or may not carry a query). */
export function withQuery(path: string, params: Record<string, string>): string {
  const query = new URLSearchParams(params).toString();
  return `${path}${path.includes("?") ? "&" : "?"}${query}`;
}

/** The session id of an upload: the last path segment of its Location. */
export function sessionIdOf(location: string): string {
  return new URL(location, BASE).pathname.split("/").pop()!;
}

/** Opens an upload session (POST /v2/<name>/blobs/uploads/) and checks the 202. */
export async function openUpload(repository: string): Promise<{ location: string; sessionId: string; response: Response }> {
  const response = await request(`/v2/${repository}/blobs/uploads/`, { method: "POST" });
  expect(response.status, await response.clone().text()).toBe(202);
  const location = response.headers.get("Location");
  expect(location).not.toBeNull();
  return { location: location!, sessionId: sessionIdOf(location!), response };
}

/**
 * A body of unknown length: workerd sends a ReadableStream body chunked, without
 * Content-Length, the way docker streams a layer. Pieces are copies, pulled on demand.
 */
export function streamOf(bytes: Uint8Array, pieceSize = 256 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) {
        controller.close();
        return;
      }
      const end = Math.min(offset + pieceSize, bytes.byteLength);
      controller.enqueue(bytes.slice(offset, end));
      offset = end;
    },
  });
}

/** PATCHes one chunk at `start` with Content-Range and Content-Length, as the spec's chunked push does. */
export function patchChunk(location: string, bytes: Uint8Array, start: number): Promise<Response> {
  return request(location, {
    method: "PATCH",
    body: bytes,
    headers: {
      "Content-Type": "application/octet-stream",
      "Content-Range": `${start}-${start + bytes.byteLength - 1}`,
      "Content-Length": String(bytes.byteLength),
    },
  });
}

/** The UploadSession Durable Object behind a session id (objects are named by the id). */
export function uploadSessionStub(sessionId: string) {
  return env.UPLOAD_SESSIONS.get(env.UPLOAD_SESSIONS.idFromName(sessionId));
}

/** Byte equality without vitest's element-by-element diff, which is unusable on megabytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Closes an upload with a PUT that carries the bytes from `start` on as its last chunk. */
export function putLastChunk(location: string, digest: string, bytes: Uint8Array, start: number): Promise<Response> {
  const last = bytes.subarray(start);
  return request(withQuery(location, { digest }), {
    method: "PUT",
    body: last,
    headers: { "Content-Range": `${start}-${bytes.byteLength - 1}`, "Content-Length": String(last.byteLength) },
  });
}

/** GETs a blob and checks it is served whole: 200, Content-Length, Docker-Content-Digest, bytes. */
export async function expectBlob(repository: string, digest: string, bytes: Uint8Array): Promise<void> {
  const response = await request(`/v2/${repository}/blobs/${digest}`);
  if (response.status !== 200) expect.fail(`GET blob ${digest} in ${repository}: ${response.status} ${await response.text()}`);
  expect(response.headers.get("Content-Length")).toBe(String(bytes.byteLength));
  expect(response.headers.get("Docker-Content-Digest")).toBe(digest);
  const served = new Uint8Array(await response.arrayBuffer());
  expect(served.byteLength).toBe(bytes.byteLength);
  expect(sameBytes(served, bytes), "served bytes differ from the pushed bytes").toBe(true);
}

/** HEAD on a blob: its status (200 when the repository holds it, 404 when not). */
export async function blobStatus(repository: string, digest: string): Promise<number> {
  const response = await request(`/v2/${repository}/blobs/${digest}`, { method: "HEAD" });
  await response.arrayBuffer();
  return response.status;
}

/**
 * Byte-for-byte equality that stays fast on megabytes (`toEqual` on a large Uint8Array is
 * very slow); on a mismatch it reports the first differing offset.
 */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.byteLength, "length").toBe(expected.byteLength);
  let first = -1;
  for (let i = 0; i < expected.byteLength; i++) {
    if (actual[i] !== expected[i]) {
      first = i;
      break;
    }
  }
  expect(first, "offset of the first differing byte").toBe(-1);
}

/** The URL of a `Link: <url>; rel="next"` header, or null when there is none. */
export function nextLinkOf(response: Response): string | null {
  const link = response.headers.get("Link");
  if (link === null) return null;
  const match = /^<([^>]+)>;\s*rel="next"$/.exec(link);
  expect(match, `Link header ${link}`).not.toBeNull();
  return match![1]!;
}
