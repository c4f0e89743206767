// A fill that goes wrong leaves nothing behind: bytes that do not match their digest are never
// stored and never reach a client as a complete response, an upstream that dies mid-blob
// leaves no parts in R2, and the next request starts a fresh fill.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Digest } from "../../worker/oci/digest";
import { database } from "../../worker/storage/db/client";
import { findStoredBlob } from "../../worker/storage/db/queries/blobs";
import { contentKey } from "../../worker/storage/keys";
import { clearBehaviour, random, release, seedBlob, setBehaviour, uniqueRepo } from "../helpers/fake-upstream";
import { MULTIPART_PREFIX } from "../../durable-objects/blob-fill-sink";
import { blobRequests, fillDone, fillStub, openMultiparts, proxiedBlob, readRest, seededBlob } from "../helpers/proxy-blobs";
import { bodyBytes, expectSameBytes, MiB } from "../helpers/registry";

/** Nothing of the digest is visible or left over: no D1 row, no content object, no open multipart. */
async function expectNothingStored(digest: string): Promise<void> {
  expect(await findStoredBlob(database(env.DB), digest as Digest)).toBeNull();
  expect(await env.BLOBS.head(contentKey(digest as Digest))).toBeNull();
  expect(await openMultiparts(digest)).toBe(0);
}

describe("bytes that do not match their digest", () => {
  it("error the client's stream instead of completing it", async () => {
    const repo = uniqueRepo();
    const digest = await seedBlob(repo, random(100 * 1024));
    await setBehaviour(repo, { corruptBlobs: true });

    const response = await proxiedBlob("fake", repo, digest);
    await expect(bodyBytes(response)).rejects.toThrow();
  });

  it("are never stored, and the next request fetches afresh", async () => {
    const { repo, bytes, digest } = await seededBlob(100 * 1024);
    await setBehaviour(repo, { corruptBlobs: true });
    await bodyBytes(await proxiedBlob("fake", repo, digest)).catch(() => {});
    await expectNothingStored(digest);

    await clearBehaviour(repo);
    const retry = await proxiedBlob("fake", repo, digest);
    expect(retry.headers.get("X-Pier-Cache")).toBe("miss");
    expectSameBytes(await bodyBytes(retry), bytes);
    expect(await blobRequests(repo, digest, "GET")).toHaveLength(2);
  });

  it("of a blob of several parts leave no multipart upload behind", async () => {
    const repo = uniqueRepo();
    const digest = await seedBlob(repo, random(18 * MiB));
    await setBehaviour(repo, { corruptBlobs: true });
    const result = await fillDone("fake", repo, digest);
    expect(result).toMatchObject({ kind: "failed", failure: { kind: "invalid" } });
    await expectNothingStored(digest);
  }, 30_000);

  it("error every client that joined the fill", async () => {
    const repo = uniqueRepo();
    const digest = await seedBlob(repo, random(2 * MiB));
    await setBehaviour(repo, { corruptBlobs: true });
    const responses = await Promise.all([1, 2, 3].map(() => proxiedBlob("fake", repo, digest)));
    for (const response of responses) await expect(bodyBytes(response)).rejects.toThrow();
    expect(await blobRequests(repo, digest, "GET")).toHaveLength(1);
  });
});

describe("an upstream that dies mid-blob", () => {
  it("errors the client's stream", async () => {
    const repo = uniqueRepo();
    const digest = await seedBlob(repo, random(256 * 1024));
    await setBehaviour(repo, { cutBlobsAfter: 100 * 1024 });
    const response = await proxiedBlob("fake", repo, digest);
    await expect(bodyBytes(response)).rejects.toThrow();
  });

  it("leaves nothing behind, not even the parts already in R2", async () => {
    const repo = uniqueRepo();
    const digest = await seedBlob(repo, random(20 * MiB));
    await setBehaviour(repo, { cutBlobsAfter: 17 * MiB });
    const result = await fillDone("fake", repo, digest);
    expect(result).toMatchObject({ kind: "failed", failure: { kind: "unreachable" } });
    await expectNothingStored(digest);
  }, 30_000);

  it("is fetched again by the next request, which succeeds once upstream does", async () => {
    const { repo, bytes, digest } = await seededBlob(300 * 1024);
    await setBehaviour(repo, { cutBlobsAfter: 1000 });
    await bodyBytes(await proxiedBlob("fake", repo, digest)).catch(() => {});

    await clearBehaviour(repo);
    const retry = await proxiedBlob("fake", repo, digest);
    expect(retry.status).toBe(200);
    expectSameBytes(await bodyBytes(retry), bytes);
    const hit = await proxiedBlob("fake", repo, digest);
    expect(hit.headers.get("X-Pier-Cache")).toBe("hit");
    expect(await blobRequests(repo, digest, "GET")).toHaveLength(2);
  });
});

describe("the fill object's alarm", () => {
  it("aborts a multipart upload that no running fill owns (an evicted object's)", async () => {
    const digest = `sha256:${crypto.randomUUID().replace(/-/g, "").padEnd(64, "0")}`;
    const orphan = await runInDurableObject(fillStub(digest), async (_instance, state) => {
      const upload = await env.BLOBS.createMultipartUpload(`fills/orphan-${crypto.randomUUID()}`);
      await state.storage.put(MULTIPART_PREFIX + upload.uploadId, { key: upload.key, uploadId: upload.uploadId });
      await state.storage.setAlarm(Date.now() + 60_000);
      return { key: upload.key, uploadId: upload.uploadId };
    });
    expect(await runDurableObjectAlarm(fillStub(digest))).toBe(true);
    expect(await openMultiparts(digest)).toBe(0);
    const resumed = env.BLOBS.resumeMultipartUpload(orphan.key, orphan.uploadId);
    await expect(resumed.uploadPart(1, new Uint8Array(10))).rejects.toThrow();
  });

  it("leaves the multipart upload of a running fill alone", async () => {
    const { repo, bytes, digest } = await seededBlob(20 * MiB);
    await setBehaviour(repo, { holdBlobsAfter: 9 * MiB });
    const response = await proxiedBlob("fake", repo, digest);
    // Past the first 8 MiB part the multipart upload is open (it is recorded before its part).
    const reader = response.body!.getReader();
    const head: Uint8Array[] = [];
    for (let received = 0; received < 8.5 * MiB; received += head.at(-1)!.byteLength) head.push((await reader.read()).value!);
    expect(await openMultiparts(digest)).toBe(1);

    expect(await runDurableObjectAlarm(fillStub(digest))).toBe(true);
    expect(await openMultiparts(digest)).toBe(1);
    await release(repo);
    expectSameBytes(await readRest(reader, head), bytes);
    expect(await openMultiparts(digest)).toBe(0);
  }, 30_000);
});
