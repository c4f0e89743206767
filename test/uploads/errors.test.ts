// Upload errors (OCI distribution spec v1.1, "Pushing blobs" and "Error Codes"): chunks out of
// order (416), lengths that disagree (400 SIZE_INVALID), the closing PUT's digest
// (DIGEST_INVALID), invalid repository names (NAME_INVALID). None of them is ever a 5xx.
// The body cap (413) is in limits.test.ts.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  blobStatus,
  collectServerErrors,
  digestOf,
  errorCode,
  expectBlob,
  openUpload,
  patchChunk,
  request,
  streamOf,
  uniqueRepo,
  withQuery,
  freshBytesFrom,
} from "../helpers/registry";

const freshBytes = freshBytesFrom(1_400_000);

const serverErrors = collectServerErrors();
afterEach(() => expect(serverErrors.errors.splice(0)).toEqual([]));
afterAll(() => serverErrors.stop());

async function expectError(response: Response, status: number, code: string): Promise<void> {
  expect(response.status).toBe(status);
  expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
  expect(await errorCode(response)).toBe(code);
}

async function offsetRange(location: string): Promise<string | null> {
  const response = await request(location);
  expect(response.status).toBe(204);
  return response.headers.get("Range");
}

describe("a PATCH out of order", () => {
  it("returns 416 BLOB_UPLOAD_INVALID when a PATCH skips bytes", async () => {
    const { location } = await openUpload(uniqueRepo("errors/order"));
    await patchChunk(location, freshBytes(100), 0);
    await expectError(await patchChunk(location, freshBytes(100), 150), 416, "BLOB_UPLOAD_INVALID");
  });

  it("says where to resume on a 416: Range and Location", async () => {
    const { location } = await openUpload(uniqueRepo("errors/order"));
    await patchChunk(location, freshBytes(100), 0);
    const response = await patchChunk(location, freshBytes(100), 150);
    expect(response.status).toBe(416);
    expect(response.headers.get("Range")).toBe("0-99");
    expect(response.headers.get("Location")).toBe(location);
  });

  it("returns 416 when a PATCH re-sends bytes already received", async () => {
    const { location } = await openUpload(uniqueRepo("errors/order"));
    await patchChunk(location, freshBytes(100), 0);
    await expectError(await patchChunk(location, freshBytes(100), 50), 416, "BLOB_UPLOAD_INVALID");
  });

  it("returns 416 when the first PATCH does not start at byte 0", async () => {
    const { location } = await openUpload(uniqueRepo("errors/order"));
    const response = await patchChunk(location, freshBytes(100), 1);
    await expectError(response.clone(), 416, "BLOB_UPLOAD_INVALID");
    expect(response.headers.get("Range")).toBe("0-0");
  });

  it("leaves the offset unchanged after a 416", async () => {
    const { location } = await openUpload(uniqueRepo("errors/order"));
    await patchChunk(location, freshBytes(100), 0);
    await patchChunk(location, freshBytes(100), 150);
    expect(await offsetRange(location)).toBe("0-99");
  });

  it("keeps the session usable after a 416", async () => {
    const repository = uniqueRepo("errors/order");
    const bytes = freshBytes(300);
    const digest = await digestOf(bytes);
    const { location } = await openUpload(repository);
    await patchChunk(location, bytes.subarray(0, 100), 0);
    expect((await patchChunk(location, bytes.subarray(200), 200)).status).toBe(416);
    expect((await patchChunk(location, bytes.subarray(100), 100)).status).toBe(202);
    expect((await request(withQuery(location, { digest }), { method: "PUT" })).status).toBe(201);
    await expectBlob(repository, digest, bytes);
  });

  it("returns 416 when the closing PUT's last chunk skips bytes, and keeps the session", async () => {
    const { location } = await openUpload(uniqueRepo("errors/order"));
    await patchChunk(location, freshBytes(100), 0);
    const last = freshBytes(10);
    const response = await request(withQuery(location, { digest: await digestOf(last) }), {
      method: "PUT",
      body: last,
      headers: { "Content-Range": "200-209", "Content-Length": "10" },
    });
    await expectError(response, 416, "BLOB_UPLOAD_INVALID");
    expect(await offsetRange(location)).toBe("0-99");
  });

  it("refuses a malformed Content-Range with BLOB_UPLOAD_INVALID", async () => {
    const { location } = await openUpload(uniqueRepo("errors/range"));
    const response = await request(location, { method: "PATCH", body: freshBytes(10), headers: { "Content-Range": "ten-bytes" } });
    expect([400, 416]).toContain(response.status);
    expect(await errorCode(response)).toBe("BLOB_UPLOAD_INVALID");
  });
});

describe("lengths that disagree", () => {
  it("returns 400 SIZE_INVALID when Content-Length disagrees with Content-Range", async () => {
    const { location } = await openUpload(uniqueRepo("errors/length"));
    const response = await request(location, {
      method: "PATCH",
      body: freshBytes(50),
      headers: { "Content-Range": "0-99", "Content-Length": "50" },
    });
    await expectError(response, 400, "SIZE_INVALID");
  });

  it("leaves the offset unchanged when Content-Length disagrees with Content-Range", async () => {
    const { location } = await openUpload(uniqueRepo("errors/length"));
    await patchChunk(location, freshBytes(10), 0);
    await request(location, { method: "PATCH", body: freshBytes(50), headers: { "Content-Range": "10-109", "Content-Length": "50" } });
    expect(await offsetRange(location)).toBe("0-9");
  });

  it("returns 400 SIZE_INVALID when a streamed chunk is shorter than its Content-Range", async () => {
    const { location } = await openUpload(uniqueRepo("errors/length"));
    await patchChunk(location, freshBytes(10), 0);
    const response = await request(location, { method: "PATCH", body: streamOf(freshBytes(50), 16), headers: { "Content-Range": "10-109" } });
    await expectError(response, 400, "SIZE_INVALID");
    expect(await offsetRange(location)).toBe("0-9");
  });

  it("returns 400 SIZE_INVALID when a streamed chunk is longer than its Content-Range", async () => {
    const { location } = await openUpload(uniqueRepo("errors/length"));
    const response = await request(location, { method: "PATCH", body: streamOf(freshBytes(150), 16), headers: { "Content-Range": "0-99" } });
    await expectError(response, 400, "SIZE_INVALID");
    expect(await offsetRange(location)).toBe("0-0");
  });
});

describe("a body that ends before its Content-Length", () => {
  // A client that goes away mid-body, as workerd delivers it here: the stream ends early.
  const SHORT_BODY_CODES = ["BLOB_UPLOAD_INVALID", "SIZE_INVALID"];

  it("refuses a POST ?digest= with 400 and stores nothing", async () => {
    const repository = uniqueRepo("errors/short");
    const bytes = freshBytes(2000);
    const digest = await digestOf(bytes);
    const response = await request(`/v2/${repository}/blobs/uploads/?digest=${digest}`, {
      method: "POST",
      body: streamOf(bytes.subarray(0, 1000)),
      headers: { "Content-Length": "2000" },
    });
    expect(response.status).toBe(400);
    expect(SHORT_BODY_CODES).toContain(await errorCode(response));
    expect(await blobStatus(repository, digest)).toBe(404);
  });

  it("refuses a closing PUT carrying the whole blob with 400 and stores nothing", async () => {
    const repository = uniqueRepo("errors/short");
    const bytes = freshBytes(2000);
    const digest = await digestOf(bytes);
    const { location } = await openUpload(repository);
    const response = await request(withQuery(location, { digest }), {
      method: "PUT",
      body: streamOf(bytes.subarray(0, 1000)),
      headers: { "Content-Length": "2000" },
    });
    expect(response.status).toBe(400);
    expect(SHORT_BODY_CODES).toContain(await errorCode(response));
    expect(await blobStatus(repository, digest)).toBe(404);
  });

  it("refuses a PATCH with 400 SIZE_INVALID and keeps the offset", async () => {
    const { location } = await openUpload(uniqueRepo("errors/short"));
    await patchChunk(location, freshBytes(10), 0);
    const response = await request(location, { method: "PATCH", body: streamOf(freshBytes(1000)), headers: { "Content-Length": "2000" } });
    await expectError(response, 400, "SIZE_INVALID");
    expect(await offsetRange(location)).toBe("0-9");
  });
});

describe("the digest of the closing PUT", () => {
  async function mismatchedUpload(repository: string): Promise<{ location: string; sent: string; claimed: string; put: Response }> {
    const bytes = freshBytes(2000);
    const claimed = await digestOf(freshBytes(2000));
    const { location } = await openUpload(repository);
    await patchChunk(location, bytes, 0);
    const put = await request(withQuery(location, { digest: claimed }), { method: "PUT" });
    return { location, sent: await digestOf(bytes), claimed, put };
  }

  it("returns 400 DIGEST_INVALID when the digest does not match the chunks", async () => {
    const { put } = await mismatchedUpload(uniqueRepo("errors/digest"));
    await expectError(put, 400, "DIGEST_INVALID");
  });

  it("makes no blob visible after a digest mismatch", async () => {
    const repository = uniqueRepo("errors/digest");
    const { put, claimed, sent } = await mismatchedUpload(repository);
    expect(put.status).toBe(400);
    expect(await blobStatus(repository, claimed)).toBe(404);
    expect(await blobStatus(repository, sent)).toBe(404);
  });

  it("ends the session after a digest mismatch", async () => {
    const { put, location } = await mismatchedUpload(uniqueRepo("errors/digest"));
    expect(put.status).toBe(400);
    await expectError(await request(location), 404, "BLOB_UPLOAD_UNKNOWN");
  });

  it("ends the session after a digest mismatch on a PUT that carries the whole blob", async () => {
    const repository = uniqueRepo("errors/digest-whole");
    const claimed = await digestOf(freshBytes(2000));
    const { location } = await openUpload(repository);
    const put = await request(withQuery(location, { digest: claimed }), { method: "PUT", body: freshBytes(2000), headers: { "Content-Length": "2000" } });
    await expectError(put, 400, "DIGEST_INVALID");
    expect(await blobStatus(repository, claimed)).toBe(404);
    await expectError(await request(location), 404, "BLOB_UPLOAD_UNKNOWN");
  });

  it("returns 400 DIGEST_INVALID for a closing PUT without ?digest=", async () => {
    const { location } = await openUpload(uniqueRepo("errors/no-digest"));
    await patchChunk(location, freshBytes(10), 0);
    await expectError(await request(location, { method: "PUT" }), 400, "DIGEST_INVALID");
  });

  it("keeps the session open after a closing PUT without ?digest=", async () => {
    const repository = uniqueRepo("errors/no-digest");
    const bytes = freshBytes(10);
    const { location } = await openUpload(repository);
    await patchChunk(location, bytes, 0);
    expect((await request(location, { method: "PUT" })).status).toBe(400);
    expect(await offsetRange(location)).toBe("0-9");
    expect((await request(withQuery(location, { digest: await digestOf(bytes) }), { method: "PUT" })).status).toBe(201);
  });

  it("returns 400 DIGEST_INVALID for a closing PUT with a malformed digest", async () => {
    const { location } = await openUpload(uniqueRepo("errors/bad-digest"));
    await patchChunk(location, freshBytes(10), 0);
    await expectError(await request(withQuery(location, { digest: "sha256:not-hex" }), { method: "PUT" }), 400, "DIGEST_INVALID");
  });
});

describe("repository names", () => {
  it.each([
    ["uppercase letters", "Errors/UpperCase"],
    ["a double dot", "errors/a..b"],
    ["a component starting with dots", "errors/..b"],
    ["a percent-encoded slash", "errors%2Fencoded"],
    ["percent-encoded dots", "errors/a%2E%2Eb"],
    ["a trailing separator", "errors/name-"],
    ["an empty component", "errors//name"],
    ["256 characters", "a".repeat(256)],
  ])("refuses a name with %s with 400 NAME_INVALID", async (_, name) => {
    await expectError(await request(`/v2/${name}/blobs/uploads/`, { method: "POST" }), 400, "NAME_INVALID");
  });

  it("refuses an invalid name on a monolithic POST ?digest=", async () => {
    const bytes = freshBytes(10);
    const response = await request(`/v2/Errors/Mono/blobs/uploads/?digest=${await digestOf(bytes)}`, { method: "POST", body: bytes });
    await expectError(response, 400, "NAME_INVALID");
  });

  it.each(["GET", "PATCH", "PUT", "DELETE"])("refuses an invalid name on %s of a session", async (method) => {
    const { sessionId } = await openUpload(uniqueRepo("errors/names"));
    const response = await request(`/v2/Errors/Names/blobs/uploads/${sessionId}`, { method });
    await expectError(response, 400, "NAME_INVALID");
  });

  it("accepts a name of 255 characters", async () => {
    const name = `${"a".repeat(200)}/${uniqueRepo("b").padEnd(54, "c")}`;
    expect(name.length).toBe(255);
    expect((await request(`/v2/${name}/blobs/uploads/`, { method: "POST" })).status).toBe(202);
  });
});
