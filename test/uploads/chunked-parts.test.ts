// Chunked pushes across R2 part boundaries: client chunks of any size are re-cut into equal
// 8 MiB R2 multipart parts (PART_SIZE); the assembled blob must be byte-identical, and the
// digest must be checked whatever the algorithm (sha512 is verified by reading back).
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { PART_SIZE } from "../../worker/storage/part-buffer";
import {
  blobStatus,
  digestOf,
  errorCode,
  expectBlob,
  MiB,
  openUpload,
  patchChunk,
  pushBlob,
  request,
  streamOf,
  uniqueRepo,
  withQuery,
  putLastChunk,
  freshBytesFrom,
} from "../helpers/registry";

const freshBytes = freshBytesFrom(1_300_000);

/** PATCHes `bytes` in chunks of the given sizes, then closes with an empty PUT; returns the PUT. */
async function pushInChunks(repository: string, bytes: Uint8Array, sizes: number[], digest: string): Promise<{ put: Response; sessionId: string }> {
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(bytes.byteLength);
  const { location, sessionId } = await openUpload(repository);
  let offset = 0;
  for (const size of sizes) {
    const response = await patchChunk(location, bytes.subarray(offset, offset + size), offset);
    expect(response.status, await response.clone().text()).toBe(202);
    offset += size;
    expect(response.headers.get("Range")).toBe(`0-${offset - 1}`);
  }
  const put = await request(withQuery(location, { digest }), { method: "PUT" });
  return { put, sessionId };
}

async function expectPushed(sizes: number[], algorithm: "sha256" | "sha512" = "sha256"): Promise<void> {
  const repository = uniqueRepo("parts/push");
  const bytes = freshBytes(sizes.reduce((a, b) => a + b, 0));
  const digest = await digestOf(bytes, algorithm);
  const { put } = await pushInChunks(repository, bytes, sizes, digest);
  expect(put.status, await put.clone().text()).toBe(201);
  expect(put.headers.get("Docker-Content-Digest")).toBe(digest);
  await expectBlob(repository, digest, bytes);
}

describe("chunks and R2 parts", () => {
  it("uses an 8 MiB part size", () => {
    expect(PART_SIZE).toBe(8 * MiB);
  });

  it("assembles chunks smaller than a part", async () => {
    await expectPushed([100 * 1024, 100 * 1024, 37]);
  });

  it("assembles one chunk of exactly one part", async () => {
    await expectPushed([PART_SIZE]);
  });

  it("assembles two chunks of exactly one part each", async () => {
    await expectPushed([PART_SIZE, PART_SIZE]);
  });

  it("assembles three 7 MiB chunks that span several parts", async () => {
    await expectPushed([7 * MiB, 7 * MiB, 7 * MiB]);
  });

  it("assembles a chunk one byte short of a part followed by a one-byte chunk", async () => {
    await expectPushed([PART_SIZE - 1, 1]);
  });

  it("assembles many small chunks that cross a part boundary", async () => {
    await expectPushed([3 * MiB, 3 * MiB, 3 * MiB, 1]);
  });

  it("assembles a last chunk in the PUT that completes a part", async () => {
    const repository = uniqueRepo("parts/put-last");
    const bytes = freshBytes(PART_SIZE + 3 * MiB);
    const digest = await digestOf(bytes);
    const { location } = await openUpload(repository);
    expect((await patchChunk(location, bytes.subarray(0, 5 * MiB), 0)).status).toBe(202);
    const put = await putLastChunk(location, digest, bytes, 5 * MiB);
    expect(put.status, await put.clone().text()).toBe(201);
    await expectBlob(repository, digest, bytes);
  });

  it("assembles chunks streamed without Content-Length across parts", async () => {
    const repository = uniqueRepo("parts/stream");
    const bytes = freshBytes(2 * 9 * MiB);
    const digest = await digestOf(bytes);
    const { location } = await openUpload(repository);
    for (const start of [0, 9 * MiB]) {
      const response = await request(location, { method: "PATCH", body: streamOf(bytes.subarray(start, start + 9 * MiB), 300 * 1024) });
      expect(response.status, await response.clone().text()).toBe(202);
      expect(response.headers.get("Range")).toBe(`0-${start + 9 * MiB - 1}`);
    }
    const put = await request(withQuery(location, { digest }), { method: "PUT" });
    expect(put.status, await put.clone().text()).toBe(201);
    await expectBlob(repository, digest, bytes);
  });

  it("serves a range of a multipart blob", async () => {
    const repository = uniqueRepo("parts/range");
    const bytes = freshBytes(2 * PART_SIZE + 100);
    const digest = await digestOf(bytes);
    expect((await pushInChunks(repository, bytes, [7 * MiB, 7 * MiB, 2 * MiB + 100], digest)).put.status).toBe(201);
    const start = PART_SIZE - 10;
    const response = await request(`/v2/${repository}/blobs/${digest}`, { headers: { Range: `bytes=${start}-${start + 19}` } });
    expect(response.status).toBe(206);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes.slice(start, start + 20));
  });
});

describe("sha512 over a chunked upload", () => {
  it("verifies a sha512 digest over chunks smaller than a part", async () => {
    await expectPushed([40 * 1024, 40 * 1024], "sha512");
  });

  it("verifies a sha512 digest over a multipart upload", async () => {
    await expectPushed([7 * MiB, 7 * MiB, 3 * MiB], "sha512");
  });

  it("refuses a wrong sha512 digest over a multipart upload with 400 DIGEST_INVALID", async () => {
    const repository = uniqueRepo("parts/sha512-wrong");
    const claimed = await digestOf(freshBytes(10), "sha512");
    const { put } = await pushInChunks(repository, freshBytes(10 * MiB), [5 * MiB, 5 * MiB], claimed);
    expect(put.status).toBe(400);
    expect(await errorCode(put)).toBe("DIGEST_INVALID");
  });

  it("keeps nothing of a multipart upload whose sha512 digest did not match", async () => {
    const repository = uniqueRepo("parts/sha512-wrong");
    const claimed = await digestOf(freshBytes(10), "sha512");
    const { put, sessionId } = await pushInChunks(repository, freshBytes(10 * MiB), [5 * MiB, 5 * MiB], claimed);
    expect(put.status).toBe(400);
    expect(await blobStatus(repository, claimed)).toBe(404);
    // The assembled object was read back to be hashed; it must not stay in the bucket.
    expect(await env.BLOBS.head(`uploads/${sessionId}`)).toBeNull();
    const statusResponse = await request(`/v2/${repository}/blobs/uploads/${sessionId}`);
    expect(statusResponse.status).toBe(404);
    expect(await errorCode(statusResponse)).toBe("BLOB_UPLOAD_UNKNOWN");
  });

  it("refuses a sha256 digest that names other bytes over a multipart upload", async () => {
    const repository = uniqueRepo("parts/sha256-wrong");
    const claimed = await digestOf(freshBytes(10));
    const { put, sessionId } = await pushInChunks(repository, freshBytes(9 * MiB), [9 * MiB], claimed);
    expect(put.status).toBe(400);
    expect(await errorCode(put)).toBe("DIGEST_INVALID");
    expect(await blobStatus(repository, claimed)).toBe(404);
    expect(await env.BLOBS.head(`uploads/${sessionId}`)).toBeNull();
  });
});

describe("a multipart upload of content the registry already holds", () => {
  it("adds it to the new repository without keeping a second copy (sha256)", async () => {
    const [first, second] = [uniqueRepo("parts/held-a"), uniqueRepo("parts/held-b")];
    const bytes = freshBytes(9 * MiB);
    const { digest } = await pushBlob(first, bytes);
    const { put, sessionId } = await pushInChunks(second, bytes, [5 * MiB, 4 * MiB], digest);
    expect(put.status, await put.clone().text()).toBe(201);
    await expectBlob(second, digest, bytes);
    expect(await env.BLOBS.head(`uploads/${sessionId}`)).toBeNull();
  });

  it("adds it to the new repository without keeping a second copy (sha512)", async () => {
    const [first, second] = [uniqueRepo("parts/held-a"), uniqueRepo("parts/held-b")];
    const bytes = freshBytes(9 * MiB);
    const digest = await digestOf(bytes, "sha512");
    expect((await request(`/v2/${first}/blobs/uploads/?digest=${digest}`, { method: "POST", body: bytes })).status).toBe(201);
    const { put, sessionId } = await pushInChunks(second, bytes, [5 * MiB, 4 * MiB], digest);
    expect(put.status, await put.clone().text()).toBe(201);
    await expectBlob(second, digest, bytes);
    expect(await env.BLOBS.head(`uploads/${sessionId}`)).toBeNull();
  });

  it("refuses other bytes under its sha256 digest and leaves the held blob intact", async () => {
    const [first, second] = [uniqueRepo("parts/held-a"), uniqueRepo("parts/held-b")];
    const bytes = freshBytes(9 * MiB);
    const { digest } = await pushBlob(first, bytes);
    const { put } = await pushInChunks(second, freshBytes(9 * MiB), [5 * MiB, 4 * MiB], digest);
    expect(put.status).toBe(400);
    expect(await errorCode(put)).toBe("DIGEST_INVALID");
    expect(await blobStatus(second, digest)).toBe(404);
    await expectBlob(first, digest, bytes);
  });

  it("keeps a single copy when two sessions close the same content at once", async () => {
    const bytes = freshBytes(9 * MiB);
    const digest = await digestOf(bytes);
    const repositories = [uniqueRepo("parts/race-a"), uniqueRepo("parts/race-b")];
    const sessions = await Promise.all(repositories.map((repository) => openUpload(repository)));
    for (const { location } of sessions) expect((await patchChunk(location, bytes, 0)).status).toBe(202);
    const puts = await Promise.all(sessions.map(({ location }) => request(withQuery(location, { digest }), { method: "PUT" })));
    expect(puts.map((put) => put.status)).toEqual([201, 201]);
    for (const repository of repositories) await expectBlob(repository, digest, bytes);
    const copies = await Promise.all(sessions.map(({ sessionId }) => env.BLOBS.head(`uploads/${sessionId}`)));
    expect(copies.filter((copy) => copy !== null).length).toBe(1);
  });
});
