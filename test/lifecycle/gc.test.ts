// Garbage collection (issue 10): what a collection keeps and what it deletes, through the API.
// PIER_GC_GRACE_SECONDS is 0 in tests, so a run sees everything written before it as old.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { collect, finishGc, objectKeyOf, registryLock, rowCount } from "../helpers/gc";
import {
  bodyBytes,
  bytesOf,
  digestOf,
  jsonBytes,
  manifestDescriptor,
  OCI_CONFIG,
  OCI_INDEX,
  pushBlob,
  pushImage,
  pushManifest,
  pushReferrer,
  randomBytes,
  request,
  uniqueRepo,
} from "../helpers/registry";

async function pulls(repository: string, reference: string, bytes: Uint8Array): Promise<void> {
  const response = await request(`/v2/${repository}/manifests/${reference}`);
  expect(response.status).toBe(200);
  expect(await bodyBytes(response)).toEqual(bytes);
}

async function blobPulls(repository: string, digest: string): Promise<boolean> {
  const response = await request(`/v2/${repository}/blobs/${digest}`);
  await response.body?.cancel();
  return response.status === 200;
}

async function manifestStatus(repository: string, reference: string): Promise<number> {
  const response = await request(`/v2/${repository}/manifests/${reference}`, { method: "HEAD" });
  return response.status;
}

describe("a collection", () => {
  it("deletes a deleted manifest's layer, its link and its R2 object, and keeps a tagged image whole", async () => {
    const repository = uniqueRepo("gc");
    const kept = await pushImage(repository, "kept", { seed: 1 });
    const gone = await pushImage(repository, "gone", { seed: 2 });
    const goneKey = await objectKeyOf(gone.layer.digest);
    expect(goneKey).not.toBeNull();
    expect((await request(`/v2/${repository}/manifests/${gone.digest}`, { method: "DELETE" })).status).toBe(202);

    const run = await collect();

    expect(run.linksDeleted).toBe(2);
    // The layer and config of the deleted image, and its manifest's bytes.
    expect(run.blobsDeleted).toBe(3);
    expect(run.bytesFreed).toBe(gone.layer.size + gone.config.size + gone.bytes.byteLength);
    expect(await rowCount("blobs", "digest = ?", gone.layer.digest)).toBe(0);
    expect(await env.BLOBS.head(goneKey!)).toBeNull();
    await pulls(repository, "kept", kept.bytes);
    expect(await blobPulls(repository, kept.layer.digest)).toBe(true);
    expect(await blobPulls(repository, kept.config.digest)).toBe(true);
  });

  it("keeps a blob another repository still links, removing only the unused link", async () => {
    const first = uniqueRepo("gc");
    const second = uniqueRepo("gc");
    const image = await pushImage(first, "v1", { seed: 3 });
    const again = await pushImage(second, "v1", { seed: 3 });
    expect(again.layer.digest).toBe(image.layer.digest);
    expect((await request(`/v2/${first}/manifests/${image.digest}`, { method: "DELETE" })).status).toBe(202);

    const run = await collect();

    expect(run.linksDeleted).toBe(2);
    expect(await blobPulls(first, image.layer.digest)).toBe(false);
    expect(await blobPulls(second, image.layer.digest)).toBe(true);
    await pulls(second, "v1", again.bytes);
  });

  it("deletes a blob pushed but never referenced, and keeps untagged manifests unless asked", async () => {
    const repository = uniqueRepo("gc");
    const stray = await pushBlob(repository, randomBytes(300, 41));
    const untagged = await pushImage(repository, "moving", { seed: 4 });
    await pushImage(repository, "moving", { seed: 5 });

    const run = await collect();

    expect(run.manifestsDeleted).toBe(0);
    expect(await blobPulls(repository, stray.digest)).toBe(false);
    expect(await manifestStatus(repository, untagged.digest)).toBe(200);
    expect(await blobPulls(repository, untagged.layer.digest)).toBe(true);

    const untaggedRun = await collect({ deleteUntagged: true });
    expect(untaggedRun.manifestsDeleted).toBe(1);
    expect(await manifestStatus(repository, untagged.digest)).toBe(404);
    expect(await blobPulls(repository, untagged.layer.digest)).toBe(false);
  });

  it("keeps the children of a tagged index, even untagged and with deleteUntagged", async () => {
    const repository = uniqueRepo("gc");
    const amd64 = await pushImage(repository, "amd64-tmp", { seed: 6 });
    const arm64 = await pushImage(repository, "arm64-tmp", { seed: 7 });
    const index = jsonBytes({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { ...manifestDescriptor(amd64.bytes, amd64.digest), platform: { os: "linux", architecture: "amd64" } },
        { ...manifestDescriptor(arm64.bytes, arm64.digest), platform: { os: "linux", architecture: "arm64" } },
      ],
    });
    await pushManifest(repository, "multi", index, OCI_INDEX);
    for (const tag of ["amd64-tmp", "arm64-tmp"]) expect((await request(`/v2/${repository}/manifests/${tag}`, { method: "DELETE" })).status).toBe(202);

    const run = await collect({ deleteUntagged: true });

    expect(run.manifestsDeleted).toBe(0);
    await pulls(repository, "multi", index);
    await pulls(repository, amd64.digest, amd64.bytes);
    expect(await blobPulls(repository, arm64.layer.digest)).toBe(true);

    // Untag the index: it goes, and then its children with it (one run).
    expect((await request(`/v2/${repository}/manifests/multi`, { method: "DELETE" })).status).toBe(202);
    const untagged = await collect({ deleteUntagged: true });
    expect(untagged.manifestsDeleted).toBe(3);
    expect(await manifestStatus(repository, amd64.digest)).toBe(404);
  });

  it("keeps the referrers of a kept manifest, and deletes those whose subject is gone", async () => {
    const repository = uniqueRepo("gc");
    const signed = await pushImage(repository, "signed", { seed: 8 });
    const signature = await pushReferrer(repository, manifestDescriptor(signed.bytes, signed.digest), { artifactType: "application/vnd.example.sig", seed: 9 });
    const orphaned = await pushImage(repository, "orphaned", { seed: 10 });
    const sbom = await pushReferrer(repository, manifestDescriptor(orphaned.bytes, orphaned.digest), { artifactType: "application/vnd.example.sbom", seed: 11 });
    expect((await request(`/v2/${repository}/manifests/${orphaned.digest}`, { method: "DELETE" })).status).toBe(202);

    const run = await collect();

    expect(run.manifestsDeleted).toBe(1);
    expect(await manifestStatus(repository, signature.digest)).toBe(200);
    expect(await manifestStatus(repository, sbom.digest)).toBe(404);
    const referrers = await request(`/v2/${repository}/referrers/${signed.digest}`);
    expect(((await referrers.json()) as { manifests: { digest: string }[] }).manifests.map((entry) => entry.digest)).toEqual([signature.digest]);
  });

  it("deletes R2 objects no blob row names (an interrupted write), and only those", async () => {
    const repository = uniqueRepo("gc");
    const image = await pushImage(repository, "v1", { seed: 12 });
    await env.BLOBS.put("uploads/interrupted-session", randomBytes(2048, 13));
    await env.BLOBS.put("blobs/sha256/0000/interrupted-write", randomBytes(100, 14));

    const run = await collect();

    expect(run.blobsDeleted).toBe(2);
    expect(run.bytesFreed).toBe(2148);
    expect(await env.BLOBS.head("uploads/interrupted-session")).toBeNull();
    expect(await env.BLOBS.head("blobs/sha256/0000/interrupted-write")).toBeNull();
    expect(await blobPulls(repository, image.layer.digest)).toBe(true);
  });

  it("backfills the references of manifests stored before they were recorded, and then loses nothing", async () => {
    const repository = uniqueRepo("gc");
    const image = await pushImage(repository, "v1", { seed: 15 });
    // As a registry written by an earlier version of Pier: no references, not recorded.
    await env.DB.batch([
      env.DB.prepare("DELETE FROM manifest_references WHERE repository = ?").bind(repository),
      env.DB.prepare("UPDATE manifests SET references_recorded = 0 WHERE repository = ?").bind(repository),
    ]);

    await collect();

    expect(await rowCount("manifests", "repository = ? AND references_recorded = 0", repository)).toBe(0);
    expect(await rowCount("manifest_references", "repository = ? AND manifest = ?", repository, image.digest)).toBe(2);
    await pulls(repository, "v1", image.bytes);
    expect(await blobPulls(repository, image.layer.digest)).toBe(true);
  });
});

describe("a dry run", () => {
  it("counts what a real run then deletes, deletes nothing, and forgets its candidates", async () => {
    const repository = uniqueRepo("gc");
    await pushImage(repository, "kept", { seed: 20 });
    const untagged = await pushImage(repository, "moving", { seed: 21 });
    await pushImage(repository, "moving", { seed: 22 });
    const deleted = await pushImage(repository, "deleted", { seed: 23 });
    expect((await request(`/v2/${repository}/manifests/${deleted.digest}`, { method: "DELETE" })).status).toBe(202);
    const stray = await pushBlob(repository, bytesOf(JSON.stringify({ stray: true })), OCI_CONFIG);
    const rowsBefore = await rowCount("blobs");

    const dry = await collect({ dryRun: true, deleteUntagged: true });

    expect(dry.dryRun).toBe(true);
    expect(await rowCount("blobs")).toBe(rowsBefore);
    expect(await blobPulls(repository, stray.digest)).toBe(true);
    expect(await manifestStatus(repository, untagged.digest)).toBe(200);
    expect(await rowCount("gc_candidates")).toBe(0);

    const real = await collect({ deleteUntagged: true });
    expect({ manifests: dry.manifestsDeleted, links: dry.linksDeleted, blobs: dry.blobsDeleted, bytes: dry.bytesFreed }).toEqual({
      manifests: real.manifestsDeleted,
      links: real.linksDeleted,
      blobs: real.blobsDeleted,
      bytes: real.bytesFreed,
    });
    expect(real.manifestsDeleted).toBe(1);
    expect(await digestOf(deleted.bytes)).toBe(deleted.digest);
  });
});

describe("the grace window", () => {
  it("keeps what was written within it: a run with an hour's grace deletes nothing just pushed", async () => {
    const repository = uniqueRepo("gc");
    const stray = await pushBlob(repository, randomBytes(500, 30));
    const image = await pushImage(repository, "v1", { seed: 31 });
    expect((await request(`/v2/${repository}/manifests/${image.digest}`, { method: "DELETE" })).status).toBe(202);
    const started = await registryLock().start({ dryRun: false, deleteUntagged: true, graceSeconds: 3600, upstreams: [], trigger: "manual", requestedBy: null });
    expect(started.started).toBe(true);
    const run = await finishGc((started as { id: string }).id);
    expect(run).toMatchObject({ status: "succeeded", manifestsDeleted: 0, linksDeleted: 0, blobsDeleted: 0 });
    expect(await blobPulls(repository, stray.digest)).toBe(true);
    expect(await blobPulls(repository, image.layer.digest)).toBe(true);
  });
});
