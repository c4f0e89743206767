// Pulling blobs (OCI distribution spec v1.1, "Pulling blobs", "Checking if content exists"):
// GET and HEAD of a blob the repository holds, and 404 BLOB_UNKNOWN for anything else.
import { describe, expect, it } from "vitest";
import { bodyBytes, digestOf, errorCode, pushBlob, pushImage, randomBytes, request, uniqueRepo } from "../helpers/registry";

describe("GET a blob", () => {
  it("answers 200 with the bytes, Content-Length, Docker-Content-Digest and ETag", async () => {
    const repository = uniqueRepo("blobs/get");
    const bytes = randomBytes(4096, 3);
    const { digest } = await pushBlob(repository, bytes);
    const response = await request(`/v2/${repository}/blobs/${digest}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Length")).toBe("4096");
    expect(response.headers.get("Docker-Content-Digest")).toBe(digest);
    expect(response.headers.get("ETag")).toBe(`"${digest}"`);
    expect(await bodyBytes(response)).toEqual(bytes);
  });

  it("serves a blob pushed under a sha512 digest with that digest", async () => {
    const repository = uniqueRepo("blobs/sha512");
    const bytes = randomBytes(2048, 12);
    const digest = await digestOf(bytes, "sha512");
    const pushed = await request(`/v2/${repository}/blobs/uploads/?digest=${digest}`, {
      method: "POST",
      body: bytes,
      headers: { "Content-Type": "application/octet-stream", "Content-Length": String(bytes.byteLength) },
    });
    expect(pushed.status, await pushed.clone().text()).toBe(201);
    const response = await request(`/v2/${repository}/blobs/${digest}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("Docker-Content-Digest")).toBe(digest);
    expect(await bodyBytes(response)).toEqual(bytes);
  });

  it("serves an empty blob", async () => {
    const repository = uniqueRepo("blobs/empty");
    const { digest } = await pushBlob(repository, new Uint8Array(0));
    const response = await request(`/v2/${repository}/blobs/${digest}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Length")).toBe("0");
    expect((await bodyBytes(response)).byteLength).toBe(0);
  });

  it("answers an unknown blob with 404 BLOB_UNKNOWN", async () => {
    const repository = uniqueRepo("blobs/unknown");
    await pushBlob(repository, randomBytes(10, 1));
    const response = await request(`/v2/${repository}/blobs/${await digestOf(randomBytes(10, 2))}`);
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("BLOB_UNKNOWN");
  });

  it("answers a blob of a repository that does not exist with 404 BLOB_UNKNOWN", async () => {
    const response = await request(`/v2/${uniqueRepo("blobs/norepo")}/blobs/${await digestOf(randomBytes(10, 2))}`);
    expect(response.status).toBe(404);
    expect(["BLOB_UNKNOWN", "NAME_UNKNOWN"]).toContain(await errorCode(response));
  });

  it("refuses an invalid digest with 400 DIGEST_INVALID", async () => {
    const response = await request(`/v2/${uniqueRepo("blobs/bad")}/blobs/sha256:nothex`);
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe("DIGEST_INVALID");
  });

  it("refuses an unsupported digest algorithm with 400 DIGEST_INVALID", async () => {
    const response = await request(`/v2/${uniqueRepo("blobs/md5")}/blobs/md5:${"a".repeat(32)}`);
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe("DIGEST_INVALID");
  });

  it("does not serve a manifest of the repository as a blob it never received", async () => {
    const repository = uniqueRepo("blobs/manifest");
    const { digest } = await pushImage(repository, "v1");
    const response = await request(`/v2/${repository}/blobs/${digest}`);
    // Either answer is allowed by the spec, but never a 5xx.
    expect([200, 404]).toContain(response.status);
  });
});

describe("HEAD a blob", () => {
  it("answers 200 with Content-Length, Docker-Content-Digest and ETag, and no body", async () => {
    const repository = uniqueRepo("blobs/head");
    const bytes = randomBytes(777, 4);
    const { digest } = await pushBlob(repository, bytes);
    const response = await request(`/v2/${repository}/blobs/${digest}`, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Length")).toBe("777");
    expect(response.headers.get("Docker-Content-Digest")).toBe(digest);
    expect(response.headers.get("ETag")).toBe(`"${digest}"`);
    expect((await bodyBytes(response)).byteLength).toBe(0);
  });

  it("answers an unknown blob with 404", async () => {
    const response = await request(`/v2/${uniqueRepo("blobs/headunknown")}/blobs/${await digestOf(randomBytes(5, 5))}`, { method: "HEAD" });
    expect(response.status).toBe(404);
  });
});

describe("no cross-repository oracle", () => {
  async function heldElsewhere(): Promise<{ owner: string; stranger: string; digest: string }> {
    const owner = uniqueRepo("oracle/owner");
    const { digest } = await pushBlob(owner, randomBytes(300, 8));
    return { owner, stranger: uniqueRepo("oracle/stranger"), digest };
  }

  it("answers GET of a blob held only by another repository with 404 BLOB_UNKNOWN", async () => {
    const { stranger, digest } = await heldElsewhere();
    const response = await request(`/v2/${stranger}/blobs/${digest}`);
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("BLOB_UNKNOWN");
  });

  it("answers HEAD of a blob held only by another repository with 404", async () => {
    const { stranger, digest } = await heldElsewhere();
    const response = await request(`/v2/${stranger}/blobs/${digest}`, { method: "HEAD" });
    expect(response.status).toBe(404);
    expect(response.headers.has("Docker-Content-Digest")).toBe(false);
  });

  it("answers GET with a Range of a blob held only by another repository with 404 BLOB_UNKNOWN", async () => {
    const { stranger, digest } = await heldElsewhere();
    const response = await request(`/v2/${stranger}/blobs/${digest}`, { headers: { Range: "bytes=0-9" } });
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("BLOB_UNKNOWN");
  });

  it("answers DELETE of a blob held only by another repository with 404 BLOB_UNKNOWN and leaves the owner's copy", async () => {
    const { owner, stranger, digest } = await heldElsewhere();
    const response = await request(`/v2/${stranger}/blobs/${digest}`, { method: "DELETE" });
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("BLOB_UNKNOWN");
    expect((await request(`/v2/${owner}/blobs/${digest}`)).status).toBe(200);
  });

  it("answers the same for a blob held elsewhere as for one held nowhere", async () => {
    const { stranger, digest } = await heldElsewhere();
    const elsewhere = await request(`/v2/${stranger}/blobs/${digest}`);
    const nowhere = await request(`/v2/${stranger}/blobs/${await digestOf(randomBytes(300, 9))}`);
    expect(elsewhere.status).toBe(nowhere.status);
    expect(await errorCode(elsewhere)).toBe(await errorCode(nowhere));
  });
});
