// One fill per digest: a cache miss reaches upstream with exactly one GET, however many
// clients ask, streams to all of them as the bytes arrive, and leaves the blob cached.
import { describe, expect, it } from "vitest";
import { random, release, seedBlob, setBehaviour, uniqueRepo } from "../helpers/fake-upstream";
import { blobRequests, fillDone, firstChunk, proxiedBlob, readRest, seededBlob } from "../helpers/proxy-blobs";
import { bodyBytes, expectSameBytes, MiB } from "../helpers/registry";

/** Tests that move tens of MiB through the fake upstream, R2 and back need more than 5 s under load. */
const LARGE_TIMEOUT_MS = 30_000;

describe("a cache miss", () => {
  it("is fetched with one upstream GET, then served from the cache", async () => {
    const { repo, bytes, digest } = await seededBlob(64 * 1024);

    const miss = await proxiedBlob("fake", repo, digest);
    expect(miss.status).toBe(200);
    expect(miss.headers.get("X-Pier-Cache")).toBe("miss");
    expect(miss.headers.get("Docker-Content-Digest")).toBe(digest);
    expect(miss.headers.get("Content-Length")).toBe(String(bytes.byteLength));
    expectSameBytes(await bodyBytes(miss), bytes);

    const hit = await proxiedBlob("fake", repo, digest);
    expect(hit.status).toBe(200);
    expect(hit.headers.get("X-Pier-Cache")).toBe("hit");
    expectSameBytes(await bodyBytes(hit), bytes);
    expect(await blobRequests(repo, digest, "GET")).toHaveLength(1);
  });

  it("fetches and verifies a blob named by a sha512 digest", async () => {
    const repo = uniqueRepo();
    const bytes = random(40 * 1024);
    const digest = await seedBlob(repo, bytes, "sha512");
    expect(digest).toMatch(/^sha512:/);

    const miss = await proxiedBlob("fake", repo, digest);
    expect(miss.headers.get("Docker-Content-Digest")).toBe(digest);
    expectSameBytes(await bodyBytes(miss), bytes);
    const hit = await proxiedBlob("fake", repo, digest);
    expect(hit.headers.get("X-Pier-Cache")).toBe("hit");
    expectSameBytes(await bodyBytes(hit), bytes);
  });

  it("streams a blob of several R2 parts and stores it whole", async () => {
    const { repo, bytes, digest } = await seededBlob(20 * MiB);

    const miss = await proxiedBlob("fake", repo, digest);
    expect(miss.headers.get("Content-Length")).toBe(String(20 * MiB));
    expectSameBytes(await bodyBytes(miss), bytes);
    const hit = await proxiedBlob("fake", repo, digest);
    expect(hit.headers.get("X-Pier-Cache")).toBe("hit");
    expectSameBytes(await bodyBytes(hit), bytes);
    expect(await blobRequests(repo, digest, "GET")).toHaveLength(1);
  }, LARGE_TIMEOUT_MS);

  it("is fetched whole, verified and then served when upstream sends no Content-Length", async () => {
    const { repo, bytes, digest } = await seededBlob(10 * MiB);
    await setBehaviour(repo, { chunkedBlobs: true });

    const miss = await proxiedBlob("fake", repo, digest);
    expect(miss.status).toBe(200);
    expect(miss.headers.get("Content-Length")).toBe(String(bytes.byteLength));
    expectSameBytes(await bodyBytes(miss), bytes);
    expect((await proxiedBlob("fake", repo, digest)).headers.get("X-Pier-Cache")).toBe("hit");
    expect(await blobRequests(repo, digest, "GET")).toHaveLength(1);
  }, LARGE_TIMEOUT_MS);

  it("is not stored when upstream sends wrong bytes without a Content-Length", async () => {
    const repo = uniqueRepo();
    const digest = await seedBlob(repo, random(64 * 1024));
    await setBehaviour(repo, { chunkedBlobs: true, corruptBlobs: true });
    const response = await proxiedBlob("fake", repo, digest);
    expect(response.status).toBe(502);
    await response.arrayBuffer();
    await setBehaviour(repo, {});
    expect((await proxiedBlob("fake", repo, digest)).headers.get("X-Pier-Cache")).toBe("miss");
  });

  it("stores an empty blob", async () => {
    const repo = uniqueRepo();
    const digest = await seedBlob(repo, new Uint8Array(0));
    const miss = await proxiedBlob("fake", repo, digest);
    expect(miss.status).toBe(200);
    expect((await bodyBytes(miss)).byteLength).toBe(0);
    const hit = await proxiedBlob("fake", repo, digest);
    expect(hit.headers.get("X-Pier-Cache")).toBe("hit");
  });
});

describe("concurrent misses of one digest", () => {
  it("share one upstream GET: 16 cold GETs all get the right bytes", async () => {
    const { repo, bytes, digest } = await seededBlob(3 * MiB);

    const responses = await Promise.all(Array.from({ length: 16 }, () => proxiedBlob("fake", repo, digest)));
    const bodies = await Promise.all(responses.map((response) => bodyBytes(response)));
    for (const [index, response] of responses.entries()) {
      expect(response.status).toBe(200);
      expectSameBytes(bodies[index]!, bytes);
    }
    expect(await blobRequests(repo, digest, "GET")).toHaveLength(1);
  }, LARGE_TIMEOUT_MS);

  it("stream bytes to a client that joins before the fill has ended", async () => {
    const { repo, bytes, digest } = await seededBlob(512 * 1024);
    await setBehaviour(repo, { holdBlobsAfter: 128 * 1024 });

    const first = await proxiedBlob("fake", repo, digest);
    const a = await firstChunk(first);
    // Upstream is holding the rest: whatever the second client gets now came from the live fill.
    const second = await proxiedBlob("fake", repo, digest);
    const b = await firstChunk(second);
    expect(b.chunk.byteLength).toBeGreaterThan(0);
    expectSameBytes(b.chunk, bytes.subarray(0, b.chunk.byteLength));

    expect(await release(repo)).toBe(1);
    expectSameBytes(await readRest(a.reader, [a.chunk]), bytes);
    expectSameBytes(await readRest(b.reader, [b.chunk]), bytes);
    expect(await blobRequests(repo, digest, "GET")).toHaveLength(1);
  });

  it("let a client that fell behind the fill finish from R2", async () => {
    const { repo, bytes, digest } = await seededBlob(24 * MiB);

    const slow = await proxiedBlob("fake", repo, digest);
    const { chunk, reader } = await firstChunk(slow);
    // The slow client reads nothing more until the whole blob is stored: by then the fill's
    // window (16 MiB) has long moved past it.
    expect((await fillDone("fake", repo, digest)).kind).toBe("stored");
    expectSameBytes(await readRest(reader, [chunk]), bytes);
    expect(await blobRequests(repo, digest, "GET")).toHaveLength(1);
  }, LARGE_TIMEOUT_MS);
});

describe("a request for the digest from another repository during a fill", () => {
  it("joins the fill once an upstream HEAD confirms that repository has the blob", async () => {
    const bytes = random(256 * 1024);
    const [owner, other] = [uniqueRepo(), uniqueRepo()];
    const digest = await seedBlob(owner, bytes);
    await seedBlob(other, bytes);
    await setBehaviour(owner, { holdBlobsAfter: 64 * 1024 });
    const first = await proxiedBlob("fake", owner, digest);
    const a = await firstChunk(first);

    const joined = await proxiedBlob("fake", other, digest);
    const b = await firstChunk(joined);
    await release(owner);
    expectSameBytes(await readRest(a.reader, [a.chunk]), bytes);
    expectSameBytes(await readRest(b.reader, [b.chunk]), bytes);
    expect(await blobRequests(other, digest, "HEAD")).toHaveLength(1);
    expect(await blobRequests(other, digest, "GET")).toHaveLength(0);
    const hit = await proxiedBlob("fake", other, digest);
    expect(hit.headers.get("X-Pier-Cache")).toBe("hit");
    await bodyBytes(hit);
  });

  it("is refused when that repository's upstream does not have the blob", async () => {
    const [owner, other] = [uniqueRepo(), uniqueRepo()];
    const bytes = random(256 * 1024);
    const digest = await seedBlob(owner, bytes);
    await seedBlob(other, random(10));
    await setBehaviour(owner, { holdBlobsAfter: 64 * 1024 });
    const first = await proxiedBlob("fake", owner, digest);
    const a = await firstChunk(first);

    const refused = await proxiedBlob("fake", other, digest);
    expect(refused.status).toBe(404);
    await release(owner);
    expectSameBytes(await readRest(a.reader, [a.chunk]), bytes);
    expect((await proxiedBlob("fake", other, digest, { method: "HEAD" })).status).toBe(404);
  });
});

describe("a client that disconnects", () => {
  it("does not stop the fill: the blob is cached and the next GET is a hit", async () => {
    const { repo, bytes, digest } = await seededBlob(256 * 1024);
    await setBehaviour(repo, { holdBlobsAfter: 64 * 1024 });

    const response = await proxiedBlob("fake", repo, digest);
    const { reader } = await firstChunk(response);
    await reader.cancel();
    await release(repo);

    const done = await fillDone("fake", repo, digest);
    expect(done.kind).toBe("stored");
    const hit = await proxiedBlob("fake", repo, digest);
    expect(hit.headers.get("X-Pier-Cache")).toBe("hit");
    expectSameBytes(await bodyBytes(hit), bytes);
    expect(await blobRequests(repo, digest, "GET")).toHaveLength(1);
  });
});
