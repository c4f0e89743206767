// Deleting blobs (OCI distribution spec v1.1, "Deleting Blobs"): 202, then the blob is gone
// from that repository only.
import { describe, expect, it } from "vitest";
import { digestOf, errorCode, pushBlob, randomBytes, request, uniqueRepo } from "../helpers/registry";

function del(repository: string, digest: string): Promise<Response> {
  return request(`/v2/${repository}/blobs/${digest}`, { method: "DELETE" });
}

describe("DELETE a blob", () => {
  it("answers 202", async () => {
    const repository = uniqueRepo("blobdel/ok");
    const { digest } = await pushBlob(repository, randomBytes(50, 1));
    expect((await del(repository, digest)).status).toBe(202);
  });

  it("makes a later GET answer 404 BLOB_UNKNOWN", async () => {
    const repository = uniqueRepo("blobdel/get");
    const { digest } = await pushBlob(repository, randomBytes(50, 2));
    await del(repository, digest);
    const response = await request(`/v2/${repository}/blobs/${digest}`);
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("BLOB_UNKNOWN");
  });

  it("makes a later HEAD answer 404", async () => {
    const repository = uniqueRepo("blobdel/head");
    const { digest } = await pushBlob(repository, randomBytes(50, 3));
    await del(repository, digest);
    expect((await request(`/v2/${repository}/blobs/${digest}`, { method: "HEAD" })).status).toBe(404);
  });

  it("answers a second DELETE with 404 BLOB_UNKNOWN", async () => {
    const repository = uniqueRepo("blobdel/twice");
    const { digest } = await pushBlob(repository, randomBytes(50, 4));
    await del(repository, digest);
    const response = await del(repository, digest);
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("BLOB_UNKNOWN");
  });

  it("answers an unknown blob with 404 BLOB_UNKNOWN", async () => {
    const repository = uniqueRepo("blobdel/unknown");
    await pushBlob(repository, randomBytes(50, 5));
    const response = await del(repository, await digestOf(randomBytes(50, 6)));
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("BLOB_UNKNOWN");
  });

  it("refuses an invalid digest with 400 DIGEST_INVALID", async () => {
    const response = await del(uniqueRepo("blobdel/bad"), "sha256:zz");
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe("DIGEST_INVALID");
  });

  it("leaves the same blob in another repository", async () => {
    const a = uniqueRepo("blobdel/a");
    const b = uniqueRepo("blobdel/b");
    const bytes = randomBytes(50, 7);
    const { digest } = await pushBlob(a, bytes);
    await pushBlob(b, bytes);
    expect((await del(a, digest)).status).toBe(202);
    const response = await request(`/v2/${b}/blobs/${digest}`);
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
  });

  it("lets the blob be pushed to the repository again", async () => {
    const repository = uniqueRepo("blobdel/repush");
    const bytes = randomBytes(50, 8);
    const { digest } = await pushBlob(repository, bytes);
    await del(repository, digest);
    await pushBlob(repository, bytes);
    const response = await request(`/v2/${repository}/blobs/${digest}`);
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
  });
});
