// The fake remote registries behave as the replication tests assume: plain fetch from inside
// workerd straight at them (no Pier in between), one registry of its own per test.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  clearLog,
  closeRemote,
  createRemote,
  failNext,
  openUploads,
  pushAuthorization,
  random,
  type Remote,
  remoteAuthorization,
  remoteBlob,
  remoteBlobDigests,
  remoteLog,
  remoteManifest,
  remoteTags,
  seedBlob,
  seedImage,
  SIGNATURE_TYPE,
  TOKEN_SERVICE,
} from "../helpers/fake-remote";
import { digestOf, errorCode, jsonBytes, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST } from "../helpers/registry";

const REPO = "team/app";

/** The parameters of a `Bearer realm="…",service="…",scope="…"` challenge. */
function challenge(response: Response): Record<string, string> {
  const header = response.headers.get("WWW-Authenticate") ?? "";
  expect(header).toMatch(/^Bearer /);
  return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1]!, match[2]!]));
}

/** Opens an upload session; returns its Location as an absolute URL. */
async function openSession(remote: Remote, headers: Record<string, string>): Promise<URL> {
  const response = await fetch(`${remote.url}/v2/${REPO}/blobs/uploads/`, { method: "POST", headers });
  expect(response.status).toBe(202);
  return new URL(response.headers.get("Location")!, remote.url);
}

function withDigest(location: URL, digest: string): URL {
  const url = new URL(location);
  url.searchParams.set("digest", digest);
  return url;
}

/** An image manifest over one config and one layer (their digests; sizes do not matter here). */
function manifestOver(config: string, layer: string, extra: Record<string, unknown> = {}): Uint8Array {
  return jsonBytes({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: config, size: 2 },
    layers: [{ mediaType: OCI_LAYER, digest: layer, size: 1 }],
    ...extra,
  });
}

describe("auth", () => {
  it("token: pulls with an anonymous token; a push needs the push credentials at the realm", async () => {
    const remote = await createRemote({ separateRealm: true });
    const image = await seedImage(remote.id, REPO, "v1");
    const refused = await fetch(`${remote.url}/v2/${REPO}/blobs/uploads/`, { method: "POST" });
    expect(refused.status).toBe(401);
    const params = challenge(refused);
    expect(params).toEqual({ realm: `${remote.realm}/token`, service: TOKEN_SERVICE, scope: `repository:${REPO}:pull,push` });

    const anonymous = await fetch(`${params.realm}?service=${params.service}&scope=${params.scope}`);
    const { token } = (await anonymous.json()) as { token: string };
    const bearer = { Authorization: `Bearer ${token}` };
    expect((await fetch(`${remote.url}/v2/${REPO}/manifests/v1`, { headers: bearer })).status).toBe(200);
    expect((await fetch(`${remote.url}/v2/${REPO}/blobs/uploads/`, { method: "POST", headers: bearer })).status).toBe(401);
    expect((await fetch(`${remote.url}/v2/other/repo/manifests/${image.digest}`, { headers: bearer })).status).toBe(401);

    const wrong = await fetch(`${params.realm}?scope=${params.scope}`, { headers: { Authorization: `Basic ${btoa("pusher:nope")}` } });
    expect(wrong.status).toBe(401);
    await openSession(remote, await remoteAuthorization(remote, REPO));
  });

  it("basic: the push credentials on every request, the version check included", async () => {
    const remote = await createRemote({ auth: "basic" });
    expect((await fetch(`${remote.url}/v2/`)).headers.get("WWW-Authenticate")).toBe('Basic realm="fake-remote"');
    expect((await fetch(`${remote.url}/v2/`, { headers: { Authorization: pushAuthorization() } })).status).toBe(200);
  });

  it("logs each request's origin, auth scheme and user, status and body bytes", async () => {
    const remote = await createRemote({ separateRealm: true, redirectBlobs: true });
    const image = await seedImage(remote.id, REPO, "v1");
    const headers = await remoteAuthorization(remote, REPO, "pull");
    const blob = await fetch(`${remote.url}/v2/${REPO}/blobs/${image.images[0]!.layers[0]!.digest}`, { headers });
    expect(blob.url.startsWith(remote.cdn!)).toBe(true);
    expect(await blob.arrayBuffer()).toEqual(image.images[0]!.layers[0]!.bytes.buffer);
    const log = await remoteLog(remote.id);
    expect(log.map(({ server, method, authScheme, authUser, status }) => ({ server, method, authScheme, authUser, status }))).toEqual([
      { server: "realm", method: "GET", authScheme: "Basic", authUser: "pusher", status: 200 },
      { server: "registry", method: "GET", authScheme: "Bearer", authUser: null, status: 307 },
      { server: "cdn", method: "GET", authScheme: null, authUser: null, status: 200 },
    ]);
    expect(log.map((entry) => `http://${entry.host}`)).toEqual([remote.realm, remote.url, remote.cdn]);
    await clearLog(remote.id);
    expect(await remoteLog(remote.id)).toEqual([]);
  });
});

describe("blob pushes", () => {
  it("chunks within OCI-Chunk-Max-Length, in order, finish byte-identical", async () => {
    const remote = await createRemote({ auth: "none", chunkMaxLength: 1000, chunkMinLength: 100 });
    const bytes = random(2500);
    const digest = await digestOf(bytes);
    const opened = await fetch(`${remote.url}/v2/${REPO}/blobs/uploads/`, { method: "POST" });
    expect(opened.headers.get("OCI-Chunk-Max-Length")).toBe("1000");
    expect(opened.headers.get("OCI-Chunk-Min-Length")).toBe("100");
    let location = new URL(opened.headers.get("Location")!);
    for (const start of [0, 1000]) {
      const chunk = await fetch(location, { method: "PATCH", body: bytes.slice(start, start + 1000), headers: { "Content-Range": `${start}-${start + 999}` } });
      expect(chunk.status).toBe(202);
      expect(chunk.headers.get("Range")).toBe(`0-${start + 999}`);
      location = new URL(chunk.headers.get("Location")!);
    }
    const tooLong = await fetch(location, { method: "PATCH", body: random(1001), headers: { "Content-Range": "2000-3000" } });
    expect(tooLong.status).toBe(413);
    const wrongOffset = await fetch(location, { method: "PATCH", body: bytes.slice(1000, 1500), headers: { "Content-Range": "1000-1499" } });
    expect(wrongOffset.status).toBe(416);
    expect(wrongOffset.headers.get("Range")).toBe("0-1999");
    const done = await fetch(withDigest(location, digest), { method: "PUT", body: bytes.slice(2000), headers: { "Content-Range": "2000-2499" } });
    expect(done.status).toBe(201);
    expect(done.headers.get("Docker-Content-Digest")).toBe(digest);
    expect(await remoteBlob(remote.id, REPO, digest)).toEqual(bytes);
    expect(await openUploads(remote.id)).toBe(0);
  });

  it("a wrong digest is 400 DIGEST_INVALID and leaves neither blob nor session", async () => {
    const remote = await createRemote({ auth: "none" });
    const location = await openSession(remote, {});
    const wrong = await digestOf(random(10));
    const done = await fetch(withDigest(location, wrong), { method: "PUT", body: random(10) });
    expect(done.status).toBe(400);
    expect(await errorCode(done)).toBe("DIGEST_INVALID");
    expect(await remoteBlobDigests(remote.id, REPO)).toEqual([]);
    expect(await openUploads(remote.id)).toBe(0);
  });

  it("a session's Location must be used as given (its _state)", async () => {
    const remote = await createRemote({ auth: "none", relativeLocations: true });
    const location = await openSession(remote, {});
    expect(location.searchParams.get("_state")).not.toBeNull();
    location.search = "";
    expect((await fetch(location, { method: "PATCH", body: random(1) })).status).toBe(400);
  });

  it("monolithic: stored when offered, a session otherwise (and sha512 digests too)", async () => {
    const bytes = random(300);
    const digest = await digestOf(bytes, "sha512");
    const monolithic = await createRemote({ auth: "none" });
    const stored = await fetch(`${monolithic.url}/v2/${REPO}/blobs/uploads/?digest=${digest}`, { method: "POST", body: bytes });
    expect(stored.status).toBe(201);
    expect(await remoteBlobDigests(monolithic.id, REPO)).toEqual([digest]);

    const refusing = await createRemote({ auth: "none", monolithic: false });
    const session = await fetch(`${refusing.url}/v2/${REPO}/blobs/uploads/?digest=${digest}`, { method: "POST", body: bytes });
    expect(session.status).toBe(202);
    expect(await remoteBlobDigests(refusing.id, REPO)).toEqual([]);
    expect((await remoteLog(refusing.id))[0]!.bodyBytes).toBe(300);
  });

  it("mount: 201 when `from` holds the blob, a session when not or when mounts are off", async () => {
    const remote = await createRemote();
    const digest = await seedBlob(remote.id, "team/base", random(100));
    const headers = await remoteAuthorization(remote, REPO);
    const mount = (from: string) => fetch(`${remote.url}/v2/${REPO}/blobs/uploads/?mount=${digest}&from=${from}`, { method: "POST", headers });
    expect((await mount("team/elsewhere")).status).toBe(202);
    // The token grants nothing on team/base: distribution then uploads instead of mounting.
    expect((await mount("team/base")).status).toBe(202);
    const scoped = await fetch(`${remote.realm}/token?scope=repository:${REPO}:pull,push&scope=repository:team/base:pull`, { headers: { Authorization: pushAuthorization() } });
    const both = { Authorization: `Bearer ${((await scoped.json()) as { token: string }).token}` };
    const mounted = await fetch(`${remote.url}/v2/${REPO}/blobs/uploads/?mount=${digest}&from=team/base`, { method: "POST", headers: both });
    expect(mounted.status).toBe(201);
    expect(await remoteBlobDigests(remote.id, REPO)).toEqual([digest]);

    const noMounts = await createRemote({ auth: "none", mount: false });
    const other = await seedBlob(noMounts.id, "team/base", random(100));
    expect((await fetch(`${noMounts.url}/v2/${REPO}/blobs/uploads/?mount=${other}&from=team/base`, { method: "POST" })).status).toBe(202);
  });
});

describe("manifests", () => {
  it("a PUT by tag stores the exact bytes; one naming a missing blob is 400 MANIFEST_BLOB_UNKNOWN", async () => {
    const remote = await createRemote({ auth: "none" });
    const config = await seedBlob(remote.id, REPO, jsonBytes({}));
    const layer = await seedBlob(remote.id, REPO, random(1));
    const missing = manifestOver(config, await digestOf(random(1)));
    const refused = await fetch(`${remote.url}/v2/${REPO}/manifests/v1`, { method: "PUT", body: missing, headers: { "Content-Type": OCI_MANIFEST } });
    expect(refused.status).toBe(400);
    expect(await errorCode(refused)).toBe("MANIFEST_BLOB_UNKNOWN");
    expect(await remoteTags(remote.id, REPO)).toEqual({});

    const bytes = manifestOver(config, layer);
    const stored = await fetch(`${remote.url}/v2/${REPO}/manifests/v1`, { method: "PUT", body: bytes, headers: { "Content-Type": OCI_MANIFEST } });
    expect(stored.status).toBe(201);
    const digest = await digestOf(bytes);
    expect(stored.headers.get("Docker-Content-Digest")).toBe(digest);
    expect(await remoteManifest(remote.id, REPO, "v1")).toEqual({ bytes, mediaType: OCI_MANIFEST, digest });
  });

  it("an index needs its children; a PUT by digest must match the bytes", async () => {
    const remote = await createRemote({ auth: "none" });
    const child = await seedImage(remote.id, REPO, "child");
    const orphan = jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: await digestOf(random(5)), size: 5 }] });
    const put = (reference: string, body: Uint8Array) => fetch(`${remote.url}/v2/${REPO}/manifests/${reference}`, { method: "PUT", body, headers: { "Content-Type": OCI_INDEX } });
    expect(await errorCode(await put("multi", orphan))).toBe("MANIFEST_BLOB_UNKNOWN");
    const index = jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: child.digest, size: child.bytes.byteLength }] });
    const mislabelled = await put(await digestOf(random(5)), index);
    expect(mislabelled.status).toBe(400);
    expect(await errorCode(mislabelled)).toBe("DIGEST_INVALID");
    expect((await put(await digestOf(index), index)).status).toBe(201);
  });

  it("DELETE by digest removes the manifest and its tags; by tag only the tag", async () => {
    const remote = await createRemote();
    const image = await seedImage(remote.id, REPO, "v1");
    const headers = await remoteAuthorization(remote, REPO);
    expect((await fetch(`${remote.url}/v2/${REPO}/manifests/v1`, { method: "DELETE", headers })).status).toBe(202);
    expect(await remoteManifest(remote.id, REPO, image.digest)).not.toBeNull();
    expect((await fetch(`${remote.url}/v2/${REPO}/manifests/${image.digest}`, { method: "DELETE", headers })).status).toBe(202);
    expect(await remoteManifest(remote.id, REPO, image.digest)).toBeNull();
    expect((await fetch(`${remote.url}/v2/${REPO}/manifests/${image.digest}`, { method: "DELETE", headers })).status).toBe(404);
  });
});

describe("listings and referrers", () => {
  it("referrers API lists the seeded referrer of a multi-platform index, OCI-Subject on its PUT", async () => {
    const remote = await createRemote({ auth: "none" });
    const image = await seedImage(remote.id, REPO, "v1", { platforms: [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }], referrer: true });
    const listed = await fetch(`${remote.url}/v2/${REPO}/referrers/${image.digest}`);
    expect(listed.headers.get("Content-Type")).toBe(OCI_INDEX);
    const body = (await listed.json()) as { manifests: { digest: string; artifactType: string }[] };
    expect(body.manifests.map(({ digest, artifactType }) => ({ digest, artifactType }))).toEqual([{ digest: image.referrer!.digest, artifactType: SIGNATURE_TYPE }]);
    expect(image.manifestDigests).toHaveLength(4);

    const again = await fetch(`${remote.url}/v2/${REPO}/manifests/${image.referrer!.digest}`, { method: "PUT", body: image.referrer!.bytes, headers: { "Content-Type": OCI_MANIFEST } });
    expect(again.headers.get("OCI-Subject")).toBe(image.digest);
  });

  it("without the referrers API: 404, and the seed lists the referrer under the tag schema", async () => {
    const remote = await createRemote({ auth: "none", referrersApi: false });
    const image = await seedImage(remote.id, REPO, "v1", { referrer: true });
    expect((await fetch(`${remote.url}/v2/${REPO}/referrers/${image.digest}`)).status).toBe(404);
    const fallback = await remoteManifest(remote.id, REPO, image.digest.replace(":", "-"));
    expect(JSON.parse(new TextDecoder().decode(fallback!.bytes)).manifests[0].digest).toBe(image.referrer!.digest);
  });

  it("tags and the catalog page with n/last and a Link header; no catalog when disabled", async () => {
    const remote = await createRemote({ auth: "none" });
    for (const tag of ["a", "b", "c"]) await seedImage(remote.id, REPO, tag);
    await seedImage(remote.id, "team/zeta", "z");
    const tags = await fetch(`${remote.url}/v2/${REPO}/tags/list?n=2`);
    expect(await tags.json()).toEqual({ name: REPO, tags: ["a", "b"] });
    expect(tags.headers.get("Link")).toBe(`</v2/${REPO}/tags/list?n=2&last=b>; rel="next"`);
    expect(await (await fetch(`${remote.url}/v2/${REPO}/tags/list?n=2&last=b`)).json()).toEqual({ name: REPO, tags: ["c"] });
    const catalog = await fetch(`${remote.url}/v2/_catalog?n=1`);
    expect(await catalog.json()).toEqual({ repositories: [REPO] });
    expect(catalog.headers.get("Link")).toBe(`</v2/_catalog?n=1&last=${encodeURIComponent(REPO)}>; rel="next"`);

    const hub = await createRemote({ auth: "none", catalog: false });
    expect((await fetch(`${hub.url}/v2/_catalog`)).status).toBe(404);
  });
});

describe("faults and isolation", () => {
  it("the next N matching requests get the scripted status, then the remote behaves", async () => {
    const remote = await createRemote({ auth: "none" });
    const image = await seedImage(remote.id, REPO, "v1");
    await failNext(remote.id, { method: "GET", path: /\/manifests\//, status: 429, headers: { "Retry-After": "1" }, count: 2 });
    const url = `${remote.url}/v2/${REPO}/manifests/v1`;
    expect((await fetch(url, { method: "HEAD" })).status).toBe(200);
    for (let attempt = 0; attempt < 2; attempt++) {
      const limited = await fetch(url);
      expect(limited.status).toBe(429);
      expect(limited.headers.get("Retry-After")).toBe("1");
    }
    expect((await fetch(url)).headers.get("Docker-Content-Digest")).toBe(image.digest);
  });

  it("a dropped connection fails the request", async () => {
    const remote = await createRemote({ auth: "none" });
    await failNext(remote.id, { path: "^/v2/$", drop: true });
    await expect(fetch(`${remote.url}/v2/`)).rejects.toThrow();
    expect((await fetch(`${remote.url}/v2/`)).status).toBe(200);
  });

  it("registries share nothing, and a control mistake is refused with its reason", async () => {
    const [one, two] = [await createRemote(), await createRemote()];
    await seedImage(one.id, REPO, "v1");
    expect(await remoteTags(two.id, REPO)).toEqual({});
    expect(await remoteLog(two.id)).toEqual([]);
    const typo = await fetch(`${env.FAKE_REMOTE_CONTROL}/registries`, { method: "POST", body: JSON.stringify({ referrerApi: false }) });
    expect(typo.status).toBe(400);
    expect(await typo.text()).toContain('unknown option \\"referrerApi\\"');
  });

  it("a closed registry refuses connections", async () => {
    const remote = await createRemote({ auth: "none" });
    expect((await fetch(`${remote.url}/v2/`)).status).toBe(200);
    await closeRemote(remote.id);
    await expect(fetch(`${remote.url}/v2/`)).rejects.toThrow();
  });
});
