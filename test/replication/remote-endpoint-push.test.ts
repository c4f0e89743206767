// A remote registry as a replication destination (worker/replication/remote-endpoint.ts and
// remote-push.ts): blobs monolithic when they fit, in chunks within OCI-Chunk-Max-Length (and
// Pier's own body limit) when not, mounted when the copy names a repository that has them;
// manifests with their exact bytes; bodies sent once, with a token fetched before them.
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { UpstreamError } from "../../worker/proxy/upstream-client";
import { remoteEndpoint } from "../../worker/replication/remote-endpoint";
import { failNext, random, remoteBlob, remoteLog, remoteManifest, seedBlob } from "../helpers/fake-remote";
import { blobSource, digestFor, registeredRemote, registerRemote, rejectionOf } from "../helpers/remote-registries";
import { BODY_CAP, jsonBytes, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, sameBytes } from "../helpers/registry";

const KiB = 1024;

describe("pushing a blob", () => {
  it("sends one that fits in one monolithic PUT after the POST, byte for byte", async () => {
    const { remote, endpoint } = await registeredRemote();
    const bytes = random(200 * KiB);
    const digest = await digestFor(bytes);
    expect(await endpoint.putBlob("team/app", digest, blobSource(bytes).read, null)).toEqual({ transferred: true });
    expect(sameBytes((await remoteBlob(remote.id, "team/app", digest))!, bytes)).toBe(true);
    const uploads = (await remoteLog(remote.id, { server: "registry" })).filter((entry) => entry.path.includes("/blobs/uploads/") && entry.status !== 401);
    expect(uploads.map((entry) => [entry.method, entry.bodyBytes])).toEqual([
      ["POST", 0],
      ["PUT", bytes.byteLength],
    ]);
  });

  it("sends a larger one in PATCHes of exactly OCI-Chunk-Max-Length (the last shorter) and a closing PUT", async () => {
    const max = 64 * KiB;
    const { remote, endpoint } = await registeredRemote({ chunkMaxLength: max, chunkMinLength: 16 * KiB });
    const bytes = random(3 * max + 1234);
    const digest = await digestFor(bytes);
    // Source pieces larger than a chunk, and not aligned with it: chunks are cut across them.
    expect(await endpoint.putBlob("team/app", digest, blobSource(bytes, 100 * KiB).read, null)).toEqual({ transferred: true });
    expect(sameBytes((await remoteBlob(remote.id, "team/app", digest))!, bytes)).toBe(true);
    const log = await remoteLog(remote.id, { server: "registry" });
    expect(log.filter((entry) => entry.method === "PATCH").map((entry) => [entry.status, entry.bodyBytes])).toEqual([
      [202, max],
      [202, max],
      [202, max],
      [202, 1234],
    ]);
    expect(log.filter((entry) => entry.method === "PUT").map((entry) => [entry.status, entry.bodyBytes])).toEqual([[201, 0]]);
  });

  it("keeps every chunk within Pier's own body limit when the remote names none", { timeout: 60_000 }, async () => {
    const { remote, endpoint } = await registeredRemote({ auth: "none" }, { credentials: null });
    const bytes = random(BODY_CAP + 100 * KiB);
    const digest = await digestFor(bytes);
    await endpoint.putBlob("team/big", digest, blobSource(bytes, 1024 * KiB).read, null);
    const bodies = (await remoteLog(remote.id, { server: "registry" })).filter((entry) => entry.bodyBytes > 0).map((entry) => entry.bodyBytes);
    expect(bodies).toEqual([BODY_CAP, 100 * KiB]);
    expect(sameBytes((await remoteBlob(remote.id, "team/big", digest))!, bytes)).toBe(true);
  });

  it("works with relative upload Locations", async () => {
    const { remote, endpoint } = await registeredRemote({ relativeLocations: true, chunkMaxLength: 32 * KiB });
    const bytes = random(80 * KiB);
    const digest = await digestFor(bytes);
    await endpoint.putBlob("team/app", digest, blobSource(bytes).read, null);
    expect(sameBytes((await remoteBlob(remote.id, "team/app", digest))!, bytes)).toBe(true);
  });

  it("asks an anonymous registry's version check once, not before every chunk", async () => {
    const { remote, endpoint } = await registeredRemote({ auth: "none", chunkMaxLength: 4 * KiB }, { credentials: null });
    const bytes = random(20 * KiB);
    await endpoint.putBlob("team/app", await digestFor(bytes), blobSource(bytes).read, null);
    const log = await remoteLog(remote.id, { server: "registry" });
    expect(log.filter((entry) => entry.path === "/v2/")).toHaveLength(1);
    expect(log.filter((entry) => entry.method === "PATCH")).toHaveLength(5);
  });

  it("sends no credentials to an upload Location on another origin", async () => {
    const registry = `https://registry-${crypto.randomUUID().slice(0, 8)}.example.test`;
    const storage = "https://storage.example.test";
    const name = await registerRemote(registry);
    const endpoint = await remoteEndpoint(env, name);
    const seen: { url: string; authorization: string | null; bytes: number }[] = [];
    // A registry on another host, scripted in this isolate: Basic auth, uploads stored elsewhere.
    vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      const authorization = request.headers.get("Authorization");
      seen.push({ url: request.url, authorization, bytes: (await request.arrayBuffer()).byteLength });
      if (new URL(request.url).origin === storage) return new Response(null, { status: 201 });
      if (authorization === null) return new Response(null, { status: 401, headers: { "WWW-Authenticate": 'Basic realm="scripted"' } });
      return new Response(null, { status: 202, headers: { Location: `${storage}/upload/1?token=abc` } });
    });
    try {
      const bytes = random(100);
      await endpoint.putBlob("team/app", await digestFor(bytes), blobSource(bytes).read, null);
    } finally {
      vi.unstubAllGlobals();
    }
    expect(seen.map(({ url, authorization, bytes }) => [new URL(url).origin, authorization?.split(" ")[0] ?? null, bytes])).toEqual([
      [registry, null, 0],
      [registry, "Basic", 0],
      [storage, null, 100],
    ]);
  });

  it("mounts from the repository the copy names, without reading the source", async () => {
    const { remote, endpoint } = await registeredRemote();
    const bytes = random(50 * KiB);
    const digest = (await seedBlob(remote.id, "team/origin", bytes)) as Awaited<ReturnType<typeof digestFor>>;
    const source = blobSource(bytes);
    expect(await endpoint.putBlob("team/copy", digest, source.read, "team/origin")).toEqual({ transferred: false });
    expect(source.reads()).toBe(0);
    expect(sameBytes((await remoteBlob(remote.id, "team/copy", digest))!, bytes)).toBe(true);
    const log = await remoteLog(remote.id, { server: "registry" });
    expect(log.filter((entry) => entry.method === "POST" && entry.status === 201).map((entry) => entry.query)).toEqual([`?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent("team/origin")}`]);
    expect(log.some((entry) => entry.method === "PATCH" || entry.method === "PUT")).toBe(false);
  });

  it("uploads in the session a refused mount opened, reading the source once", async () => {
    const { remote, endpoint } = await registeredRemote({ mount: false });
    const bytes = random(10 * KiB);
    const digest = await digestFor(bytes);
    const source = blobSource(bytes);
    expect(await endpoint.putBlob("team/copy", digest, source.read, "team/elsewhere")).toEqual({ transferred: true });
    expect(source.reads()).toBe(1);
    const posts = (await remoteLog(remote.id, { server: "registry", method: "POST" })).filter((entry) => entry.status === 202);
    expect(posts).toHaveLength(1);
    expect(sameBytes((await remoteBlob(remote.id, "team/copy", digest))!, bytes)).toBe(true);
  });

  it("fails with the remote's DIGEST_INVALID when the bytes are not the digest's, and stores nothing", async () => {
    const { remote, endpoint } = await registeredRemote();
    const digest = await digestFor(random(100));
    const error = await rejectionOf(endpoint.putBlob("team/app", digest, blobSource(random(100)).read, null));
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).failure).toMatchObject({ kind: "status", status: 400, detail: expect.stringContaining("DIGEST_INVALID") });
    expect(await remoteBlob(remote.id, "team/app", digest)).toBeNull();
  });

  it("surfaces a 429 as an UpstreamError with status 429 and its Retry-After, without reading the source", async () => {
    const { remote, endpoint } = await registeredRemote();
    await failNext(remote.id, { method: "POST", path: "/blobs/uploads/", status: 429, headers: { "Retry-After": "30" } });
    const bytes = random(100);
    const source = blobSource(bytes);
    const error = await rejectionOf(endpoint.putBlob("team/app", await digestFor(bytes), source.read, null));
    expect((error as UpstreamError).failure).toMatchObject({ kind: "status", status: 429, retryAfter: "30" });
    expect(source.reads()).toBe(0);
  });

  it("never sends a body twice: a PATCH answered 401 fails the push instead of being repeated", async () => {
    const { remote, endpoint } = await registeredRemote({ chunkMaxLength: 8 * KiB });
    const challenge = `Bearer realm="${remote.realm}/token",service="fake-remote",scope="repository:team/app:pull,push"`;
    await failNext(remote.id, { method: "PATCH", path: "/blobs/uploads/", status: 401, headers: { "WWW-Authenticate": challenge } });
    const bytes = random(20 * KiB);
    const error = await rejectionOf(endpoint.putBlob("team/app", await digestFor(bytes), blobSource(bytes).read, null));
    expect((error as UpstreamError).failure).toMatchObject({ kind: "status", status: 401 });
    expect(await remoteLog(remote.id, { method: "PATCH" })).toHaveLength(1);
  });
});

describe("pushing a manifest", () => {
  async function pushImage(endpoint: Awaited<ReturnType<typeof registeredRemote>>["endpoint"]) {
    const layer = random(1000);
    const config = jsonBytes({ architecture: "amd64", os: "linux", nonce: crypto.randomUUID() });
    for (const bytes of [layer, config]) await endpoint.putBlob("team/app", await digestFor(bytes), blobSource(bytes).read, null);
    const bytes = jsonBytes({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: await digestFor(config), size: config.byteLength },
      layers: [{ mediaType: OCI_LAYER, digest: await digestFor(layer), size: layer.byteLength }],
    });
    return { digest: await digestFor(bytes), mediaType: OCI_MANIFEST, bytes };
  }

  it("puts the exact bytes and media type under a tag and under its digest", async () => {
    const { remote, endpoint } = await registeredRemote();
    const manifest = await pushImage(endpoint);
    await endpoint.putManifest("team/app", "v1", manifest);
    await endpoint.putManifest("team/app", manifest.digest, manifest);
    for (const reference of ["v1", manifest.digest]) {
      const stored = await remoteManifest(remote.id, "team/app", reference);
      expect(stored).toMatchObject({ mediaType: OCI_MANIFEST, digest: manifest.digest });
      expect(sameBytes(stored!.bytes, manifest.bytes)).toBe(true);
    }
    expect(await endpoint.manifestDigest("team/app", "v1")).toBe(manifest.digest);
  });

  it("learns the challenge with a body-less request first, then sends the manifest once, with a push token", async () => {
    const { remote, endpoint } = await registeredRemote();
    const bytes = jsonBytes({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [] });
    await endpoint.putManifest("team/app", "empty", { digest: await digestFor(bytes), mediaType: "application/vnd.oci.image.index.v1+json", bytes });
    const log = await remoteLog(remote.id);
    expect(log.map((entry) => [entry.method, entry.path, entry.authScheme, entry.status])).toEqual([
      ["GET", "/v2/", null, 401],
      ["GET", "/token", "Basic", 200],
      ["PUT", "/v2/team/app/manifests/empty", "Bearer", 201],
    ]);
    expect(new URLSearchParams(log[1]!.query).getAll("scope")).toEqual(["repository:team/app:pull,push"]);
  });

  it("fails with the remote's own words when it refuses the manifest (its blobs are missing)", async () => {
    const { endpoint } = await registeredRemote();
    const bytes = jsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: await digestFor(random(5)), size: 5 }, layers: [] });
    const error = await rejectionOf(endpoint.putManifest("team/app", "v1", { digest: await digestFor(bytes), mediaType: OCI_MANIFEST, bytes }));
    expect((error as UpstreamError).failure).toMatchObject({ kind: "status", status: 400, detail: expect.stringContaining("MANIFEST_BLOB_UNKNOWN") });
    expect((error as UpstreamError).message).toContain("MANIFEST_BLOB_UNKNOWN");
  });

  it("pushes to a Basic-auth remote with its credentials", async () => {
    const { remote, endpoint } = await registeredRemote({ auth: "basic" });
    const manifest = await pushImage(endpoint);
    await endpoint.putManifest("team/app", "v1", manifest);
    expect((await remoteManifest(remote.id, "team/app", "v1"))?.digest).toBe(manifest.digest);
  });
});
