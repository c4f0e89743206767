// What a copy does when something is wrong (worker/replication/copy-artifact.ts): a source
// that lies about bytes, an artifact the source lost, a destination that refuses. A failed copy
// never leaves a manifest pointing at nothing, and never stores bytes that do not match their
// digest; the error says what and where.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Digest } from "../../worker/oci/digest";
import { copyArtifact, type CopyOptions } from "../../worker/replication/copy-artifact";
import type { Endpoint } from "../../worker/replication/endpoint";
import { MT_OCTET, TestData } from "../helpers/conformance-data";
import { rowCount } from "../helpers/gc";
import { newProject, refusal } from "../helpers/identities";
import { apiJson } from "../helpers/management";
import { copyOptions, MemoryEndpoint, pier, recording, writesOf } from "../helpers/memory-endpoint";
import { bytesOf, pushImage } from "../helpers/registry";

function copy(source: Endpoint, from: string, reference: string, target: Endpoint, to: string, options: CopyOptions = copyOptions()) {
  return copyArtifact(source, target, { repository: from, reference }, { repository: to }, options);
}

/** An image of fresh random bytes (config and two 2 KiB layers) in a memory registry's library/app. */
async function remoteImage(): Promise<{ remote: MemoryEndpoint; td: TestData; digest: string; layers: string[] }> {
  const td = new TestData("remote");
  const digest = await td.genManifestFull({ tag: "v1", layerCount: 2, layerMediaType: MT_OCTET });
  const remote = new MemoryEndpoint("remote-registry");
  await remote.load("library/app", td);
  const layers = [...td.blobs.entries()].filter(([, bytes]) => bytes.byteLength === 2048).map(([blob]) => blob);
  return { remote, td, digest, layers };
}

/** No manifest, no tag, and (for each digest) no link, no record, no stored object. */
async function expectNothingAt(repository: string, digests: string[]): Promise<void> {
  expect(await pier().listTags(repository)).toEqual([]);
  for (const digest of digests) {
    expect(await pier().hasBlob(repository, digest as Digest)).toBe(false);
    expect(await rowCount("blobs", "digest = ?", digest)).toBe(0);
    expect((await env.BLOBS.list({ prefix: `blobs/sha256/${digest.slice(7)}/` })).objects).toEqual([]);
  }
}

describe("a copy that fails", () => {
  it("stores nothing of a blob whose bytes do not match its digest, and names the source", async () => {
    const { remote, digest, layers } = await remoteImage();
    remote.lies.set(layers[0]!, crypto.getRandomValues(new Uint8Array(2048)));
    const to = `${await newProject()}/copy`;
    const error = await refusal(copy(remote, "library/app", "v1", pier(), to));
    expect(error.code).toBe("DIGEST_INVALID");
    expect(error.message).toContain("remote-registry");
    expect(error.message).toContain(layers[0]);
    await expectNothingAt(to, [layers[0]!]);
    expect(await pier().manifestDigest(to, digest)).toBeNull();
  });

  it("writes nothing when the source's manifest bytes do not match the digest it names", async () => {
    const { remote, digest } = await remoteImage();
    remote.manifestLies.set(digest, bytesOf(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: {}, layers: [] })));
    const target = recording(pier());
    const error = await refusal(copy(remote, "library/app", "v1", target.endpoint, `${await newProject()}/copy`));
    expect(error.code).toBe("DIGEST_INVALID");
    expect(error.message).toContain("remote-registry");
    expect(writesOf(target.calls)).toEqual([]);
  });

  it("is refused with BLOB_UNKNOWN naming the source when the source lacks a blob its manifest references", async () => {
    const { remote, layers } = await remoteImage();
    remote.blobs.delete(`library/app@${layers[1]}`);
    const to = `${await newProject()}/copy`;
    const error = await refusal(copy(remote, "library/app", "v1", pier(), to));
    expect(error.code).toBe("BLOB_UNKNOWN");
    expect(error.message).toContain("remote-registry");
    expect(await pier().listTags(to)).toEqual([]);
  });

  it("is refused with MANIFEST_BLOB_UNKNOWN when the source lacks a child its index lists, and the index is not put", async () => {
    const td = new TestData("partial");
    const index = await td.genIndexFull({ tag: "multi" });
    const remote = new MemoryEndpoint("remote-registry");
    await remote.load("library/app", td);
    remote.manifests.delete(`library/app@${td.manOrder[1]}`);
    const target = new MemoryEndpoint("target");
    const error = await refusal(copy(remote, "library/app", "multi", target, "mirror/app"));
    expect(error.code).toBe("MANIFEST_BLOB_UNKNOWN");
    expect(error.message).toContain(td.manOrder[1]);
    expect(await target.manifestDigest("mirror/app", index)).toBeNull();
    expect(await target.manifestDigest("mirror/app", "multi")).toBeNull();
  });

  it("surfaces a destination quota refusal as DENIED, with no manifest and the refused bytes not stored", async () => {
    const { remote, digest, layers } = await remoteImage();
    const project = await newProject();
    // Room for the config (a few hundred bytes), not for a 2 KiB layer.
    await apiJson(`/projects/${project}`, { method: "PATCH", body: { storageLimitBytes: 1024 } });
    const to = `${project}/copy`;
    const error = await refusal(copy(remote, "library/app", "v1", pier(), to));
    expect(error.code).toBe("DENIED");
    expect(await pier().manifestDigest(to, digest)).toBeNull();
    await expectNothingAt(to, layers);
  });
});

describe("a copy whose artifact is gone", () => {
  it("answers null when the source no longer has the tag", async () => {
    const target = recording(pier());
    const repository = `${await newProject()}/app`;
    await pushImage(repository, "v1", { seed: 401 });
    expect(await copy(pier(), repository, "v2", target.endpoint, `${await newProject()}/copy`)).toBeNull();
    expect(writesOf(target.calls)).toEqual([]);
  });

  it("answers null when the source no longer has the digest", async () => {
    const { remote, digest } = await remoteImage();
    remote.manifests.delete(`library/app@${digest}`);
    expect(await copy(remote, "library/app", digest, pier(), `${await newProject()}/copy`)).toBeNull();
  });
});
