// The copy engine (worker/replication/copy-artifact.ts): one artifact with everything it points
// at, from one endpoint to another. Between two projects of this Pier, from an in-memory
// registry into this Pier, and from this Pier into an in-memory registry that accepts a
// manifest only once what it points at is there.
import { describe, expect, it } from "vitest";
import { copyArtifact, type CopyResult, deleteArtifact } from "../../worker/replication/copy-artifact";
import type { Endpoint } from "../../worker/replication/endpoint";
import { headAndPullDataSet, pushDataSet } from "../helpers/conformance-api";
import { MT_LAYER_ND, MT_OCTET, TestData } from "../helpers/conformance-data";
import { newProject } from "../helpers/identities";
import { copyOptions, MemoryEndpoint, pier, recording, writesOf } from "../helpers/memory-endpoint";
import { expectSameBytes, OCI_CONFIG, pushImage, randomBytes } from "../helpers/registry";

const SIG = "application/vnd.example.signature";

/** A data set pushed to a new repository of this Pier. */
async function pushed(generate: (td: TestData) => Promise<unknown>): Promise<{ repository: string; td: TestData }> {
  const td = new TestData("copy");
  await generate(td);
  const repository = `${await newProject()}/app`;
  await pushDataSet(repository, td);
  return { repository, td };
}

async function destination(): Promise<string> {
  return `${await newProject()}/copy`;
}

function copy(source: Endpoint, from: string, reference: string, target: Endpoint, to: string, changes = {}): Promise<CopyResult | null> {
  return copyArtifact(source, target, { repository: from, reference }, { repository: to }, copyOptions(changes));
}

describe("a copy between two projects of this Pier", () => {
  it("copies an image: the destination serves the same manifest and blobs, byte for byte", async () => {
    const { repository, td } = await pushed((td) => td.genManifestFull({ tag: "v1" }));
    const to = await destination();
    const result = await copy(pier(), repository, "v1", pier(), to);
    expect(result).toEqual({ digest: td.tags.get("v1"), skipped: null, manifestsCopied: 1, manifestsSkipped: 0, blobsCopied: 3, blobsSkipped: 0, bytesCopied: 0 });
    await headAndPullDataSet(to, td);
  });

  it("copies a multi-platform index: each child with its blobs before it, the index last", async () => {
    const { repository, td } = await pushed((td) => td.genIndexFull({ tag: "multi" }));
    const to = await destination();
    const target = recording(pier());
    const result = await copy(pier(), repository, "multi", target.endpoint, to);
    expect(result).toMatchObject({ digest: td.tags.get("multi"), manifestsCopied: 3, blobsCopied: 6 });
    await headAndPullDataSet(to, td);
    const puts = target.calls.filter((call) => call.method === "putManifest").map((call) => call.target);
    expect(puts).toEqual([...td.manOrder.slice(0, 2), "multi"]);
  });

  it("a second copy reads no blob, writes nothing and says what it skipped", async () => {
    const { repository, td } = await pushed((td) => td.genIndexFull({ tag: "multi" }));
    const to = await destination();
    await copy(pier(), repository, "multi", pier(), to);
    const [source, target] = [recording(pier()), recording(pier())];
    const again = await copy(source.endpoint, repository, "multi", target.endpoint, to);
    expect(again).toEqual({ digest: td.tags.get("multi"), skipped: null, manifestsCopied: 0, manifestsSkipped: 1, blobsCopied: 0, blobsSkipped: 0, bytesCopied: 0 });
    expect(writesOf(target.calls)).toEqual([]);
    expect(source.calls.filter((call) => call.method === "getBlob")).toEqual([]);
  });

  it("keeps a tag the destination has on another digest when the policy does not override", async () => {
    const source = `${await newProject()}/app`;
    const to = await destination();
    const ours = await pushImage(source, "v1", { seed: 201 });
    const theirs = await pushImage(to, "v1", { seed: 202 });
    const result = await copy(pier(), source, "v1", pier(), to);
    expect(result!.digest).toBe(ours.digest);
    expect(result!.skipped).toContain(`tag v1 of ${to}`);
    expect(result!.skipped).toContain(theirs.digest);
    expect(result).toMatchObject({ manifestsCopied: 0, blobsCopied: 0 });
    expect(await pier().manifestDigest(to, "v1")).toBe(theirs.digest);
  });

  it("moves that tag when the policy overrides", async () => {
    const source = `${await newProject()}/app`;
    const to = await destination();
    const ours = await pushImage(source, "v1", { seed: 203 });
    await pushImage(to, "v1", { seed: 204 });
    const result = await copy(pier(), source, "v1", pier(), to, { override: true });
    expect(result).toMatchObject({ skipped: null, manifestsCopied: 1 });
    expect(await pier().manifestDigest(to, "v1")).toBe(ours.digest);
  });

  it("copies by digest without tagging, and later puts only the tag when the manifest is there", async () => {
    const { repository, td } = await pushed((td) => td.genManifestFull({ tag: "v1" }));
    const digest = td.tags.get("v1")!;
    const to = await destination();
    expect(await copy(pier(), repository, digest, pier(), to)).toMatchObject({ digest, manifestsCopied: 1, blobsCopied: 3 });
    expect(await pier().listTags(to)).toEqual([]);
    const target = recording(pier());
    expect(await copy(pier(), repository, "v1", target.endpoint, to)).toMatchObject({ manifestsCopied: 1, blobsCopied: 0, blobsSkipped: 0 });
    expect(writesOf(target.calls)).toEqual(["putManifest v1"]);
    expect(await pier().manifestDigest(to, "v1")).toBe(digest);
  });

  it("leaves non-distributable layers (with urls) where they are", async () => {
    const { repository, td } = await pushed(async (td) => {
      const foreign = await td.addBlob(randomBytes(512, 205), { descriptorMediaType: MT_LAYER_ND });
      const layer = await td.addBlob(randomBytes(512, 206), { descriptorMediaType: MT_OCTET });
      const config = await td.addBlob(new TextEncoder().encode('{"os":"linux"}'), { descriptorMediaType: OCI_CONFIG });
      td.blobs.delete(foreign);
      const nondistributable = { ...td.descriptor(foreign), urls: ["https://example.com/layer"] };
      await td.genManifest(td.descriptor(config), [nondistributable, td.descriptor(layer)], { tag: "v1" });
    });
    const to = await destination();
    expect(await copy(pier(), repository, "v1", pier(), to)).toMatchObject({ manifestsCopied: 1, blobsCopied: 2 });
    await headAndPullDataSet(to, td);
  });

  it("deletes a replicated tag or manifest, and says when it was not there", async () => {
    const repository = `${await newProject()}/app`;
    const image = await pushImage(repository, "v1", { seed: 207 });
    expect(await deleteArtifact(pier(), repository, "v1")).toBe(true);
    expect(await deleteArtifact(pier(), repository, "v1")).toBe(false);
    expect(await deleteArtifact(pier(), repository, image.digest)).toBe(true);
    expect(await pier().manifestDigest(repository, image.digest)).toBeNull();
  });
});

describe("the artifact types filter", () => {
  it("skips an image whose config media type is not listed, writing nothing", async () => {
    const { repository } = await pushed((td) => td.genManifestFull({ tag: "v1" }));
    const target = recording(pier());
    const result = await copy(pier(), repository, "v1", target.endpoint, await destination(), { artifactTypes: [SIG] });
    expect(result!.skipped).toBe(`artifact type ${OCI_CONFIG} is not among ${SIG}`);
    expect(writesOf(target.calls)).toEqual([]);
  });

  it("copies an artifact whose artifactType is listed", async () => {
    const { repository } = await pushed((td) => td.genManifestFull({ tag: "sig", artifactType: SIG, layerCount: 1, layerMediaType: MT_OCTET }));
    const result = await copy(pier(), repository, "sig", pier(), await destination(), { artifactTypes: [SIG] });
    expect(result).toMatchObject({ skipped: null, manifestsCopied: 1 });
  });

  it("copies an index without artifactType when one of its children's types is listed", async () => {
    const { repository } = await pushed((td) => td.genIndexFull({ tag: "multi" }));
    const result = await copy(pier(), repository, "multi", pier(), await destination(), { artifactTypes: [OCI_CONFIG] });
    expect(result).toMatchObject({ skipped: null, manifestsCopied: 3 });
  });
});

describe("a copy from another registry into this Pier", () => {
  it("streams the blobs this Pier does not hold and counts their bytes", async () => {
    const td = new TestData("remote");
    await td.genManifestFull({ tag: "v1", layerCount: 2, layerMediaType: MT_OCTET });
    const remote = new MemoryEndpoint();
    await remote.load("library/app", td);
    const to = await destination();
    const result = await copy(remote, "library/app", "v1", pier(), to, { bytesPerSecond: 1e12 });
    const total = [...td.blobs.values()].reduce((sum, bytes) => sum + bytes.byteLength, 0);
    expect(result).toMatchObject({ blobsCopied: 3, bytesCopied: total, manifestsCopied: 1 });
    await headAndPullDataSet(to, td);
  });
});

describe("a copy from this Pier into another registry", () => {
  it("puts every blob before the manifests that need them, so the remote never refuses one", async () => {
    const { repository, td } = await pushed((td) => td.genIndexFull({ tag: "multi" }));
    const remote = new MemoryEndpoint();
    const target = recording(remote);
    await copy(pier(), repository, "multi", target.endpoint, "mirror/app");
    expect(await remote.manifestDigest("mirror/app", "multi")).toBe(td.tags.get("multi"));
    for (const [digest, bytes] of td.blobs) expectSameBytes(remote.blobs.get(`mirror/app@${digest}`)!, bytes);
    expect(target.calls.filter((call) => call.method === "putBlob")).toHaveLength(td.blobs.size);
  });
});

