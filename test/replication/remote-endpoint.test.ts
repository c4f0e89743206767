// A remote registry as a replication source (worker/replication/remote-endpoint.ts): listings
// through every page, manifests checked against their digests, blobs with their lengths,
// Docker Hub's names, and what the remote is asked (and with which credentials) along the way.
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { RegistryError } from "../../worker/errors";
import type { Digest } from "../../worker/oci/digest";
import { UpstreamError } from "../../worker/proxy/upstream-client";
import { remoteEndpoint } from "../../worker/replication/remote-endpoint";
import { failNext, random, remoteLog, remoteManifest, seedBlob, seedImage, seedManifest } from "../helpers/fake-remote";
import { registeredRemote, registerRemote, rejectionOf } from "../helpers/remote-registries";
import { digestOf, jsonBytes, OCI_MANIFEST, sameBytes } from "../helpers/registry";

describe("remoteEndpoint", () => {
  it("throws NAME_UNKNOWN for a registry Pier does not know", async () => {
    const error = await rejectionOf(remoteEndpoint(env, "no-such-registry"));
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).code).toBe("NAME_UNKNOWN");
  });

  it("refuses a repository name that is not one with NAME_INVALID, asking the remote nothing", async () => {
    const { remote, endpoint } = await registeredRemote();
    const error = await rejectionOf(endpoint.listTags("../etc"));
    expect((error as RegistryError).code).toBe("NAME_INVALID");
    expect(await remoteLog(remote.id)).toEqual([]);
  });
});

describe("listing a remote", () => {
  it("lists every repository of its catalog", async () => {
    const { remote, endpoint } = await registeredRemote();
    for (const repo of ["team/a", "team/b", "other/c"]) await seedImage(remote.id, repo, "v1");
    expect((await endpoint.listRepositories())?.sort()).toEqual(["other/c", "team/a", "team/b"]);
  });

  it("answers null, not a failure, for a remote without a catalog", async () => {
    const { endpoint } = await registeredRemote({ catalog: false });
    expect(await endpoint.listRepositories()).toBeNull();
  });

  it("answers null for a dockerhub registry without asking it (Docker Hub serves no catalog)", async () => {
    const { remote, endpoint } = await registeredRemote({}, { type: "dockerhub" });
    expect(await endpoint.listRepositories()).toBeNull();
    expect(await remoteLog(remote.id)).toEqual([]);
  });

  it("lists every tag of a repository, following the Link header past the first page", async () => {
    const { remote, endpoint } = await registeredRemote();
    const image = await seedImage(remote.id, "team/many", "seed");
    const tags = Array.from({ length: 1004 }, (_, index) => `t${String(index).padStart(4, "0")}`);
    for (let start = 0; start < tags.length; start += 100) {
      await Promise.all(tags.slice(start, start + 100).map((tag) => seedManifest(remote.id, "team/many", tag, image.bytes, image.mediaType)));
    }
    expect((await endpoint.listTags("team/many")).sort()).toEqual([...tags, "seed"].sort());
    expect((await remoteLog(remote.id, { server: "registry", method: "GET" })).filter((entry) => entry.path.endsWith("/tags/list")).length).toBeGreaterThan(1);
  });

  it("lists no tags for a repository the remote does not have", async () => {
    const { endpoint } = await registeredRemote();
    expect(await endpoint.listTags("team/nothing")).toEqual([]);
  });
});

describe("reading manifests", () => {
  it("gets a manifest by tag and by digest: its exact bytes, digest and media type", async () => {
    const { remote, endpoint } = await registeredRemote();
    const image = await seedImage(remote.id, "team/app", "v1");
    for (const reference of ["v1", image.digest]) {
      const manifest = await endpoint.getManifest("team/app", reference);
      expect(manifest).toMatchObject({ digest: image.digest, mediaType: OCI_MANIFEST });
      expect(sameBytes(manifest!.bytes, image.bytes)).toBe(true);
    }
  });

  it("answers null for a manifest the remote does not have", async () => {
    const { endpoint } = await registeredRemote();
    expect(await endpoint.getManifest("team/app", "missing")).toBeNull();
  });

  it.each([
    ["asked by digest", async (other: string) => other, null],
    ["announced in Docker-Content-Digest", async () => "v1", (other: string) => other],
  ] as const)("refuses bytes whose digest is not the one %s, as an unusable answer", async (_, reference, announced) => {
    const origin = `https://liar-${crypto.randomUUID().slice(0, 8)}.example.test`;
    const name = await registerRemote(origin, { credentials: null });
    const endpoint = await remoteEndpoint(env, name);
    const other = await digestOf(jsonBytes({ other: true }));
    const served = jsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: "a/b", digest: other, size: 1 }, layers: [] });
    // A registry on another host, scripted in this isolate: the fake remotes serve only true bytes.
    vi.stubGlobal("fetch", async () => new Response(served, { headers: { "Content-Type": OCI_MANIFEST, ...(announced && { "Docker-Content-Digest": announced(other) }) } }));
    try {
      const error = await rejectionOf(endpoint.getManifest("team/app", await reference(other)));
      expect(error).toBeInstanceOf(UpstreamError);
      expect((error as UpstreamError).failure).toMatchObject({ kind: "invalid", message: expect.stringContaining(other) });
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("resolves a tag's digest with one HEAD (no GET), and null for a missing one", async () => {
    const { remote, endpoint } = await registeredRemote({ auth: "none" }, { credentials: null });
    const image = await seedImage(remote.id, "team/app", "v1");
    expect(await endpoint.manifestDigest("team/app", "v1")).toBe(image.digest);
    expect((await remoteLog(remote.id, { server: "registry" })).map((entry) => entry.method)).toEqual(["HEAD"]);
    expect(await endpoint.manifestDigest("team/app", "v2")).toBeNull();
  });

  it("deletes a manifest by digest (a push-and-delete token), and says false when it is gone", async () => {
    const { remote, endpoint } = await registeredRemote();
    const image = await seedImage(remote.id, "team/app", "v1");
    expect(await endpoint.deleteManifest("team/app", image.digest)).toBe(true);
    expect(await remoteManifest(remote.id, "team/app", image.digest)).toBeNull();
    expect(await endpoint.deleteManifest("team/app", image.digest)).toBe(false);
  });

  it("reads Docker Hub's one-segment names under library/", async () => {
    const { remote, endpoint } = await registeredRemote({}, { type: "dockerhub" });
    const image = await seedImage(remote.id, "library/alpine", "3");
    expect((await endpoint.getManifest("alpine", "3"))?.digest).toBe(image.digest);
    expect(await endpoint.listTags("alpine")).toEqual(["3"]);
  });
});

describe("reading blobs", () => {
  it("says whether the repository has a blob (HEAD)", async () => {
    const { remote, endpoint } = await registeredRemote();
    const digest = (await seedBlob(remote.id, "team/app", random(100))) as Digest;
    expect(await endpoint.hasBlob("team/app", digest)).toBe(true);
    expect(await endpoint.hasBlob("team/other", digest)).toBe(false);
  });

  it("streams a blob with its size, and answers null for one it does not have", async () => {
    const { remote, endpoint } = await registeredRemote();
    const bytes = random(300_000);
    const digest = (await seedBlob(remote.id, "team/app", bytes)) as Digest;
    const blob = await endpoint.getBlob("team/app", digest);
    expect(blob?.size).toBe(bytes.byteLength);
    expect(sameBytes(new Uint8Array(await new Response(blob!.body).arrayBuffer()), bytes)).toBe(true);
    expect(await endpoint.getBlob("team/app", (await digestOf(random(10))) as Digest)).toBeNull();
  });

  it("refuses a blob answer without a Content-Length as an unusable answer", async () => {
    const name = await registerRemote(`https://chunked-${crypto.randomUUID().slice(0, 8)}.example.test`, { credentials: null });
    const endpoint = await remoteEndpoint(env, name);
    // A registry on another host, scripted in this isolate: a body of unknown length.
    vi.stubGlobal("fetch", async () => new Response(new Blob([random(10)]).stream()));
    try {
      const error = await rejectionOf(endpoint.getBlob("team/app", (await digestOf(random(10))) as Digest));
      expect((error as UpstreamError).failure).toMatchObject({ kind: "invalid", message: expect.stringContaining("Content-Length") });
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("follows a blob redirect to another origin without the registry's credentials", async () => {
    const { remote, endpoint } = await registeredRemote({ redirectBlobs: true, auth: "basic" });
    const bytes = random(1000);
    const digest = (await seedBlob(remote.id, "team/app", bytes)) as Digest;
    const blob = await endpoint.getBlob("team/app", digest);
    expect(sameBytes(new Uint8Array(await new Response(blob!.body).arrayBuffer()), bytes)).toBe(true);
    const cdn = await remoteLog(remote.id, { server: "cdn" });
    expect(cdn.length).toBe(1);
    expect(cdn[0]!.authScheme).toBeNull();
  });

  it("surfaces a 429 as an UpstreamError with status 429 and its Retry-After", async () => {
    const { remote, endpoint } = await registeredRemote();
    await failNext(remote.id, { method: "GET", path: "/manifests/", status: 429, headers: { "Retry-After": "7" } });
    const error = await rejectionOf(endpoint.getManifest("team/app", "v1"));
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).failure).toMatchObject({ kind: "status", status: 429, retryAfter: "7" });
  });
});
