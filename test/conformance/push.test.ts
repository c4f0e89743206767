// Replays the push side of the OCI distribution-spec conformance suites, step by step:
//   - the legacy ginkgo suite's "Push" workflow (conformance/02_push_test.go before the 2025
//     redesign; OCI_TEST_PUSH=1): streamed, monolithic and chunked uploads (rebuilt to
//     2×OCI-Chunk-Min-Length−2 bytes when the registry asks for larger chunks), cross-mounts
//     into OCI_CROSSMOUNT_NAMESPACE with and without `from` (OCI_AUTOMATIC_CROSSMOUNT), manifests;
//   - the current suite's blob API tests (conformance/run.go TestBlobAPIs), for sha256 and
//     sha512: post only, post+put, chunked (single, multi, last chunk in the PUT, out of order),
//     stream, mount, anonymous mount, mount of a missing blob, cancel, empty and `{}` blobs,
//     and the same pushes with content that does not match its digest.
import { beforeAll, describe, expect, it } from "vitest";
import {
  blobDelete,
  blobGetExistsFull,
  blobHeadExists,
  blobMount,
  blobPatchChunked,
  blobPatchStream,
  blobPostOnly,
  blobPostPut,
  expectStatus,
  legacyDelete,
  pathOf,
  pushBlobAny,
  SUITE_CHUNK_MIN,
} from "../helpers/conformance-api";
import { type Algo, ALGOS, type LegacyFixtures, legacyFixtures, TestData } from "../helpers/conformance-data";
import { bytesOf, digestOf, OCI_MANIFEST, randomBytes, request, uniqueRepo, withQuery } from "../helpers/registry";

const SLOW = 120_000;
const octet = (bytes: Uint8Array) => ({ "Content-Type": "application/octet-stream", "Content-Length": String(bytes.byteLength) });

describe("legacy suite, Push workflow", () => {
  const repo = uniqueRepo("conformance/push");
  // The suite's default is `conformance-<uuid>`, one segment, which is no local repository in
  // Pier (issue 4: `<project>/<name>`); README says to set OCI_CROSSMOUNT_NAMESPACE like this.
  const crossmount = `conformance/${crypto.randomUUID()}`;
  let fx: LegacyFixtures;
  const blobA = randomBytes(42, 4101);
  let blobB = randomBytes(42, 4102);
  let digestA: string;
  let digestB: string;
  let dummy: string;
  let last: Response;
  let previous: Response;
  const split = () => ({ first: blobB.slice(0, (blobB.byteLength >> 1) + 1), second: blobB.slice((blobB.byteLength >> 1) + 1) });
  const patch = (location: string, body: Uint8Array, start: number) =>
    request(pathOf(location), { method: "PATCH", body, headers: { ...octet(body), "Content-Range": `${start}-${start + body.byteLength - 1}` } });

  beforeAll(async () => {
    fx = await legacyFixtures();
    digestA = await digestOf(blobA);
    digestB = await digestOf(blobB);
    dummy = await digestOf(bytesOf("hello world"));
  });

  it("streamed: PATCH with the blob in the body answers 202", async () => {
    const post = await request(`/v2/${repo}/blobs/uploads/`, { method: "POST" });
    expect(post.headers.get("Location")).not.toBeNull();
    last = await request(pathOf(post.headers.get("Location")!), { method: "PATCH", body: blobA, headers: { "Content-Type": "application/octet-stream" } });
    await expectStatus(last, "PATCH", 202);
  });

  it("streamed: PUT ?digest= on the session (Content-Length: 0) answers 201 with a Location", async () => {
    const put = await request(withQuery(pathOf(last.headers.get("Location")!), { digest: digestA }), { method: "PUT", headers: { "Content-Length": "0" } });
    await expectStatus(put, "PUT", 201);
    expect(put.headers.get("Location")).not.toBeNull();
  });

  it("monolithic: GET of a nonexistent blob answers 404", async () => {
    await expectStatus(await request(`/v2/${repo}/blobs/${dummy}`), "GET", 404);
  });

  it("monolithic: POST ?digest= with the blob answers 201 or 202 with a Location; GET agrees", async () => {
    const config = fx.configs[1]!;
    const post = await request(`/v2/${repo}/blobs/uploads/?digest=${config.digest}`, { method: "POST", body: config.bytes, headers: octet(config.bytes) });
    await expectStatus(post, "POST", 201, 202);
    expect(post.headers.get("Location")).not.toBeNull();
    const get = await request(`/v2/${repo}/blobs/${config.digest}`);
    await expectStatus(get, "GET", post.status === 202 ? 404 : 200);
  });

  it("monolithic: POST answers 202, then PUT with the whole blob answers 201 with a Location; GET 200", async () => {
    for (const blob of [fx.configs[1]!, fx.layer]) {
      const post = await request(`/v2/${repo}/blobs/uploads/`, { method: "POST" });
      await expectStatus(post, "POST", 202);
      const put = await request(withQuery(pathOf(post.headers.get("Location")!), { digest: blob.digest }), { method: "PUT", body: blob.bytes, headers: octet(blob.bytes) });
      await expectStatus(put, "PUT", 201);
      expect(put.headers.get("Location")).not.toBeNull();
      await expectStatus(await request(`/v2/${repo}/blobs/${blob.digest}`), "GET", 200);
    }
  });

  it("chunked: a first PATCH that does not start at 0 answers 416", async () => {
    const post = await request(`/v2/${repo}/blobs/uploads/`, { method: "POST", headers: { "Content-Length": "0" } });
    const min = Number(post.headers.get("OCI-Chunk-Min-Length") ?? 0);
    if (min > split().first.byteLength) {
      // The suite rebuilds its blob so that the first chunk is OCI-Chunk-Min-Length bytes.
      blobB = randomBytes(min * 2 - 2, 4103);
      digestB = await digestOf(blobB);
    }
    const { first, second } = split();
    await expectStatus(await patch(post.headers.get("Location")!, second, first.byteLength), "out-of-order PATCH", 416);
  }, SLOW);

  it("chunked: PATCH of the first chunk answers 202 with Range 0-<last byte>", async () => {
    previous = await request(`/v2/${repo}/blobs/uploads/`, { method: "POST", headers: { "Content-Length": "0" } });
    const { first } = split();
    last = await patch(previous.headers.get("Location")!, first, 0);
    await expectStatus(last, "PATCH", 202);
    expect(last.headers.get("Range")).toBe(`0-${first.byteLength - 1}`);
  }, SLOW);

  it("chunked: retrying the first chunk on the POST's Location answers 416", async () => {
    await expectStatus(await patch(previous.headers.get("Location")!, split().first, 0), "retried PATCH", 416);
  }, SLOW);

  it("chunked: GET on the (stale) POST Location answers 204 with a Location and the Range so far", async () => {
    last = await request(pathOf(previous.headers.get("Location")!));
    await expectStatus(last, "GET upload", 204);
    expect(last.headers.get("Location")).not.toBeNull();
    expect(last.headers.get("Range")).toBe(`0-${split().first.byteLength - 1}`);
  });

  it("chunked: PATCH of the second chunk answers 202 with Range 0-<size−1> and a Location", async () => {
    const { first, second } = split();
    last = await patch(last.headers.get("Location")!, second, first.byteLength);
    await expectStatus(last, "PATCH", 202);
    expect(last.headers.get("Range")).toBe(`0-${blobB.byteLength - 1}`);
    expect(last.headers.get("Location")).not.toBeNull();
  }, SLOW);

  it("chunked: PUT ?digest= (Content-Length: 0) answers 201 with a Location", async () => {
    const put = await request(withQuery(pathOf(last.headers.get("Location")!), { digest: digestB }), { method: "PUT", headers: { "Content-Length": "0" } });
    await expectStatus(put, "PUT", 201);
    expect(put.headers.get("Location")).not.toBeNull();
  }, SLOW);

  it("cross-mount: POST ?mount=<digest nobody holds> without from answers 202 with a Location", async () => {
    const post = await request(`/v2/${crossmount}/blobs/uploads/?mount=${dummy}`, { method: "POST" });
    await expectStatus(post, "POST", 202);
    expect(post.headers.get("Location")).not.toBeNull();
  });

  it("cross-mount: POST ?mount=&from=<namespace> answers 201 at /v2/<crossmount>/blobs/<digest> (or 202 to a session)", async () => {
    last = await request(`/v2/${crossmount}/blobs/uploads/?mount=${digestA}&from=${repo}`, { method: "POST" });
    await expectStatus(last, "mount", 201, 202);
    const location = pathOf(last.headers.get("Location") ?? "");
    if (last.status === 202) expect(location.startsWith(`/v2/${crossmount}/blobs/uploads/`)).toBe(true);
    else {
      expect(location).toBe(`/v2/${crossmount}/blobs/${digestA}`);
      await expectStatus(await request(location), "GET mounted blob", 200);
    }
  });

  it("cross-mount without from, OCI_AUTOMATIC_CROSSMOUNT=true: answers 201", async () => {
    await expectStatus(await request(`/v2/${crossmount}/blobs/uploads/?mount=${digestA}`, { method: "POST" }), "mount", 201);
  });

  // OCI_AUTOMATIC_CROSSMOUNT=false (expecting 202 here) is not replayed: Pier always looks for
  // the blob in other repositories, which is the suite's default.

  it("manifests: GET of the nonexistent manifest .INVALID_MANIFEST_NAME answers exactly 404", async () => {
    await expectStatus(await request(`/v2/${repo}/manifests/.INVALID_MANIFEST_NAME`), "GET", 404);
  });

  it("manifests: PUT of manifest[1] under tags test0..test3 answers 201 with a Location", async () => {
    for (let i = 0; i < 4; i++) {
      const put = await request(`/v2/${repo}/manifests/test${i}`, { method: "PUT", body: fx.manifests[1]!.bytes, headers: { "Content-Type": OCI_MANIFEST } });
      await expectStatus(put, `PUT test${i}`, 201);
      expect(put.headers.get("Location")).not.toBeNull();
    }
  });

  it("manifests: a manifest with no layers (and no mediaType field) is accepted: 201 with a Location", async () => {
    const put = await request(`/v2/${repo}/manifests/emptylayer`, { method: "PUT", body: fx.emptyLayerManifest.bytes, headers: { "Content-Type": OCI_MANIFEST } });
    await expectStatus(put, "PUT", 201);
    expect(put.headers.get("Location")).not.toBeNull();
  });

  it("manifests: GET of manifest[1] by digest answers 200", async () => {
    await expectStatus(await request(`/v2/${repo}/manifests/${fx.manifests[1]!.digest}`, { headers: { Accept: OCI_MANIFEST } }), "GET", 200);
  });

  it("teardown: manifests 2xx or 405, then blobs 2xx, 404 or 405", async () => {
    await legacyDelete(`/v2/${repo}/manifests/${fx.manifests[1]!.digest}`, 405);
    await legacyDelete(`/v2/${repo}/manifests/${fx.emptyLayerManifest.digest}`, 405);
    for (const blob of [fx.configs[1]!, fx.layer]) await legacyDelete(`/v2/${repo}/blobs/${blob.digest}`, 404, 405);
  });
});

describe.each(ALGOS)("current suite: blob APIs (%s)", (algo: Algo) => {
  const repo = uniqueRepo("conformance/blobs");
  const repo2 = uniqueRepo("conformance/blobs2");
  const td = new TestData(`blobs-${algo}`);
  let min = SUITE_CHUNK_MIN;
  let maxLength = Infinity;

  const fresh = (size: number) => td.genBlob(size, { algo });
  const checkAndDelete = async (digest: string, bytes: Uint8Array) => {
    await blobHeadExists(repo, digest, bytes);
    await blobGetExistsFull(repo, digest, bytes);
    expect(await blobDelete(repo, digest)).toBe("pass");
  };

  it("post only: POST ?digest= with the blob answers 201 (202 then PUT = unsupported)", async () => {
    const { digest, bytes } = await fresh(512);
    expect(await blobPostOnly(repo, digest, bytes)).toBe("pass");
    await checkAndDelete(digest, bytes);
  });

  it("post+put: POST 202, PUT ?digest= with the blob 201; Location serves it", async () => {
    const { digest, bytes } = await fresh(512);
    await blobPostPut(repo, digest, bytes);
    await checkAndDelete(digest, bytes);
  });

  it("chunked single: POST (Content-Length: 0), one PATCH, empty PUT; OCI-Chunk-Min-Length read", async () => {
    const { digest, bytes } = await fresh(512);
    const post = await request(`/v2/${repo}/blobs/uploads/`, { method: "POST", headers: { "Content-Length": "0" } });
    maxLength = Number(post.headers.get("OCI-Chunk-Max-Length") ?? Infinity);
    const header = await blobPatchChunked(repo, digest, bytes);
    if (header !== null && Number(header) > min) min = Number(header);
    await checkAndDelete(digest, bytes);
  });

  it("the blobs the suite derives from OCI-Chunk-Min-Length (3×min−5 bytes) fit in one request (OCI-Chunk-Max-Length)", () => {
    expect(3 * min - 5, `3 × OCI-Chunk-Min-Length (${min}) − 5`).toBeLessThanOrEqual(maxLength);
  });

  it("stream: one PATCH without Content-Length, then an empty PUT ?digest= answers 201 with a Location", async () => {
    const { digest, bytes } = await fresh(512);
    await blobPatchStream(repo, digest, bytes);
    await checkAndDelete(digest, bytes);
  });

  it("mount: POST ?mount=&from=<repo2> of a blob in repo2 answers 201 (202 = unsupported)", async () => {
    const { digest, bytes } = await fresh(512);
    await pushBlobAny(repo2, digest, bytes);
    expect(await blobMount(repo, repo2, digest, bytes)).toBe("pass");
    await checkAndDelete(digest, bytes);
    expect(await blobDelete(repo2, digest)).toBe("pass");
  });

  it("mount anonymous: POST ?mount= without from answers 201 (202 = unsupported)", async () => {
    const { digest, bytes } = await fresh(512);
    await pushBlobAny(repo2, digest, bytes);
    expect(await blobMount(repo, "", digest, bytes)).toBe("pass");
    await checkAndDelete(digest, bytes);
    expect(await blobDelete(repo2, digest)).toBe("pass");
  });

  it("mount missing: POST ?mount=&from=<repo2> of a blob repo2 lacks must answer 202 (201 fails)", async () => {
    const { digest, bytes } = await fresh(512);
    expect(await blobMount(repo, repo2, digest, bytes)).toBe("unsupported");
    await checkAndDelete(digest, bytes);
  });

  it("post cancel (OCI_API_BLOBS_UPLOAD_CANCEL, on with OCI_VERSION=dev): DELETE on the session answers 204", async () => {
    const post = await request(`/v2/${repo}/blobs/uploads/`, { method: "POST" });
    await expectStatus(post, "POST", 202);
    await expectStatus(await request(pathOf(post.headers.get("Location")!), { method: "DELETE", headers: { "Content-Length": "0" } }), "DELETE", 204);
  });

  it.each([
    ["chunked multi", {}],
    ["chunked multi and put chunk", { putLastChunk: true }],
    ["chunked out-of-order", { outOfOrder: true }],
    ["chunked out-of-order and put chunk", { outOfOrder: true, putLastChunk: true }],
  ])("%s: a blob of 3×min−5 bytes in three chunks", async (_name, flags) => {
    const { digest, bytes } = await fresh(3 * min - 5);
    await blobPatchChunked(repo, digest, bytes, flags);
    await checkAndDelete(digest, bytes);
  }, SLOW);

  it.each([
    ["empty", new Uint8Array(0)],
    ["emptyJSON", bytesOf("{}")],
  ])("well-known content %s: push, HEAD (Content-Length), GET, DELETE", async (_name, bytes) => {
    const digest = await td.addBlob(bytes, { algo });
    await pushBlobAny(repo, digest, bytes);
    await checkAndDelete(digest, bytes);
  });

  describe("content that does not match its digest (3×min−5 bytes + 5 more)", () => {
    const corrupt = async () => {
      const { digest, bytes } = await fresh(3 * min - 5);
      const wrong = new Uint8Array(bytes.byteLength + 5);
      wrong.set(bytes);
      wrong.set(bytesOf("oh no"), bytes.byteLength);
      return { digest, wrong };
    };

    it("bad digest post only: POST ?digest= answers 400 (or 202 and the PUT 400)", async () => {
      const { digest, wrong } = await corrupt();
      await blobPostOnly(repo, digest, wrong, true);
    }, SLOW);

    it("bad digest post+put: the PUT answers 400", async () => {
      const { digest, wrong } = await corrupt();
      await blobPostPut(repo, digest, wrong, true);
    }, SLOW);

    it.each(["bad digest chunked", "bad digest chunked and put chunk"])("%s: the closing PUT answers 400", async () => {
      // The suite passes only the bad-digest flag in both cases: both close with an empty PUT.
      const { digest, wrong } = await corrupt();
      await blobPatchChunked(repo, digest, wrong, { bad: true });
    }, SLOW);

    it("bad digest stream: PATCH 202, the closing PUT answers 400", async () => {
      const { digest, wrong } = await corrupt();
      await blobPatchStream(repo, digest, wrong, true);
    }, SLOW);
  });
});
