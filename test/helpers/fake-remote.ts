// Typed access, from inside workerd, to the push-capable fake remote registries that
// test/vitest.config.ts makes available (test/helpers/fake-remote-server.mjs): create a registry
// of one's own per test (its own port and store, so nothing is shared with other tests), seed
// and read its content byte for byte, script faults, read what it was asked and by whom.
import { env } from "cloudflare:test";
import { digestOf, jsonBytes, type Login, OCI_CONFIG, OCI_EMPTY, OCI_INDEX, OCI_LAYER, OCI_MANIFEST } from "./registry";

/** The only credentials a fake remote accepts for pushes (token auth) or anything (basic auth). */
export const PUSH_USERNAME = "pusher";
export const PUSH_PASSWORD = "push-secret";
export const PUSH_LOGIN: Login = { username: PUSH_USERNAME, password: PUSH_PASSWORD };
/** The `service` of a token-auth remote's Bearer challenge. */
export const TOKEN_SERVICE = "fake-remote";
/** The artifactType of the referrers seedImage adds. */
export const SIGNATURE_TYPE = "application/vnd.pier.test.signature.v1+json";

export interface RemoteOptions {
  /** token (default): Docker token flow, pull anonymous, push/delete need PUSH_LOGIN at /token; basic: PUSH_LOGIN on every request; none. */
  auth: "token" | "basic" | "none";
  /** GET /v2/<name>/referrers/<digest> and OCI-Subject on manifest PUTs (default true); false: 404. */
  referrersApi: boolean;
  /** /v2/_catalog (default true); false: 404, like Docker Hub. */
  catalog: boolean;
  /** POST ?digest= with the body stores the blob (default true); false: the body is ignored and a session opened (202). */
  monolithic: boolean;
  /** POST ?mount=&from= mounts when `from` has the blob (default true); false: always a session (202). */
  mount: boolean;
  /** DELETE of manifests, tags and blobs (default true); false: 405. */
  deletes: boolean;
  /** Advertised as OCI-Chunk-Min-Length (not enforced); null: no header. */
  chunkMinLength: number | null;
  /** Advertised as OCI-Chunk-Max-Length; a longer PATCH or PUT body is refused with 413. */
  chunkMaxLength: number | null;
  /** Locations as paths (`/v2/…`) rather than absolute URLs (default false). */
  relativeLocations: boolean;
  /** The token realm on an origin of its own (`realm`), default false: the registry's own /token. */
  separateRealm: boolean;
  /** Blob GETs answer 307 to an origin of its own (`cdn`), default false. */
  redirectBlobs: boolean;
}

export interface Remote {
  id: string;
  /** The registry's origin, `http://127.0.0.1:<port>`. */
  url: string;
  /** The origin serving /token (the registry's own unless separateRealm). */
  realm: string;
  /** The origin blob GETs redirect to, when redirectBlobs. */
  cdn: string | null;
  options: RemoteOptions;
}

export interface RemoteLogEntry {
  /** Which of the remote's origins received the request. */
  server: "registry" | "realm" | "cdn";
  /** The Host header as received. */
  host: string;
  method: string;
  /** The path without the query. */
  path: string;
  /** The query with its `?`, or "". */
  query: string;
  /** "Basic", "Bearer", …, or null without an Authorization header. */
  authScheme: string | null;
  /** The user name of Basic credentials. */
  authUser: string | null;
  /** The repository the path (or a /token scope, or a cdn path) names. */
  repo: string | null;
  at: number;
  /** The status answered; null while unanswered or when the connection was dropped. */
  status: number | null;
  /** Request body bytes the remote read. */
  bodyBytes: number;
}

/** Matched against each request (to any of the remote's origins) before authentication, in the order added. */
export interface Fault {
  /** Only this method (default: any). */
  method?: string;
  /** A regular expression over the path with its query, e.g. /\/blobs\/uploads\//. */
  path: string | RegExp;
  /** Answer this status with an OCI error body (after delayMs, if any). */
  status?: number;
  headers?: Record<string, string>;
  /** How many matching requests it applies to (default 1). */
  count?: number;
  /** Wait this long first; without status or drop the request then proceeds normally. */
  delayMs?: number;
  /** Drop the connection without answering (after delayMs). */
  drop?: boolean;
}

export interface SeededBlob {
  digest: string;
  bytes: Uint8Array;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface RemoteImage {
  manifestDigest: string;
  manifestBytes: Uint8Array;
  mediaType: string;
  config: SeededBlob;
  layers: SeededBlob[];
}

export interface SeededArtifact {
  /** The tagged manifest: the image, or the index over `images`. */
  digest: string;
  bytes: Uint8Array;
  mediaType: string;
  /** The image, or the index's children in the order of `platforms`. */
  images: RemoteImage[];
  /** A signature-like artifact whose subject is `digest` (with `referrer: true`). */
  referrer: { digest: string; bytes: Uint8Array; mediaType: string; artifactType: string; blobs: SeededBlob[] } | null;
  /** Every manifest digest seeded (children, the tagged one, the referrer), sorted. */
  manifestDigests: string[];
  /** Every blob digest seeded (configs, layers, the referrer's), sorted and distinct. */
  blobDigests: string[];
}

/**
 * Calls the control API of a fake at `origin` (the webhook receiver's too); a refusal (a
 * mistake in the test) throws with the server's reason, prefixed by `label`.
 */
export async function callControl<T>(origin: string, label: string, method: string, path: string, body?: BodyInit): Promise<T> {
  const response = await fetch(`${origin}${path}`, { method, body });
  const text = await response.text();
  if (!response.ok) throw new Error(`${label} ${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

function control<T>(method: string, path: string, body?: BodyInit): Promise<T> {
  return callControl<T>(env.FAKE_REMOTE_CONTROL, "fake remote control", method, path, body);
}

/** A control GET of raw bytes; null on 404 (absent). */
async function controlBytes(path: string): Promise<{ bytes: Uint8Array; headers: Headers } | null> {
  const response = await fetch(`${env.FAKE_REMOTE_CONTROL}${path}`);
  if (response.status === 404 && response.headers.get("Content-Type") !== "application/json") return null;
  if (!response.ok) throw new Error(`fake remote control GET ${path}: ${response.status} ${await response.text()}`);
  return { bytes: new Uint8Array(await response.arrayBuffer()), headers: response.headers };
}

/** A new, empty registry on its own port. Unset options take the defaults documented on RemoteOptions. */
export function createRemote(options: Partial<RemoteOptions> = {}): Promise<Remote> {
  return control<Remote>("POST", "/registries", JSON.stringify(options));
}

export function getRemote(id: string): Promise<Remote> {
  return control<Remote>("GET", `/registries/${id}`);
}

/** Stops the registry's servers: later requests to it fail to connect (an unreachable remote). */
export async function closeRemote(id: string): Promise<void> {
  await control("DELETE", `/registries/${id}`);
}

/** Every request the registry's origins received, in order; `filter` keeps the matching ones. */
export async function remoteLog(id: string, filter: Partial<Pick<RemoteLogEntry, "server" | "method" | "repo">> = {}): Promise<RemoteLogEntry[]> {
  const log = await control<RemoteLogEntry[]>("GET", `/registries/${id}/log`);
  return log.filter((entry) => Object.entries(filter).every(([key, value]) => value === undefined || entry[key as keyof RemoteLogEntry] === value));
}

export async function clearLog(id: string): Promise<void> {
  await control("DELETE", `/registries/${id}/log`);
}

/** The next `count` requests matching method and path get the fault (faults match in the order added). */
export async function failNext(id: string, fault: Fault): Promise<void> {
  const path = fault.path instanceof RegExp ? fault.path.source : fault.path;
  await control("POST", `/registries/${id}/faults`, JSON.stringify({ ...fault, path }));
}

export async function clearFaults(id: string): Promise<void> {
  await control("DELETE", `/registries/${id}/faults`);
}

export async function seedBlob(id: string, repo: string, bytes: Uint8Array, algorithm: "sha256" | "sha512" = "sha256"): Promise<string> {
  return (await control<{ digest: string }>("PUT", `/registries/${id}/blobs/${repo}?algorithm=${algorithm}`, bytes)).digest;
}

/** Stores a manifest's exact bytes under a tag or a digest (checked by nothing: seeding is trusted). */
export async function seedManifest(id: string, repo: string, reference: string, bytes: Uint8Array, mediaType: string): Promise<string> {
  const query = new URLSearchParams({ reference, mediaType });
  return (await control<{ digest: string }>("PUT", `/registries/${id}/manifests/${repo}?${query}`, bytes)).digest;
}

/**
 * Seeds an image tagged `tag`: per platform an image (a config unique to this call, `layers`
 * or one random 1 KiB layer), under an OCI index when `platforms` is given; with `referrer`, a
 * signature-like artifact whose subject is the tagged manifest. On a registry without the
 * referrers API the referrer is also listed under the tag schema's `<alg>-<hex>` tag, as a
 * client pushing it there would do.
 */
export async function seedImage(
  id: string,
  repo: string,
  tag: string,
  options: { layers?: Uint8Array[]; platforms?: Platform[]; referrer?: boolean } = {},
): Promise<SeededArtifact> {
  const images: RemoteImage[] = [];
  let top: { digest: string; bytes: Uint8Array; mediaType: string };
  if (options.platforms) {
    for (const platform of options.platforms) images.push(await seedOneImage(id, repo, null, platform, options.layers));
    const manifests = images.map((image, index) => ({ mediaType: image.mediaType, digest: image.manifestDigest, size: image.manifestBytes.byteLength, platform: options.platforms![index] }));
    const bytes = jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
    top = { digest: await seedManifest(id, repo, tag, bytes, OCI_INDEX), bytes, mediaType: OCI_INDEX };
  } else {
    const image = await seedOneImage(id, repo, tag, { os: "linux", architecture: "amd64" }, options.layers);
    images.push(image);
    top = { digest: image.manifestDigest, bytes: image.manifestBytes, mediaType: image.mediaType };
  }
  const referrer = options.referrer ? await seedReferrer(id, repo, top) : null;
  const blobs = images.flatMap((image) => [image.config, ...image.layers]).concat(referrer?.blobs ?? []);
  const manifests = [...(options.platforms ? images.map((image) => image.manifestDigest) : []), top.digest, ...(referrer ? [referrer.digest] : [])];
  return { ...top, images, referrer, manifestDigests: manifests.sort(), blobDigests: [...new Set(blobs.map((blob) => blob.digest))].sort() };
}

/** The manifest's exact bytes, media type and digest as stored, or null. */
export async function remoteManifest(id: string, repo: string, reference: string): Promise<{ bytes: Uint8Array; mediaType: string; digest: string } | null> {
  const answer = await controlBytes(`/registries/${id}/manifests/${repo}?${new URLSearchParams({ reference })}`);
  if (answer === null) return null;
  return { bytes: answer.bytes, mediaType: answer.headers.get("Content-Type") ?? "", digest: answer.headers.get("Docker-Content-Digest") ?? "" };
}

/** The blob's bytes, or null when the repository does not hold it. */
export async function remoteBlob(id: string, repo: string, digest: string): Promise<Uint8Array | null> {
  return (await controlBytes(`/registries/${id}/blob/${repo}?${new URLSearchParams({ digest })}`))?.bytes ?? null;
}

/** The digests of the blobs the repository holds, sorted. */
export async function remoteBlobDigests(id: string, repo: string): Promise<string[]> {
  return (await control<{ digests: string[] }>("GET", `/registries/${id}/blobs/${repo}`)).digests;
}

/** The repository's tags and the digests they point at. */
export async function remoteTags(id: string, repo: string): Promise<Record<string, string>> {
  return (await control<{ tags: Record<string, string> }>("GET", `/registries/${id}/tags/${repo}`)).tags;
}

export async function remoteRepositories(id: string): Promise<string[]> {
  return (await control<{ repositories: string[] }>("GET", `/registries/${id}/repositories`)).repositories;
}

/** Upload sessions opened and neither finished nor cancelled. */
export async function openUploads(id: string): Promise<number> {
  return (await control<{ open: number }>("GET", `/registries/${id}/uploads`)).open;
}

/** `Basic <pusher:push-secret>`. */
export function pushAuthorization(): string {
  return `Basic ${btoa(`${PUSH_USERNAME}:${PUSH_PASSWORD}`)}`;
}

/**
 * `Authorization` headers for talking to a remote directly from a test: a token for the
 * repository and actions (asking with PUSH_LOGIN), Basic, or nothing, per its auth option.
 */
export async function remoteAuthorization(remote: Remote, repo: string, actions = "pull,push,delete"): Promise<Record<string, string>> {
  if (remote.options.auth === "none") return {};
  if (remote.options.auth === "basic") return { Authorization: pushAuthorization() };
  const query = new URLSearchParams({ service: TOKEN_SERVICE, scope: `repository:${repo}:${actions}` });
  const response = await fetch(`${remote.realm}/token?${query}`, { headers: { Authorization: pushAuthorization() } });
  if (!response.ok) throw new Error(`fake remote token: ${response.status} ${await response.text()}`);
  return { Authorization: `Bearer ${((await response.json()) as { token: string }).token}` };
}

async function seedOneImage(id: string, repo: string, tag: string | null, platform: Platform, layerBytes?: Uint8Array[]): Promise<RemoteImage> {
  const layers: SeededBlob[] = [];
  for (const bytes of layerBytes ?? [random(1024)]) layers.push({ digest: await seedBlob(id, repo, bytes), bytes });
  const configBytes = jsonBytes({
    ...platform,
    config: { Labels: { "pier.test.nonce": hex(random(16)) } },
    rootfs: { type: "layers", diff_ids: layers.map((layer) => layer.digest) },
  });
  const config = { digest: await seedBlob(id, repo, configBytes), bytes: configBytes };
  const manifestBytes = jsonBytes({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: config.digest, size: configBytes.byteLength },
    layers: layers.map(({ digest, bytes }) => ({ mediaType: OCI_LAYER, digest, size: bytes.byteLength })),
  });
  const manifestDigest = await seedManifest(id, repo, tag ?? (await digestOf(manifestBytes)), manifestBytes, OCI_MANIFEST);
  return { manifestDigest, manifestBytes, mediaType: OCI_MANIFEST, config, layers };
}

async function seedReferrer(id: string, repo: string, subject: { digest: string; bytes: Uint8Array; mediaType: string }): Promise<NonNullable<SeededArtifact["referrer"]>> {
  const empty = { digest: await seedBlob(id, repo, jsonBytes({})), bytes: jsonBytes({}) };
  const signatureBytes = random(64);
  const signature = { digest: await seedBlob(id, repo, signatureBytes), bytes: signatureBytes };
  const bytes = jsonBytes({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: SIGNATURE_TYPE,
    config: { mediaType: OCI_EMPTY, digest: empty.digest, size: 2 },
    layers: [{ mediaType: SIGNATURE_TYPE, digest: signature.digest, size: signature.bytes.byteLength }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.bytes.byteLength },
  });
  const digest = await seedManifest(id, repo, await digestOf(bytes), bytes, OCI_MANIFEST);
  const descriptor = { mediaType: OCI_MANIFEST, digest, size: bytes.byteLength, artifactType: SIGNATURE_TYPE };
  if (!(await getRemote(id)).options.referrersApi) {
    // The tag schema (distribution spec, "Referrers Tag Schema"): an index tagged <alg>-<hex>.
    const fallbackTag = subject.digest.replace(":", "-");
    const existing = await remoteManifest(id, repo, fallbackTag);
    const listed = existing ? (JSON.parse(new TextDecoder().decode(existing.bytes)) as { manifests: unknown[] }).manifests : [];
    await seedManifest(id, repo, fallbackTag, jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...listed, descriptor] }), OCI_INDEX);
  }
  return { digest, bytes, mediaType: OCI_MANIFEST, artifactType: SIGNATURE_TYPE, blobs: [empty, signature] };
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
