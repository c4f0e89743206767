// Monolithic pushes (OCI distribution spec v1.1, "Pushing a blob monolithically"): the whole
// blob in one POST ?digest=, or a POST that opens a session followed by one PUT ?digest=.
import { describe, expect, it } from "vitest";
import {
  blobStatus,
  digestOf,
  errorCode,
  expectBlob,
  MiB,
  openUpload,
  pushBlob,
  request,
  streamOf,
  uniqueRepo,
  withQuery,
  freshBytesFrom,
} from "../helpers/registry";

// Fresh bytes for every test: identical bytes would take the "already stored" path instead.
const freshBytes = freshBytesFrom(1_100_000);

const EMPTY_SHA256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

function postDigest(repository: string, digest: string, body: Uint8Array | ReadableStream<Uint8Array>): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": "application/octet-stream" };
  if (body instanceof Uint8Array) headers["Content-Length"] = String(body.byteLength);
  return request(`/v2/${repository}/blobs/uploads/?digest=${digest}`, { method: "POST", body, headers });
}

async function postThenPut(repository: string, digest: string, body: Uint8Array): Promise<Response> {
  const { location } = await openUpload(repository);
  return request(withQuery(location, { digest }), {
    method: "PUT",
    body,
    headers: { "Content-Type": "application/octet-stream", "Content-Length": String(body.byteLength) },
  });
}

async function expectCreated(response: Response, repository: string, digest: string): Promise<void> {
  expect(response.status, await response.clone().text()).toBe(201);
  expect(response.headers.get("Location")).toBe(`/v2/${repository}/blobs/${digest}`);
  expect(response.headers.get("Docker-Content-Digest")).toBe(digest);
}

async function expectDigestInvalid(response: Response): Promise<void> {
  expect(response.status).toBe(400);
  expect(await errorCode(response)).toBe("DIGEST_INVALID");
}

describe("POST ?digest= with the whole blob", () => {
  it("answers 201 with the blob's Location and Docker-Content-Digest", async () => {
    const repository = uniqueRepo("mono/post");
    const bytes = freshBytes(4096);
    const digest = await digestOf(bytes);
    await expectCreated(await postDigest(repository, digest, bytes), repository, digest);
  });

  it("serves the pushed blob back byte for byte", async () => {
    const repository = uniqueRepo("mono/post");
    const bytes = freshBytes(2 * MiB + 17);
    const digest = await digestOf(bytes);
    expect((await postDigest(repository, digest, bytes)).status).toBe(201);
    await expectBlob(repository, digest, bytes);
  });

  it("accepts a body streamed without Content-Length", async () => {
    const repository = uniqueRepo("mono/stream");
    const bytes = freshBytes(700 * 1024 + 3);
    const digest = await digestOf(bytes);
    await expectCreated(await postDigest(repository, digest, streamOf(bytes, 64 * 1024)), repository, digest);
    await expectBlob(repository, digest, bytes);
  });

  it("accepts a streamed body larger than one R2 part", async () => {
    const repository = uniqueRepo("mono/stream");
    const bytes = freshBytes(10 * MiB + 5);
    const digest = await digestOf(bytes);
    await expectCreated(await postDigest(repository, digest, streamOf(bytes)), repository, digest);
    await expectBlob(repository, digest, bytes);
  });

  it("refuses content that does not match the digest with 400 DIGEST_INVALID", async () => {
    const repository = uniqueRepo("mono/wrong");
    const claimed = await digestOf(freshBytes(1024));
    await expectDigestInvalid(await postDigest(repository, claimed, freshBytes(1024)));
  });

  it("makes nothing visible when the digest does not match", async () => {
    const repository = uniqueRepo("mono/wrong");
    const sent = freshBytes(1024);
    const claimed = await digestOf(freshBytes(1024));
    expect((await postDigest(repository, claimed, sent)).status).toBe(400);
    expect(await blobStatus(repository, claimed)).toBe(404);
    expect(await blobStatus(repository, await digestOf(sent))).toBe(404);
  });

  it("refuses a streamed body that does not match the digest and makes nothing visible", async () => {
    const repository = uniqueRepo("mono/wrong-stream");
    const claimed = await digestOf(freshBytes(9 * MiB));
    await expectDigestInvalid(await postDigest(repository, claimed, streamOf(freshBytes(9 * MiB))));
    expect(await blobStatus(repository, claimed)).toBe(404);
  });

  it("accepts a sha512 digest and serves the blob under it", async () => {
    const repository = uniqueRepo("mono/sha512");
    const bytes = freshBytes(3000);
    const digest = await digestOf(bytes, "sha512");
    await expectCreated(await postDigest(repository, digest, bytes), repository, digest);
    await expectBlob(repository, digest, bytes);
  });

  it("accepts a sha512 digest over a streamed body", async () => {
    const repository = uniqueRepo("mono/sha512-stream");
    const bytes = freshBytes(300 * 1024);
    const digest = await digestOf(bytes, "sha512");
    await expectCreated(await postDigest(repository, digest, streamOf(bytes, 32 * 1024)), repository, digest);
    await expectBlob(repository, digest, bytes);
  });

  it("refuses content that does not match a sha512 digest", async () => {
    const repository = uniqueRepo("mono/sha512-wrong");
    const claimed = await digestOf(freshBytes(3000), "sha512");
    await expectDigestInvalid(await postDigest(repository, claimed, freshBytes(3000)));
    expect(await blobStatus(repository, claimed)).toBe(404);
  });

  it.each([
    ["an unsupported algorithm (md5)", "md5:d41d8cd98f00b204e9800998ecf8427e"],
    ["an unregistered algorithm (sha384)", `sha384:${"a".repeat(96)}`],
    ["uppercase hex", `sha256:${"A".repeat(64)}`],
    ["a short encoding", "sha256:abc123"],
    ["non-hex characters", `sha256:${"g".repeat(64)}`],
    ["no algorithm", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    ["an empty value", ""],
  ])("refuses %s with 400 DIGEST_INVALID", async (_, digest) => {
    const repository = uniqueRepo("mono/malformed");
    await expectDigestInvalid(await postDigest(repository, encodeURIComponent(digest), freshBytes(16)));
  });

  it("pushes a zero-length blob and serves it with Content-Length 0", async () => {
    const repository = uniqueRepo("mono/empty");
    await expectCreated(await postDigest(repository, EMPTY_SHA256, new Uint8Array(0)), repository, EMPTY_SHA256);
    await expectBlob(repository, EMPTY_SHA256, new Uint8Array(0));
  });

  it("refuses an empty body under the digest of other bytes", async () => {
    const repository = uniqueRepo("mono/empty-wrong");
    const claimed = await digestOf(freshBytes(16));
    await expectDigestInvalid(await postDigest(repository, claimed, new Uint8Array(0)));
    expect(await blobStatus(repository, claimed)).toBe(404);
  });
});

describe("POST, then PUT ?digest= with the whole blob", () => {
  it("answers 201 with Location and Docker-Content-Digest and serves the bytes", async () => {
    const repository = uniqueRepo("mono/put");
    const bytes = freshBytes(MiB + 1);
    const digest = await digestOf(bytes);
    await expectCreated(await postThenPut(repository, digest, bytes), repository, digest);
    await expectBlob(repository, digest, bytes);
  });

  it("refuses content that does not match the digest and makes nothing visible", async () => {
    const repository = uniqueRepo("mono/put-wrong");
    const claimed = await digestOf(freshBytes(2048));
    await expectDigestInvalid(await postThenPut(repository, claimed, freshBytes(2048)));
    expect(await blobStatus(repository, claimed)).toBe(404);
  });

  it("accepts a sha512 digest", async () => {
    const repository = uniqueRepo("mono/put-sha512");
    const bytes = freshBytes(5000);
    const digest = await digestOf(bytes, "sha512");
    await expectCreated(await postThenPut(repository, digest, bytes), repository, digest);
    await expectBlob(repository, digest, bytes);
  });

  it("refuses content that does not match a sha512 digest", async () => {
    const repository = uniqueRepo("mono/put-sha512-wrong");
    const claimed = await digestOf(freshBytes(5000), "sha512");
    await expectDigestInvalid(await postThenPut(repository, claimed, freshBytes(5000)));
    expect(await blobStatus(repository, claimed)).toBe(404);
  });

  it("pushes a zero-length blob with a PUT that carries no body", async () => {
    const repository = uniqueRepo("mono/put-empty");
    const { location } = await openUpload(repository);
    const response = await request(withQuery(location, { digest: EMPTY_SHA256 }), { method: "PUT" });
    await expectCreated(response, repository, EMPTY_SHA256);
    await expectBlob(repository, EMPTY_SHA256, new Uint8Array(0));
  });
});

describe("content the registry already holds in another repository", () => {
  it("pushes it into a new repository", async () => {
    const [first, second] = [uniqueRepo("mono/held-a"), uniqueRepo("mono/held-b")];
    const bytes = freshBytes(8192);
    const { digest } = await pushBlob(first, bytes);
    await expectCreated(await postDigest(second, digest, bytes), second, digest);
    await expectBlob(second, digest, bytes);
  });

  it("pushes it into a new repository when streamed", async () => {
    const [first, second] = [uniqueRepo("mono/held-a"), uniqueRepo("mono/held-b")];
    const bytes = freshBytes(9 * MiB);
    const { digest } = await pushBlob(first, bytes);
    await expectCreated(await postDigest(second, digest, streamOf(bytes)), second, digest);
    await expectBlob(second, digest, bytes);
  });

  it("refuses other bytes of the same length under its digest", async () => {
    const [first, second] = [uniqueRepo("mono/held-a"), uniqueRepo("mono/held-b")];
    const bytes = freshBytes(8192);
    const { digest } = await pushBlob(first, bytes);
    await expectDigestInvalid(await postDigest(second, digest, freshBytes(8192)));
    expect(await blobStatus(second, digest)).toBe(404);
    await expectBlob(first, digest, bytes);
  });

  it("refuses a prefix of its bytes under its digest", async () => {
    const [first, second] = [uniqueRepo("mono/held-a"), uniqueRepo("mono/held-b")];
    const bytes = freshBytes(8192);
    const { digest } = await pushBlob(first, bytes);
    await expectDigestInvalid(await postDigest(second, digest, bytes.slice(0, 4096)));
    expect(await blobStatus(second, digest)).toBe(404);
  });

  it("refuses other bytes streamed under its digest", async () => {
    const [first, second] = [uniqueRepo("mono/held-a"), uniqueRepo("mono/held-b")];
    const { digest } = await pushBlob(first, freshBytes(9 * MiB));
    await expectDigestInvalid(await postDigest(second, digest, streamOf(freshBytes(9 * MiB))));
    expect(await blobStatus(second, digest)).toBe(404);
  });

  it("refuses other bytes sent with POST then PUT under its digest", async () => {
    const [first, second] = [uniqueRepo("mono/held-a"), uniqueRepo("mono/held-b")];
    const { digest } = await pushBlob(first, freshBytes(4096));
    await expectDigestInvalid(await postThenPut(second, digest, freshBytes(4096)));
    expect(await blobStatus(second, digest)).toBe(404);
  });
});
