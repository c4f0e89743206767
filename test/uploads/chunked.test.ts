// Chunked pushes (OCI distribution spec v1.1, "Pushing a blob in chunks"): POST opens a
// session, PATCHes append chunks, GET reports progress, PUT ?digest= closes it.
import { describe, expect, it } from "vitest";
import { PART_SIZE } from "../../worker/storage/part-buffer";
import {
  BODY_CAP,
  digestOf,
  errorCode,
  expectBlob,
  MiB,
  openUpload,
  patchChunk,
  request,
  streamOf,
  uniqueRepo,
  withQuery,
  freshBytesFrom,
} from "../helpers/registry";

const freshBytes = freshBytesFrom(1_200_000);

const MAX_BODY_BYTES = BODY_CAP;

function status(location: string): Promise<Response> {
  return request(location);
}

function closeUpload(location: string, digest: string, last?: { bytes: Uint8Array; start: number }): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": "application/octet-stream" };
  if (last !== undefined) {
    headers["Content-Range"] = `${last.start}-${last.start + last.bytes.byteLength - 1}`;
    headers["Content-Length"] = String(last.bytes.byteLength);
  }
  return request(withQuery(location, { digest }), { method: "PUT", body: last?.bytes, headers });
}

describe("opening a session (POST /v2/<name>/blobs/uploads/)", () => {
  it("answers 202 with a Location and Range 0-0", async () => {
    const repository = uniqueRepo("chunked/open");
    const { response, location } = await openUpload(repository);
    expect(location.startsWith(`/v2/${repository}/blobs/uploads/`)).toBe(true);
    expect(response.headers.get("Range")).toBe("0-0");
  });

  it("names the session in Docker-Upload-UUID, as the last segment of Location", async () => {
    const { response, sessionId } = await openUpload(uniqueRepo("chunked/open"));
    expect(sessionId.length).toBeGreaterThan(0);
    expect(response.headers.get("Docker-Upload-UUID")).toBe(sessionId);
  });

  it("advertises OCI-Chunk-Min-Length and OCI-Chunk-Max-Length", async () => {
    const { response } = await openUpload(uniqueRepo("chunked/open"));
    const min = Number(response.headers.get("OCI-Chunk-Min-Length"));
    const max = Number(response.headers.get("OCI-Chunk-Max-Length"));
    expect(min).toBe(PART_SIZE);
    expect(max).toBe(MAX_BODY_BYTES);
    expect(min).toBeLessThanOrEqual(max);
  });

  it("opens a session without the trailing slash too", async () => {
    const response = await request(`/v2/${uniqueRepo("chunked/open")}/blobs/uploads`, { method: "POST" });
    expect(response.status).toBe(202);
    expect(response.headers.get("Location")).not.toBeNull();
  });

  it("gives every session its own id", async () => {
    const repository = uniqueRepo("chunked/open");
    const [first, second] = [await openUpload(repository), await openUpload(repository)];
    expect(first.sessionId).not.toBe(second.sessionId);
  });
});

describe("PATCH on a session", () => {
  it("accepts a chunk with Content-Range and Content-Length: 202 with Range 0-<end>", async () => {
    const { location, sessionId } = await openUpload(uniqueRepo("chunked/patch"));
    const response = await patchChunk(location, freshBytes(1000), 0);
    expect(response.status).toBe(202);
    expect(response.headers.get("Range")).toBe("0-999");
    expect(response.headers.get("Location")).toBe(location);
    expect(response.headers.get("Docker-Upload-UUID")).toBe(sessionId);
  });

  it("moves Range forward with each consecutive chunk", async () => {
    const { location } = await openUpload(uniqueRepo("chunked/patch"));
    expect((await patchChunk(location, freshBytes(1000), 0)).headers.get("Range")).toBe("0-999");
    expect((await patchChunk(location, freshBytes(24), 1000)).headers.get("Range")).toBe("0-1023");
    expect((await patchChunk(location, freshBytes(1), 1024)).headers.get("Range")).toBe("0-1024");
  });

  it("accepts a chunk streamed without Content-Length", async () => {
    const { location } = await openUpload(uniqueRepo("chunked/stream"));
    const response = await request(location, { method: "PATCH", body: streamOf(freshBytes(300 * 1024 + 7), 50 * 1024) });
    expect(response.status).toBe(202);
    expect(response.headers.get("Range")).toBe(`0-${300 * 1024 + 6}`);
  });

  it("accepts a streamed chunk that states only its Content-Range", async () => {
    const { location } = await openUpload(uniqueRepo("chunked/stream"));
    const response = await request(location, { method: "PATCH", body: streamOf(freshBytes(4096), 1000), headers: { "Content-Range": "0-4095" } });
    expect(response.status).toBe(202);
    expect(response.headers.get("Range")).toBe("0-4095");
  });

  it("appends a chunk without Content-Range at the current offset", async () => {
    const { location } = await openUpload(uniqueRepo("chunked/patch"));
    await patchChunk(location, freshBytes(10), 0);
    const response = await request(location, { method: "PATCH", body: freshBytes(5), headers: { "Content-Length": "5" } });
    expect(response.status).toBe(202);
    expect(response.headers.get("Range")).toBe("0-14");
  });
});

describe("GET on a session", () => {
  it("reports Range 0-0 before any byte arrived", async () => {
    const { location } = await openUpload(uniqueRepo("chunked/status"));
    const response = await status(location);
    expect(response.status).toBe(204);
    expect(response.headers.get("Range")).toBe("0-0");
  });

  it("reports progress: 204 with Range and Location", async () => {
    const { location, sessionId } = await openUpload(uniqueRepo("chunked/status"));
    await patchChunk(location, freshBytes(2048), 0);
    await patchChunk(location, freshBytes(2048), 2048);
    const response = await status(location);
    expect(response.status).toBe(204);
    expect(response.headers.get("Range")).toBe("0-4095");
    expect(response.headers.get("Location")).toBe(location);
    expect(response.headers.get("Docker-Upload-UUID")).toBe(sessionId);
  });
});

describe("the closing PUT ?digest=", () => {
  it("closes with a last chunk: 201 with Location and Docker-Content-Digest", async () => {
    const repository = uniqueRepo("chunked/close");
    const bytes = freshBytes(3000);
    const digest = await digestOf(bytes);
    const { location } = await openUpload(repository);
    await patchChunk(location, bytes.subarray(0, 2000), 0);
    const response = await closeUpload(location, digest, { bytes: bytes.subarray(2000), start: 2000 });
    expect(response.status, await response.clone().text()).toBe(201);
    expect(response.headers.get("Location")).toBe(`/v2/${repository}/blobs/${digest}`);
    expect(response.headers.get("Docker-Content-Digest")).toBe(digest);
    await expectBlob(repository, digest, bytes);
  });

  it("closes with a PUT that carries no body", async () => {
    const repository = uniqueRepo("chunked/close");
    const bytes = freshBytes(3000);
    const digest = await digestOf(bytes);
    const { location } = await openUpload(repository);
    await patchChunk(location, bytes.subarray(0, 1000), 0);
    await patchChunk(location, bytes.subarray(1000), 1000);
    const response = await closeUpload(location, digest);
    expect(response.status, await response.clone().text()).toBe(201);
    expect(response.headers.get("Docker-Content-Digest")).toBe(digest);
    await expectBlob(repository, digest, bytes);
  });

  it("closes with a last chunk that carries Content-Length only", async () => {
    const repository = uniqueRepo("chunked/close");
    const bytes = freshBytes(3000);
    const digest = await digestOf(bytes);
    const { location } = await openUpload(repository);
    await patchChunk(location, bytes.subarray(0, 1000), 0);
    const response = await request(withQuery(location, { digest }), { method: "PUT", body: bytes.slice(1000), headers: { "Content-Length": "2000" } });
    expect(response.status, await response.clone().text()).toBe(201);
    await expectBlob(repository, digest, bytes);
  });

  it("closes with a last chunk streamed without Content-Length", async () => {
    const repository = uniqueRepo("chunked/close");
    const bytes = freshBytes(300 * 1024);
    const digest = await digestOf(bytes);
    const { location } = await openUpload(repository);
    await patchChunk(location, bytes.subarray(0, 1000), 0);
    const response = await request(withQuery(location, { digest }), { method: "PUT", body: streamOf(bytes.subarray(1000), 40 * 1024) });
    expect(response.status, await response.clone().text()).toBe(201);
    await expectBlob(repository, digest, bytes);
  });
});

describe("session scope", () => {
  async function foreignLocation(): Promise<{ location: string; foreign: string }> {
    const { location, sessionId } = await openUpload(uniqueRepo("chunked/owner"));
    await patchChunk(location, freshBytes(100), 0);
    return { location, foreign: `/v2/${uniqueRepo("chunked/other")}/blobs/uploads/${sessionId}` };
  }

  async function expectUnknown(response: Response): Promise<void> {
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("BLOB_UPLOAD_UNKNOWN");
  }

  const attempts: [string, (location: string) => Promise<Response>][] = [
    ["GET", (location) => request(location)],
    ["PATCH", (location) => patchChunk(location, freshBytes(10), 100)],
    ["PUT", async (location) => request(withQuery(location, { digest: await digestOf(freshBytes(10)) }), { method: "PUT" })],
    ["PUT with the whole body", async (location) => {
      const bytes = freshBytes(10);
      return request(withQuery(location, { digest: await digestOf(bytes) }), { method: "PUT", body: bytes, headers: { "Content-Length": "10" } });
    }],
    ["DELETE", (location) => request(location, { method: "DELETE" })],
  ];

  it.each(attempts)("refuses %s on a session id used under another repository with 404 BLOB_UPLOAD_UNKNOWN", async (_, attempt) => {
    const { foreign } = await foreignLocation();
    await expectUnknown(await attempt(foreign));
  });

  it.each(attempts)("leaves the session intact after a foreign %s", async (_, attempt) => {
    const { location, foreign } = await foreignLocation();
    await attempt(foreign);
    const response = await status(location);
    expect(response.status).toBe(204);
    expect(response.headers.get("Range")).toBe("0-99");
  });

  it.each(attempts)("refuses %s on a session id that was never issued with 404 BLOB_UPLOAD_UNKNOWN", async (_, attempt) => {
    const unissued = `/v2/${uniqueRepo("chunked/unknown")}/blobs/uploads/${"A".repeat(43)}`;
    await expectUnknown(await attempt(unissued));
  });

  it.each(["not-a-session", "A".repeat(44), "A".repeat(42), `${"A".repeat(42)}.`, "0"])(
    "refuses the malformed session id %s with 404 BLOB_UPLOAD_UNKNOWN",
    async (sessionId) => {
      await expectUnknown(await status(`/v2/${uniqueRepo("chunked/malformed")}/blobs/uploads/${sessionId}`));
    },
  );

  it("cancels a session with DELETE: 204 (spec end-14)", async () => {
    const { location } = await openUpload(uniqueRepo("chunked/cancel"));
    await patchChunk(location, freshBytes(100), 0);
    const response = await request(location, { method: "DELETE" });
    expect(response.status).toBe(204);
  });

  it.each(attempts)("refuses %s on a cancelled session with 404 BLOB_UPLOAD_UNKNOWN", async (_, attempt) => {
    const { location } = await openUpload(uniqueRepo("chunked/cancel"));
    await patchChunk(location, freshBytes(100), 0);
    expect((await request(location, { method: "DELETE" })).status).toBe(204);
    await expectUnknown(await attempt(location));
  });

  it.each(attempts)("refuses %s on a session closed by a successful PUT with 404 BLOB_UPLOAD_UNKNOWN", async (_, attempt) => {
    const repository = uniqueRepo("chunked/closed");
    const bytes = freshBytes(100);
    const { location } = await openUpload(repository);
    await patchChunk(location, bytes, 0);
    expect((await closeUpload(location, await digestOf(bytes))).status).toBe(201);
    await expectUnknown(await attempt(location));
  });
});
