// Typed access, from inside workerd, to the fake upstream registries that test/vitest.config.ts
// starts (test/helpers/fake-upstream-server.mjs): seed content, script misbehaviour, read what
// the upstreams were asked. The store is shared by every test file in the run, so tests keep
// to their own repositories (uniqueRepo) and never clean up.
import { createExecutionContext, env } from "cloudflare:test";
import worker from "../../worker/index";
import { ADMIN, digestOf, jsonBytes, type Login, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, signedIn } from "./registry";

export type UpstreamServer = "fake" | "private" | "basic" | "hub" | "fresh" | "slow" | "cdn";

export interface LogEntry {
  server: UpstreamServer;
  method: string;
  /** Path with query, e.g. `/token?service=…&scope=…`. */
  path: string;
  authorization: string | null;
  repo: string | null;
  /** Date.now() when the request arrived. */
  at: number;
}

/** Per-repo misbehaviour of every upstream; setBehaviour replaces the whole set. */
export interface Behaviour {
  /** Answer manifest, blob and tag requests with this status and an OCI error body. */
  status?: number;
  retryAfter?: string;
  /** Only the next n requests get `status`; then the repo behaves again. */
  statusTimes?: number;
  /** Wait this long before the response headers. */
  delayMs?: number;
  /** Blob GETs return the right length and headers but every byte flipped. */
  corruptBlobs?: boolean;
  /** Blob GETs send the full Content-Length, n bytes, then drop the connection. */
  cutBlobsAfter?: number;
  /** Blob GETs send n bytes, then wait for release(repo). */
  holdBlobsAfter?: number;
  /** Blob GETs answer 307 to FAKE_UPSTREAM_CDN/cdn/<repo>/<digest>. */
  redirectBlobs?: boolean;
  /** Manifest responses carry no Docker-Content-Digest. */
  omitDigestHeader?: boolean;
  /** Blob GETs carry no Content-Length (chunked transfer encoding). */
  chunkedBlobs?: boolean;
}

export interface SeededBlob {
  digest: string;
  bytes: Uint8Array;
}

export interface SeededImage {
  manifestDigest: string;
  manifestBytes: Uint8Array;
  mediaType: string;
  config: SeededBlob;
  layers: SeededBlob[];
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface SeededIndex {
  indexDigest: string;
  indexBytes: Uint8Array;
  mediaType: string;
  children: { platform: Platform; image: SeededImage }[];
}

/** Calls the control API; a refusal (a mistake in the test) throws with the server's reason. */
async function control<T>(method: string, path: string, body?: BodyInit): Promise<T> {
  const response = await fetch(`${env.FAKE_UPSTREAM_CONTROL}${path}`, { method, body });
  const text = await response.text();
  if (!response.ok) throw new Error(`fake upstream control ${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

/** The fake upstreams' origins by name, as PIER_UPSTREAMS gives them to the Worker. */
export function upstreamUrls(): Record<Exclude<UpstreamServer, "cdn">, string> {
  const list = JSON.parse(env.PIER_UPSTREAMS) as { name: Exclude<UpstreamServer, "cdn">; url: string }[];
  return Object.fromEntries(list.map(({ name, url }) => [name, url])) as Record<Exclude<UpstreamServer, "cdn">, string>;
}

/**
 * A repository no other test uses: `<prefix>/app-<8 hex>`. The prefix is the first segment so
 * that "team" and "library" fit the hub upstream's allow list (`team/**`, `library/*`).
 */
export function uniqueRepo(prefix = "t"): string {
  if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(prefix)) {
    throw new Error(`uniqueRepo: "${prefix}" is not a repository name prefix`);
  }
  return `${prefix}/app-${hex(crypto.getRandomValues(new Uint8Array(4)))}`;
}

export async function seedBlob(repo: string, bytes: Uint8Array, algorithm: "sha256" | "sha512" = "sha256"): Promise<string> {
  return (await control<{ digest: string }>("PUT", `/blobs/${repo}?algorithm=${algorithm}`, bytes)).digest;
}

/** Stores a manifest under `reference` (a tag, or a digest, which may even be a wrong one). */
export async function seedManifest(repo: string, reference: string, bytes: Uint8Array, mediaType: string): Promise<string> {
  const query = new URLSearchParams({ reference, mediaType });
  return (await control<{ digest: string }>("PUT", `/manifests/${repo}?${query}`, bytes)).digest;
}

/**
 * Seeds an OCI image: a config unique to this call (so no other test's cached blob can stand
 * in for it), the layers (default: one random 1 KiB layer) and the manifest, tagged `tag`.
 */
export async function seedImage(repo: string, tag: string, options: { layers?: Uint8Array[]; platform?: Platform } = {}): Promise<SeededImage> {
  return seedImageAt(repo, tag, options);
}

/** Seeds one image per platform (untagged, by digest) and an OCI index over them, tagged `tag`. */
export async function seedIndex(repo: string, tag: string, platforms: Platform[]): Promise<SeededIndex> {
  const children = [];
  for (const platform of platforms) children.push({ platform, image: await seedImageAt(repo, null, { platform }) });
  const manifests = children.map(({ platform, image }) => ({
    mediaType: image.mediaType,
    digest: image.manifestDigest,
    size: image.manifestBytes.byteLength,
    platform,
  }));
  const indexBytes = jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
  const indexDigest = await seedManifest(repo, tag, indexBytes, OCI_INDEX);
  return { indexDigest, indexBytes, mediaType: OCI_INDEX, children };
}

export async function setBehaviour(repo: string, behaviour: Behaviour): Promise<void> {
  await control("PUT", `/behaviour/${repo}`, JSON.stringify(behaviour));
}

export async function clearBehaviour(repo: string): Promise<void> {
  await setBehaviour(repo, {});
}

/** Lets blob responses held by holdBlobsAfter finish; returns how many were waiting. */
export async function release(repo: string): Promise<number> {
  return (await control<{ released: number }>("POST", `/release/${repo}`)).released;
}

/** Every request any fake server received for this repo (including /token and the cdn), in order. */
export function upstreamLog(repo: string): Promise<LogEntry[]> {
  return control<LogEntry[]>("GET", `/log/${repo}`);
}

/** Removes a tag upstream, so the next lookup of it answers 404 MANIFEST_UNKNOWN. */
export async function removeTag(repo: string, tag: string): Promise<void> {
  await control("DELETE", `/manifests/${repo}?${new URLSearchParams({ reference: tag })}`);
}

async function seedImageAt(repo: string, tag: string | null, options: { layers?: Uint8Array[]; platform?: Platform }): Promise<SeededImage> {
  const platform = options.platform ?? { os: "linux", architecture: "amd64" };
  const layerBytes = options.layers ?? [random(1024)];
  const layers: SeededBlob[] = [];
  for (const bytes of layerBytes) layers.push({ digest: await seedBlob(repo, bytes), bytes });
  const configBytes = jsonBytes({
    ...platform,
    config: { Labels: { "pier.test.nonce": hex(random(16)) } },
    rootfs: { type: "layers", diff_ids: layers.map((layer) => layer.digest) },
  });
  const config = { digest: await seedBlob(repo, configBytes), bytes: configBytes };
  const manifestBytes = jsonBytes({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: config.digest, size: configBytes.byteLength },
    layers: layers.map(({ digest, bytes }) => ({ mediaType: OCI_LAYER, digest, size: bytes.byteLength })),
  });
  const manifestDigest = await seedManifest(repo, tag ?? (await digestOf(manifestBytes)), manifestBytes, OCI_MANIFEST);
  return { manifestDigest, manifestBytes, mediaType: OCI_MANIFEST, config, layers };
}

/** Random bytes; getRandomValues fills at most 64 KiB per call. */
export function random(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += 65536) crypto.getRandomValues(bytes.subarray(offset, offset + 65536));
  return bytes;
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * A request to Pier with PIER_MIRROR_DEFAULT = "hub". The shared test configuration sets no
 * mirror default, because the core registry's tests (and the conformance suites) expect an
 * unknown unprefixed name to be unknown locally, not looked up on Docker Hub.
 */
export async function requestThroughMirror(path: string, init: RequestInit = {}, as: Login | null = ADMIN): Promise<Response> {
  return worker.fetch(new Request(`http://registry.test${path}`, signedIn(init, as)), mirrorEnv, createExecutionContext());
}

const mirrorEnv = { ...env, PIER_MIRROR_DEFAULT: "hub" };
