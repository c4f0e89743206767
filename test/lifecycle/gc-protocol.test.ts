// The tombstone protocol (durable-objects/registry-lock.ts), the writers' half: once the
// collector has tombstoned a blob, no writer links it; a writer that needs the digest stores
// the bytes again under a key of its own, and the collector's deletion leaves that copy alone.
// Each interleaving is set up statement by statement, with the collector's own statements.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Digest } from "../../worker/oci/digest";
import type { RepoName } from "../../worker/oci/names";
import { database } from "../../worker/storage/db/client";
import { linkBlob, recordBlob } from "../../worker/storage/db/queries/blobs";
import { deleteUnreferencedLinks } from "../../worker/storage/db/queries/gc-marks";
import { deleteTombstonedRows, tombstoneUnneededBlobs } from "../../worker/storage/db/queries/gc-sweeps";
import { recordManifest } from "../../worker/storage/db/queries/manifests";
import { objectKeyOf, rowCount } from "../helpers/gc";
import { bodyBytes, digestOf, imageManifest, OCI_MANIFEST, pushBlob, putManifest, randomBytes, request, uniqueRepo, withQuery } from "../helpers/registry";

const db = () => database(env.DB);

/** Pushes a blob, then removes its only link: a blob the collector may tombstone. */
async function unlinkedBlob(seed: number): Promise<{ repository: string; digest: Digest; bytes: Uint8Array }> {
  const repository = uniqueRepo("protocol");
  const bytes = randomBytes(700, seed);
  const { digest } = await pushBlob(repository, bytes);
  expect((await request(`/v2/${repository}/blobs/${digest}`, { method: "DELETE" })).status).toBe(202);
  return { repository, digest: digest as Digest, bytes };
}

/** The collector's first statement for the page holding `digest`: tombstone it if nothing needs it. */
async function tombstone(digest: Digest): Promise<string | null> {
  const { doomed } = await tombstoneUnneededBlobs(db(), "", Date.now() + 1, 10_000);
  const mine = doomed.find((blob) => blob.digest === digest);
  expect(mine, `${digest} was not tombstoned`).toBeDefined();
  return mine!.objectKey;
}

/** The collector's last statements: the object, then the row if still tombstoned. */
async function finishDeletion(digest: Digest, objectKey: string | null): Promise<void> {
  if (objectKey !== null) await env.BLOBS.delete(objectKey);
  await deleteTombstonedRows(db(), [digest]);
}

async function blobBytes(repository: string, digest: string): Promise<Uint8Array | null> {
  const response = await request(`/v2/${repository}/blobs/${digest}`);
  if (response.status !== 200) {
    await response.body?.cancel();
    return null;
  }
  return bodyBytes(response);
}

describe("a tombstoned blob", () => {
  it("is linked by no writer: linkBlob refuses it", async () => {
    const blob = await unlinkedBlob(1);
    await tombstone(blob.digest);
    expect(await linkBlob(db(), uniqueRepo("protocol") as RepoName, blob.digest, Date.now())).toBe(false);
    expect(await rowCount("repository_blobs", "digest = ?", blob.digest)).toBe(0);
  });

  it("is not mounted: the client gets an upload session (202) instead, and its upload revives the blob", async () => {
    const blob = await unlinkedBlob(2);
    const holder = uniqueRepo("protocol");
    await pushBlob(holder, blob.bytes);
    expect((await request(`/v2/${holder}/blobs/${blob.digest}`, { method: "DELETE" })).status).toBe(202);
    const doomedKey = await tombstone(blob.digest);

    const target = uniqueRepo("protocol");
    const mount = await request(withQuery(`/v2/${target}/blobs/uploads/`, { mount: blob.digest, from: holder }), { method: "POST" });
    expect(mount.status).toBe(202);
    await pushBlob(target, blob.bytes);
    await finishDeletion(blob.digest, doomedKey);

    expect(await blobBytes(target, blob.digest)).toEqual(blob.bytes);
    expect(await objectKeyOf(blob.digest)).not.toBe(doomedKey);
  });

  it("pushed again is stored under a new key and revived; the collector's deletion spares it", async () => {
    const blob = await unlinkedBlob(3);
    const doomedKey = await tombstone(blob.digest);
    const repository = uniqueRepo("protocol");
    await pushBlob(repository, blob.bytes);
    await finishDeletion(blob.digest, doomedKey);

    expect(await rowCount("blobs", "digest = ? AND state = 'live'", blob.digest)).toBe(1);
    expect(await blobBytes(repository, blob.digest)).toEqual(blob.bytes);
  });

  it("is revived by recordBlob with the writer's key, whichever order the collector's statements come in", async () => {
    const blob = await unlinkedBlob(4);
    const doomedKey = await tombstone(blob.digest);
    await env.BLOBS.delete(doomedKey!);
    const newKey = `blobs/test/${crypto.randomUUID()}`;
    await env.BLOBS.put(newKey, blob.bytes);
    const repository = uniqueRepo("protocol") as RepoName;
    const location = await recordBlob(db(), repository, { digest: blob.digest, size: blob.bytes.byteLength, objectKey: newKey }, Date.now());
    expect(location.objectKey).toBe(newKey);
    expect(await deleteTombstonedRows(db(), [blob.digest])).toBe(0);
    expect(await blobBytes(repository, blob.digest)).toEqual(blob.bytes);
  });

  it("deleted completely is a new blob to the next push, which stores it again", async () => {
    const blob = await unlinkedBlob(5);
    await finishDeletion(blob.digest, await tombstone(blob.digest));
    expect(await rowCount("blobs", "digest = ?", blob.digest)).toBe(0);
    const repository = uniqueRepo("protocol");
    await pushBlob(repository, blob.bytes);
    expect(await blobBytes(repository, blob.digest)).toEqual(blob.bytes);
  });
});

describe("a blob a repository links", () => {
  it("is never tombstoned, and a link written after the collector looked keeps it", async () => {
    const blob = await unlinkedBlob(6);
    const repository = uniqueRepo("protocol") as RepoName;
    // A mount lands between the collector's page read and its tombstone statement: the
    // statement itself checks for links, so it spares the blob.
    expect(await linkBlob(db(), repository, blob.digest, Date.now())).toBe(true);
    const { doomed } = await tombstoneUnneededBlobs(db(), "", Date.now() + 1, 10_000);
    expect(doomed.map((entry) => entry.digest)).not.toContain(blob.digest);
    expect(await blobBytes(repository, blob.digest)).toEqual(blob.bytes);
  });
});

describe("a manifest push racing the collector", () => {
  it("fails with MANIFEST_BLOB_UNKNOWN when a layer's link went between its check and its write, and records nothing", async () => {
    const repository = uniqueRepo("protocol");
    const config = await pushBlob(repository, randomBytes(50, 7));
    const layer = await pushBlob(repository, randomBytes(60, 8));
    const bytes = imageManifest(config, [layer]);
    const digest = (await digestOf(bytes)) as Digest;
    // The push checked the links; the collector deletes the unreferenced layer link now.
    const { deleted } = await deleteUnreferencedLinks(db(), repository as RepoName, "", Date.now() + 1, 500);
    expect(deleted).toBe(2);
    const result = await recordManifest(
      db(),
      repository as RepoName,
      {
        manifest: { digest, mediaType: OCI_MANIFEST, size: bytes.byteLength, subject: null, artifactType: null },
        location: { objectKey: null, content: new TextDecoder().decode(bytes) },
        tags: ["v1" as never],
        blobs: [config.digest as Digest, layer.digest as Digest],
        children: [],
        requireReferences: true,
      },
      Date.now(),
    );
    expect(result.outcome).toBe("references-missing");
    expect(await rowCount("manifests", "repository = ?", repository)).toBe(0);
    expect(await rowCount("manifest_references", "repository = ?", repository)).toBe(0);
    // Over HTTP the client hears it as the spec's error, and pushes the blobs again.
    const response = await putManifest(repository, "v1", bytes);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("MANIFEST_BLOB_UNKNOWN");
  });

  it("keeps a link the collector would delete once the manifest referencing it is recorded", async () => {
    const repository = uniqueRepo("protocol");
    const config = await pushBlob(repository, randomBytes(50, 9));
    const layer = await pushBlob(repository, randomBytes(60, 10));
    expect((await putManifest(repository, "v1", imageManifest(config, [layer]))).status).toBe(201);
    const { deleted } = await deleteUnreferencedLinks(db(), repository as RepoName, "", Date.now() + 1, 500);
    expect(deleted).toBe(0);
  });

  it("re-stores a large manifest's bytes that the collector tombstoned after the push found them", async () => {
    const repository = uniqueRepo("protocol");
    const config = await pushBlob(repository, randomBytes(50, 11));
    const layer = await pushBlob(repository, randomBytes(60, 12));
    // Over the inline limit (64 KiB): its bytes live in R2.
    const bytes = imageManifest(config, [layer], { annotations: { padding: "x".repeat(70 * 1024) } });
    expect((await putManifest(repository, "big", bytes)).status).toBe(201);
    const digest = (await digestOf(bytes)) as Digest;
    expect((await request(`/v2/${repository}/manifests/${digest}`, { method: "DELETE" })).status).toBe(202);
    const doomedKey = await tombstone(digest);
    expect((await putManifest(repository, "big", bytes)).status).toBe(201);
    await finishDeletion(digest, doomedKey);
    const response = await request(`/v2/${repository}/manifests/big`);
    expect(response.status).toBe(200);
    expect(await bodyBytes(response)).toEqual(bytes);
  });
});
