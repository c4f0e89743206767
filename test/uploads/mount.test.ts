// Cross-repository mounts (OCI distribution spec v1.1, "Mounting a blob from another
// repository"): POST ?mount=<digest>&from=<repo> answers 201 when the blob can be mounted and
// falls back to an ordinary upload session (202) when it cannot. Blobs are stored once for the
// whole registry, so removing one repository's link must never break another's.
import { describe, expect, it } from "vitest";
import {
  blobStatus,
  digestOf,
  errorCode,
  expectBlob,
  openUpload,
  patchChunk,
  pushBlob,
  request,
  uniqueRepo,
  withQuery,
  freshBytesFrom,
} from "../helpers/registry";

const freshBytes = freshBytesFrom(1_700_000);

function mount(target: string, digest: string, from?: string): Promise<Response> {
  const params: Record<string, string> = { mount: digest };
  if (from !== undefined) params.from = from;
  return request(withQuery(`/v2/${target}/blobs/uploads/`, params), { method: "POST" });
}

async function expectMounted(response: Response, target: string, digest: string): Promise<void> {
  expect(response.status, await response.clone().text()).toBe(201);
  expect(response.headers.get("Location")).toBe(`/v2/${target}/blobs/${digest}`);
  expect(response.headers.get("Docker-Content-Digest")).toBe(digest);
}

async function expectUploadSession(response: Response, target: string): Promise<void> {
  expect(response.status, await response.clone().text()).toBe(202);
  expect(response.headers.get("Location")?.startsWith(`/v2/${target}/blobs/uploads/`)).toBe(true);
  expect(response.headers.get("Range")).toBe("0-0");
  expect(response.headers.get("Docker-Upload-UUID")).not.toBeNull();
}

describe("POST ?mount=&from=", () => {
  it("mounts a blob the source repository holds: 201 with Location and Docker-Content-Digest", async () => {
    const [source, target] = [uniqueRepo("mount/src"), uniqueRepo("mount/dst")];
    const { digest } = await pushBlob(source, freshBytes(2048));
    await expectMounted(await mount(target, digest, source), target, digest);
  });

  it("serves the mounted blob from the target repository byte for byte", async () => {
    const [source, target] = [uniqueRepo("mount/src"), uniqueRepo("mount/dst")];
    const bytes = freshBytes(2048);
    const { digest } = await pushBlob(source, bytes);
    expect((await mount(target, digest, source)).status).toBe(201);
    await expectBlob(target, digest, bytes);
  });

  it("mounts a sha512 blob", async () => {
    const [source, target] = [uniqueRepo("mount/src"), uniqueRepo("mount/dst")];
    const bytes = freshBytes(512);
    const digest = await digestOf(bytes, "sha512");
    const pushed = await request(`/v2/${source}/blobs/uploads/?digest=${digest}`, { method: "POST", body: bytes });
    expect(pushed.status).toBe(201);
    await expectMounted(await mount(target, digest, source), target, digest);
    await expectBlob(target, digest, bytes);
  });

  it("falls back to an upload session (202) when the source does not hold the blob", async () => {
    const [source, other, target] = [uniqueRepo("mount/src"), uniqueRepo("mount/other"), uniqueRepo("mount/dst")];
    await pushBlob(source, freshBytes(16));
    const { digest } = await pushBlob(other, freshBytes(1024));
    await expectUploadSession(await mount(target, digest, source), target);
    expect(await blobStatus(target, digest)).toBe(404);
  });

  it("falls back to an upload session (202) when no repository holds the blob", async () => {
    const target = uniqueRepo("mount/dst");
    const digest = await digestOf(freshBytes(1024));
    await expectUploadSession(await mount(target, digest, uniqueRepo("mount/nowhere")), target);
  });

  it("gives a fallback session that completes like any other", async () => {
    const target = uniqueRepo("mount/dst");
    const bytes = freshBytes(1024);
    const digest = await digestOf(bytes);
    const response = await mount(target, digest, uniqueRepo("mount/nowhere"));
    const location = response.headers.get("Location")!;
    expect((await patchChunk(location, bytes, 0)).status).toBe(202);
    expect((await request(withQuery(location, { digest }), { method: "PUT" })).status).toBe(201);
    await expectBlob(target, digest, bytes);
  });

  it("mounts without from when some repository holds the blob", async () => {
    const [source, target] = [uniqueRepo("mount/src"), uniqueRepo("mount/dst")];
    const bytes = freshBytes(4096);
    const { digest } = await pushBlob(source, bytes);
    await expectMounted(await mount(target, digest), target, digest);
    await expectBlob(target, digest, bytes);
  });

  it("falls back to an upload session without from when no repository holds the blob", async () => {
    const target = uniqueRepo("mount/dst");
    await expectUploadSession(await mount(target, await digestOf(freshBytes(4096))), target);
  });

  it("answers 201 when the target already holds the blob", async () => {
    const [source, target] = [uniqueRepo("mount/src"), uniqueRepo("mount/dst")];
    const bytes = freshBytes(100);
    const { digest } = await pushBlob(source, bytes);
    await pushBlob(target, bytes);
    await expectMounted(await mount(target, digest, source), target, digest);
  });

  it.each([
    ["a malformed digest", "sha256:nothex"],
    ["an unsupported algorithm", "md5:d41d8cd98f00b204e9800998ecf8427e"],
    ["an empty digest", ""],
  ])("refuses %s with 400 DIGEST_INVALID", async (_, digest) => {
    const source = uniqueRepo("mount/src");
    await pushBlob(source, freshBytes(10));
    const response = await mount(uniqueRepo("mount/dst"), digest, source);
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe("DIGEST_INVALID");
  });
});

describe("deleting a blob shared by repositories", () => {
  it("answers 202 to DELETE of a blob in one repository and 404 there afterwards", async () => {
    const repository = uniqueRepo("mount/del");
    const { digest } = await pushBlob(repository, freshBytes(300));
    expect((await request(`/v2/${repository}/blobs/${digest}`, { method: "DELETE" })).status).toBe(202);
    expect(await blobStatus(repository, digest)).toBe(404);
  });

  it("still serves a blob from repository B after it was deleted from repository A", async () => {
    const [first, second] = [uniqueRepo("mount/del-a"), uniqueRepo("mount/del-b")];
    const bytes = freshBytes(300);
    const { digest } = await pushBlob(first, bytes);
    await pushBlob(second, bytes);
    expect((await request(`/v2/${first}/blobs/${digest}`, { method: "DELETE" })).status).toBe(202);
    await expectBlob(second, digest, bytes);
  });

  it("still serves a mounted blob after it was deleted from the repository it was mounted from", async () => {
    const [source, target] = [uniqueRepo("mount/del-src"), uniqueRepo("mount/del-dst")];
    const bytes = freshBytes(300);
    const { digest } = await pushBlob(source, bytes);
    expect((await mount(target, digest, source)).status).toBe(201);
    expect((await request(`/v2/${source}/blobs/${digest}`, { method: "DELETE" })).status).toBe(202);
    await expectBlob(target, digest, bytes);
  });

  it("does not mount from a repository the blob was deleted from", async () => {
    const [source, keeper, target] = [uniqueRepo("mount/del-src"), uniqueRepo("mount/keeper"), uniqueRepo("mount/del-dst")];
    const bytes = freshBytes(300);
    const { digest } = await pushBlob(source, bytes);
    await pushBlob(keeper, bytes);
    expect((await request(`/v2/${source}/blobs/${digest}`, { method: "DELETE" })).status).toBe(202);
    await expectUploadSession(await mount(target, digest, source), target);
  });

  it("falls back to an upload session without from once every repository deleted the blob", async () => {
    const [source, target] = [uniqueRepo("mount/del-src"), uniqueRepo("mount/del-dst")];
    const { digest } = await pushBlob(source, freshBytes(300));
    expect((await request(`/v2/${source}/blobs/${digest}`, { method: "DELETE" })).status).toBe(202);
    await expectUploadSession(await mount(target, digest), target);
  });

  it("pushes a deleted blob into its repository again", async () => {
    const repository = uniqueRepo("mount/repush");
    const bytes = freshBytes(300);
    const { digest } = await pushBlob(repository, bytes);
    expect((await request(`/v2/${repository}/blobs/${digest}`, { method: "DELETE" })).status).toBe(202);
    await pushBlob(repository, bytes);
    await expectBlob(repository, digest, bytes);
  });

  it("answers 404 BLOB_UNKNOWN to a second DELETE", async () => {
    const repository = uniqueRepo("mount/del-twice");
    const { digest } = await pushBlob(repository, freshBytes(300));
    expect((await request(`/v2/${repository}/blobs/${digest}`, { method: "DELETE" })).status).toBe(202);
    const again = await request(`/v2/${repository}/blobs/${digest}`, { method: "DELETE" });
    expect(again.status).toBe(404);
    expect(await errorCode(again)).toBe("BLOB_UNKNOWN");
  });
});
