// The requests of the current OCI distribution-spec conformance suite (conformance/ at the
// head of github.com/opencontainers/distribution-spec), replayed against Pier with the checks
// the suite applies. Where the suite accepts a fallback and records the API as unsupported
// (counted as "Skip", not as a failure) a helper returns "unsupported"; anything the suite
// would count as a failure fails the vitest expectation.
import { expect } from "vitest";
import { type Desc, type TestData, detectMediaType, detectSubject } from "./conformance-data";
import { BASE, OCI_INDEX, OCI_MANIFEST, request, sameBytes, streamOf, withQuery } from "./registry";

export type Outcome = "pass" | "unsupported";

/** The suite's floor for chunk sizes (conformance/config.go `chunkMin`). */
export const SUITE_CHUNK_MIN = 1024;

/** A Location (absolute or relative) as a path for `request()`. */
export function pathOf(location: string): string {
  const url = new URL(location, BASE);
  return `${url.pathname}${url.search}`;
}

export async function expectStatus(response: Response, what: string, ...codes: number[]): Promise<void> {
  if (!codes.includes(response.status)) {
    expect.fail(`${what}: expected one of ${codes.join("/")}, got ${response.status} ${await response.clone().text()}`);
  }
}

function octet(length: number): Record<string, string> {
  return { "Content-Type": "application/octet-stream", "Content-Length": String(length) };
}

/** A Docker-Content-Digest header, when present, must be the expected digest. */
export function verifyDigest(response: Response, digest: string, required = false): void {
  const header = response.headers.get("Docker-Content-Digest");
  if (required) expect(header, "Docker-Content-Digest").not.toBeNull();
  if (header !== null) expect(header, "Docker-Content-Digest").toBe(digest);
}

/** GET on the Location a push answered: 200 and the bytes pushed. */
export async function verifyLocation(location: string | null, bytes: Uint8Array): Promise<void> {
  expect(location, "Location").not.toBeNull();
  const response = await request(pathOf(location!));
  await expectStatus(response, `GET ${location}`, 200);
  expect(sameBytes(new Uint8Array(await response.arrayBuffer()), bytes), "body at Location").toBe(true);
}

/** POST ?digest= with the whole blob; a 202 falls back to PUT (unsupported). */
export async function blobPostOnly(repo: string, digest: string, bytes: Uint8Array, bad = false): Promise<Outcome> {
  const post = await request(`/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: "POST", body: bytes, headers: octet(bytes.byteLength) });
  await expectStatus(post, "blob POST with digest", ...(bad ? [400, 202] : [201, 202]));
  if (!bad) expect(post.headers.get("Location"), "Location").not.toBeNull();
  if (post.status === 202) {
    const put = await request(withQuery(pathOf(post.headers.get("Location")!), { digest }), { method: "PUT", body: bytes, headers: octet(bytes.byteLength) });
    await expectStatus(put, "fallback PUT", bad ? 400 : 201);
    return "unsupported";
  }
  if (!bad) {
    verifyDigest(post, digest);
    await verifyLocation(post.headers.get("Location"), bytes);
  }
  return "pass";
}

/** POST (no body) then PUT ?digest= with the whole blob. */
export async function blobPostPut(repo: string, digest: string, bytes: Uint8Array, bad = false): Promise<void> {
  const post = await request(`/v2/${repo}/blobs/uploads/`, { method: "POST" });
  await expectStatus(post, "blob POST", 202);
  const location = post.headers.get("Location");
  expect(location, "Location").not.toBeNull();
  const put = await request(withQuery(pathOf(location!), { digest }), { method: "PUT", body: bytes, headers: octet(bytes.byteLength) });
  await expectStatus(put, "blob PUT", bad ? 400 : 201);
  if (bad) return;
  verifyDigest(put, digest);
  await verifyLocation(put.headers.get("Location"), bytes);
}

export interface ChunkedFlags {
  outOfOrder?: boolean;
  putLastChunk?: boolean;
  bad?: boolean;
}

/**
 * POST (Content-Length: 0), PATCH chunks of max(len/3+1, OCI-Chunk-Min-Length, 1024) bytes
 * with Content-Range, then PUT ?digest= (empty, or carrying the last chunk). Out of order: before
 * each chunk, one that skips ahead (or restarts at 0) must get 416, and GET on the session must
 * answer 204 with Range 0-<last byte>. Returns the OCI-Chunk-Min-Length header.
 */
export async function blobPatchChunked(repo: string, digest: string, bytes: Uint8Array, flags: ChunkedFlags = {}): Promise<string | null> {
  const post = await request(`/v2/${repo}/blobs/uploads/`, { method: "POST", headers: { "Content-Length": "0" } });
  await expectStatus(post, "blob POST", 202);
  const minHeader = post.headers.get("OCI-Chunk-Min-Length");
  let location = post.headers.get("Location");
  let chunkSize = Math.floor(bytes.byteLength / 3) + 1;
  if (minHeader !== null) chunkSize = Math.max(chunkSize, Number(minHeader));
  chunkSize = Math.min(Math.max(chunkSize, SUITE_CHUNK_MIN), bytes.byteLength);
  const send = (method: string, path: string, start: number, last: number) =>
    request(path, {
      method,
      body: bytes.slice(start, last + 1),
      headers: { ...octet(last - start + 1), "Content-Range": `${start}-${last}` },
    });
  let lastByte = -1;
  let closing: Response | null = null;
  while (lastByte < bytes.byteLength - 1) {
    expect(location, "Location").not.toBeNull();
    let path = pathOf(location!);
    if (flags.outOfOrder) {
      let badStart = lastByte + 1 + chunkSize;
      if (badStart >= bytes.byteLength) badStart = 0;
      const badLast = Math.min(badStart + chunkSize - 1, bytes.byteLength - 1);
      const putIt = flags.putLastChunk && badLast === bytes.byteLength - 1;
      if (putIt) path = withQuery(path, { digest });
      const wrong = await send(putIt ? "PUT" : "PATCH", path, badStart, badLast);
      await expectStatus(wrong, `out-of-order chunk ${badStart}-${badLast}`, 416);
      location = wrong.headers.get("Location") ?? location;
      const status = await request(path);
      await expectStatus(status, "GET upload status", 204);
      location = status.headers.get("Location") ?? location;
      const range = status.headers.get("Range") ?? "";
      expect(range.startsWith("0-"), `Range ${range} starts with 0-`).toBe(true);
      const end = Number(range.slice(2));
      expect(Number.isInteger(end), `Range ${range}`).toBe(true);
      if (lastByte >= 0) expect(end, "Range end after a 416").toBe(lastByte);
      path = pathOf(location!);
    }
    const start = lastByte + 1;
    lastByte = Math.min(start + chunkSize - 1, bytes.byteLength - 1);
    if (flags.putLastChunk && lastByte === bytes.byteLength - 1) {
      closing = await send("PUT", withQuery(path, { digest }), start, lastByte);
      await expectStatus(closing, "PUT with the last chunk", flags.bad ? 400 : 201);
    } else {
      const patch = await send("PATCH", path, start, lastByte);
      await expectStatus(patch, `PATCH ${start}-${lastByte}`, 202);
      location = patch.headers.get("Location");
    }
  }
  if (!flags.putLastChunk) {
    expect(location, "Location after the last PATCH").not.toBeNull();
    closing = await request(withQuery(pathOf(location!), { digest }), { method: "PUT", headers: octet(0) });
    await expectStatus(closing, "closing PUT", flags.bad ? 400 : 201);
  }
  if (!flags.bad) {
    verifyDigest(closing!, digest);
    await verifyLocation(closing!.headers.get("Location"), bytes);
  }
  return minHeader;
}

/** POST, one PATCH with the whole blob and no Content-Length (chunked transfer), empty PUT. */
export async function blobPatchStream(repo: string, digest: string, bytes: Uint8Array, bad = false): Promise<void> {
  const post = await request(`/v2/${repo}/blobs/uploads/`, { method: "POST", headers: { "Content-Length": "0" } });
  await expectStatus(post, "blob POST", 202);
  const patch = await request(pathOf(post.headers.get("Location")!), {
    method: "PATCH",
    body: streamOf(bytes),
    headers: { "Content-Type": "application/octet-stream" },
  });
  await expectStatus(patch, "streamed PATCH", 202);
  const location = patch.headers.get("Location");
  expect(location, "Location after PATCH").not.toBeNull();
  const put = await request(withQuery(pathOf(location!), { digest }), { method: "PUT", headers: octet(0) });
  await expectStatus(put, "closing PUT", bad ? 400 : 201);
  if (bad) return;
  expect(put.headers.get("Location"), "Location").not.toBeNull();
  verifyDigest(put, digest);
  await verifyLocation(put.headers.get("Location"), bytes);
}

/** POST ?mount=<digest>[&from=<source>]: 201 mounts; 202 falls back to PUT (unsupported). */
export async function blobMount(repo: string, source: string, digest: string, bytes: Uint8Array): Promise<Outcome> {
  const query = new URLSearchParams({ mount: digest, ...(source === "" ? {} : { from: source }) });
  const post = await request(`/v2/${repo}/blobs/uploads/?${query}`, { method: "POST" });
  await expectStatus(post, "mount POST", 201, 202);
  let location = post.headers.get("Location");
  expect(location, "Location").not.toBeNull();
  let answer = post;
  if (post.status === 202) {
    answer = await request(withQuery(pathOf(location!), { digest }), { method: "PUT", body: bytes, headers: octet(bytes.byteLength) });
    await expectStatus(answer, "fallback PUT", 201);
    location = answer.headers.get("Location");
  }
  verifyDigest(answer, digest);
  await verifyLocation(location, bytes);
  return post.status === 201 ? "pass" : "unsupported";
}

/** Any push API that works: POST+PUT. */
export async function pushBlobAny(repo: string, digest: string, bytes: Uint8Array): Promise<void> {
  await blobPostPut(repo, digest, bytes);
}

export async function blobHeadExists(repo: string, digest: string, bytes: Uint8Array | null): Promise<void> {
  const response = await request(`/v2/${repo}/blobs/${digest}`, { method: "HEAD" });
  await expectStatus(response, `HEAD blob ${digest}`, 200);
  expect((await response.arrayBuffer()).byteLength, "HEAD body").toBe(0);
  if (bytes !== null) expect(response.headers.get("Content-Length")).toBe(String(bytes.byteLength));
  verifyDigest(response, digest);
}

export async function blobGetExistsFull(repo: string, digest: string, bytes: Uint8Array): Promise<void> {
  const response = await request(`/v2/${repo}/blobs/${digest}`);
  await expectStatus(response, `GET blob ${digest}`, 200);
  expect(response.headers.get("Content-Length")).toBe(String(bytes.byteLength));
  verifyDigest(response, digest);
  expect(sameBytes(new Uint8Array(await response.arrayBuffer()), bytes), "blob body").toBe(true);
}

/** DELETE on a blob (202/404, 405 = unsupported), then HEAD must be 404 (atomic delete). */
export async function blobDelete(repo: string, digest: string): Promise<Outcome> {
  const response = await request(`/v2/${repo}/blobs/${digest}`, { method: "DELETE" });
  await expectStatus(response, `DELETE blob ${digest}`, 202, 404, 405);
  if (response.status === 405) return "unsupported";
  const head = await request(`/v2/${repo}/blobs/${digest}`, { method: "HEAD" });
  await expectStatus(head, `HEAD blob ${digest} after delete`, 404);
  return "pass";
}

const MANIFEST_ACCEPT = `${OCI_INDEX}, ${OCI_MANIFEST}`;

/**
 * PUT of a manifest (chunked transfer, as Go sends a body of unknown length): 201 with
 * Location, OCI-Subject for a manifest with a subject, Docker-Content-Digest (if sent) equal
 * to the digest; the Location then serves the exact bytes with their media type.
 */
export async function manifestPut(repo: string, reference: string, digest: string, bytes: Uint8Array, options: { bad?: boolean; query?: string } = {}): Promise<Response> {
  const mediaType = detectMediaType(bytes);
  const path = `/v2/${repo}/manifests/${reference}${options.query ?? ""}`;
  const put = await request(path, { method: "PUT", body: streamOf(bytes), headers: { "Content-Type": mediaType } });
  await expectStatus(put, `PUT manifest ${reference}`, options.bad ? 400 : 201);
  if (options.bad) return put;
  const subject = detectSubject(bytes);
  if (subject !== null) expect(put.headers.get("OCI-Subject"), "OCI-Subject").toBe(subject);
  verifyDigest(put, digest);
  const location = put.headers.get("Location");
  expect(location, "Location").not.toBeNull();
  const get = await request(pathOf(location!), { headers: { Accept: MANIFEST_ACCEPT } });
  await expectStatus(get, `GET ${location}`, 200);
  expect(get.headers.get("Content-Type")).toBe(mediaType);
  expect(get.headers.get("Content-Length")).toBe(String(bytes.byteLength));
  expect(sameBytes(new Uint8Array(await get.arrayBuffer()), bytes), "manifest at Location").toBe(true);
  return put;
}

/** GET (or HEAD) of a manifest by tag or digest: 200, media type, length, bytes, digest. */
export async function manifestExists(method: "GET" | "HEAD", repo: string, reference: string, digest: string, bytes: Uint8Array | null): Promise<void> {
  const response = await request(`/v2/${repo}/manifests/${reference}`, { method, headers: { Accept: MANIFEST_ACCEPT } });
  await expectStatus(response, `${method} manifest ${reference}`, 200);
  const body = new Uint8Array(await response.arrayBuffer());
  if (bytes !== null) {
    expect(response.headers.get("Content-Type")).toBe(detectMediaType(bytes));
    expect(response.headers.get("Content-Length")).toBe(String(bytes.byteLength));
    verifyDigest(response, digest);
  }
  if (method === "HEAD") expect(body.byteLength, "HEAD body").toBe(0);
  else if (bytes !== null) expect(sameBytes(body, bytes), "manifest body").toBe(true);
}

/** DELETE of a manifest or tag: 202/404, 400/405 = unsupported; then HEAD must be 404. */
export async function manifestDelete(repo: string, reference: string): Promise<Outcome> {
  const response = await request(`/v2/${repo}/manifests/${reference}`, { method: "DELETE" });
  await expectStatus(response, `DELETE manifest ${reference}`, 202, 404, 400, 405);
  if (response.status === 400 || response.status === 405) return "unsupported";
  const head = await request(`/v2/${repo}/manifests/${reference}`, { method: "HEAD", headers: { Accept: MANIFEST_ACCEPT } });
  await expectStatus(head, `HEAD ${reference} after delete`, 404);
  return "pass";
}

export interface ReferrersAnswer {
  manifests: Desc[];
  filtersApplied: boolean;
}

/** GET /referrers/<digest>[?artifactType=]: 200, Content-Type exactly the OCI index type, an index. */
export async function referrersList(repo: string, digest: string, artifactType?: string): Promise<ReferrersAnswer> {
  const query = artifactType === undefined ? "" : `?${new URLSearchParams({ artifactType })}`;
  const response = await request(`/v2/${repo}/referrers/${digest}${query}`);
  await expectStatus(response, `GET referrers of ${digest}`, 200);
  expect(response.headers.get("Content-Type"), "referrers Content-Type").toBe(OCI_INDEX);
  const index = (await response.json()) as { schemaVersion: number; mediaType: string; manifests: Desc[] };
  expect(index.mediaType).toBe(OCI_INDEX);
  expect(index.schemaVersion).toBe(2);
  const header = response.headers.get("OCI-Filters-Applied") ?? "";
  return { manifests: index.manifests, filtersApplied: header.split(",").some((f) => f.trim() === "artifactType") };
}

/** Whether a referrers entry matches an expected descriptor the way the suite compares them. */
export function sameReferrer(entry: Desc, goal: Desc): boolean {
  const annotations = goal.annotations ?? {};
  return (
    entry.digest === goal.digest &&
    entry.mediaType === goal.mediaType &&
    entry.size === goal.size &&
    (entry.artifactType ?? "") === (goal.artifactType ?? "") &&
    Object.entries(annotations).every(([k, v]) => entry.annotations?.[k] === v)
  );
}

/** GET /tags/list: 200 with a tag list, or 404 (empty repository). */
export async function tagList(repo: string, params: Record<string, string> = {}): Promise<string[]> {
  const query = Object.keys(params).length === 0 ? "" : `?${new URLSearchParams(params)}`;
  const response = await request(`/v2/${repo}/tags/list${query}`);
  await expectStatus(response, "GET tags/list", 200, 404);
  if (response.status === 404) return [];
  return ((await response.json()) as { tags: string[] | null }).tags ?? [];
}

/** Pushes every blob, every manifest by digest (in order), then every tag. */
export async function pushDataSet(repo: string, td: TestData): Promise<void> {
  for (const [digest, bytes] of td.blobs) await pushBlobAny(repo, digest, bytes);
  for (const digest of td.manOrder) await manifestPut(repo, digest, digest, td.manifests.get(digest)!);
  for (const [tag, digest] of td.tags) await manifestPut(repo, tag, digest, td.manifests.get(digest)!);
}

// ---- The legacy (ginkgo) suite's setup steps -----------------------------------------------

/** POST, then PUT ?digest= with the whole blob (the legacy setup push): any 2xx passes. */
export async function legacySetupBlob(repo: string, blob: { bytes: Uint8Array; digest: string }): Promise<void> {
  const post = await request(`/v2/${repo}/blobs/uploads/`, { method: "POST" });
  const put = await request(withQuery(pathOf(post.headers.get("Location") ?? ""), { digest: blob.digest }), {
    method: "PUT",
    body: blob.bytes,
    headers: octet(blob.bytes.byteLength),
  });
  await expectStatus(put, `setup PUT of blob ${blob.digest}`, 200, 201, 202, 204);
}

/** PUT of a manifest in a legacy setup step (Content-Length known): any 2xx passes. */
export async function legacySetupManifest(repo: string, reference: string, bytes: Uint8Array, contentType = OCI_MANIFEST): Promise<Response> {
  const put = await request(`/v2/${repo}/manifests/${reference}`, { method: "PUT", body: bytes, headers: { "Content-Type": contentType } });
  await expectStatus(put, `setup PUT of manifest ${reference}`, 200, 201, 202, 204);
  return put;
}

/** A teardown DELETE: 2xx, or one of the extra codes the step accepts. */
export async function legacyDelete(path: string, ...extra: number[]): Promise<void> {
  const response = await request(path, { method: "DELETE" });
  if (!(response.status >= 200 && response.status < 300) && !extra.includes(response.status)) {
    expect.fail(`DELETE ${path}: got ${response.status} ${await response.text()}`);
  }
}

/** The error codes the legacy suite knows; a 400 body's first code must be one of them. */
export const LEGACY_ERROR_CODES = [
  "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN",
  "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "MANIFEST_UNVERIFIED", "NAME_INVALID", "NAME_UNKNOWN",
  "SIZE_INVALID", "TAG_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED",
];

// ---- One data set through the current suite's list / head / pull / delete steps -------------

/** Tag list holds every tag; with last=<middle tag> only the tags after it (byte order). */
export async function listDataSet(repo: string, td: TestData): Promise<void> {
  const tags = await tagList(repo);
  for (const tag of td.tags.keys()) expect(tags, "tag list").toContain(tag);
  if (tags.length < 2) return;
  const sorted = [...tags].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const end = Math.floor(sorted.length / 2);
  const partial = await tagList(repo, { last: sorted[end - 1]! });
  for (const tag of sorted.slice(0, end)) expect(partial, `after last=${sorted[end - 1]}`).not.toContain(tag);
  for (const tag of sorted.slice(end)) expect(partial, `after last=${sorted[end - 1]}`).toContain(tag);
}

export async function headAndPullDataSet(repo: string, td: TestData, skipManifests: string[] = []): Promise<void> {
  for (const method of ["HEAD", "GET"] as const) {
    for (const [tag, digest] of td.tags) await manifestExists(method, repo, tag, digest, td.manifests.get(digest)!);
    for (const digest of td.manOrder.filter((d) => !skipManifests.includes(d))) await manifestExists(method, repo, digest, digest, td.manifests.get(digest)!);
  }
  for (const [digest, bytes] of td.blobs) {
    await blobHeadExists(repo, digest, bytes.byteLength > 0 ? bytes : null);
    await blobGetExistsFull(repo, digest, bytes);
  }
}

/** Tags (each then 404), manifests in reverse push order (each then 404), then blobs. */
export async function deleteDataSet(repo: string, td: TestData): Promise<Outcome> {
  const outcomes: Outcome[] = [];
  for (const tag of td.tags.keys()) outcomes.push(await manifestDelete(repo, tag));
  for (const digest of [...td.manOrder].reverse()) outcomes.push(await manifestDelete(repo, digest));
  for (const digest of td.blobs.keys()) outcomes.push(await blobDelete(repo, digest));
  return outcomes.every((o) => o === "pass") ? "pass" : "unsupported";
}
