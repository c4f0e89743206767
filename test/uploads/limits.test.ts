// The request-body cap (PIER_MAX_BODY_BYTES, BODY_CAP under test): production Cloudflare refuses
// larger bodies with 413, and Pier enforces the same locally, whether the body states its
// length or is streamed without one. A refused chunk leaves the session as it was.
import { env, listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  BODY_CAP,
  blobStatus,
  collectServerErrors,
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

const freshBytes = freshBytesFrom(1_500_000);

const CAP = BODY_CAP;

const serverErrors = collectServerErrors();
afterEach(() => expect(serverErrors.errors.splice(0)).toEqual([]));
afterAll(() => serverErrors.stop());

async function expectTooLarge(response: Response): Promise<void> {
  expect(response.status).toBe(413);
  expect(await errorCode(response)).toBe("SIZE_INVALID");
}

/** Upload sessions of `repository` still open among the objects created since `before`. */
async function openSessionsOf(repository: string, before: Set<string>): Promise<number> {
  let open = 0;
  for (const id of await listDurableObjectIds(env.UPLOAD_SESSIONS)) {
    if (before.has(id.toString())) continue;
    open += await runInDurableObject(env.UPLOAD_SESSIONS.get(id), (_, state) => {
      const sql = state.storage.sql;
      if (sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'session'").toArray().length === 0) return 0;
      return sql.exec<{ n: number }>("SELECT count(*) AS n FROM session WHERE repository = ?", repository).one().n;
    });
  }
  return open;
}

async function offsetRange(location: string): Promise<string | null> {
  const response = await request(location);
  expect(response.status).toBe(204);
  return response.headers.get("Range");
}

describe("a body over the cap with Content-Length", () => {
  it("refuses a PATCH with 413 SIZE_INVALID", async () => {
    const { location } = await openUpload(uniqueRepo("limits/patch"));
    await expectTooLarge(await patchChunk(location, freshBytes(CAP + 1), 0));
  });

  it("leaves the session where it was after refusing a PATCH", async () => {
    const { location } = await openUpload(uniqueRepo("limits/patch"));
    await patchChunk(location, freshBytes(100), 0);
    expect((await patchChunk(location, freshBytes(CAP + 1), 100)).status).toBe(413);
    expect(await offsetRange(location)).toBe("0-99");
  });

  it("refuses a closing PUT with 413 SIZE_INVALID", async () => {
    const repository = uniqueRepo("limits/put");
    const bytes = freshBytes(CAP + 1);
    const digest = await digestOf(bytes);
    const { location } = await openUpload(repository);
    const response = await request(withQuery(location, { digest }), { method: "PUT", body: bytes, headers: { "Content-Length": String(bytes.byteLength) } });
    await expectTooLarge(response);
    expect(await blobStatus(repository, digest)).toBe(404);
  });

  it("refuses POST ?digest= with 413 SIZE_INVALID and stores nothing", async () => {
    const repository = uniqueRepo("limits/post");
    const bytes = freshBytes(CAP + 1);
    const digest = await digestOf(bytes);
    const response = await request(`/v2/${repository}/blobs/uploads/?digest=${digest}`, {
      method: "POST",
      body: bytes,
      headers: { "Content-Length": String(bytes.byteLength) },
    });
    await expectTooLarge(response);
    expect(await blobStatus(repository, digest)).toBe(404);
  });

  it("accepts a PATCH of exactly the cap", async () => {
    const { location } = await openUpload(uniqueRepo("limits/exact"));
    const response = await patchChunk(location, freshBytes(CAP), 0);
    expect(response.status, await response.clone().text()).toBe(202);
    expect(response.headers.get("Range")).toBe(`0-${CAP - 1}`);
  });
});

describe("a body over the cap streamed without Content-Length", () => {
  it("refuses a PATCH with 413 SIZE_INVALID", async () => {
    const { location } = await openUpload(uniqueRepo("limits/stream"));
    await expectTooLarge(await request(location, { method: "PATCH", body: streamOf(freshBytes(CAP + MiB)) }));
  });

  it("leaves the session offset unchanged after refusing a PATCH", async () => {
    const { location } = await openUpload(uniqueRepo("limits/stream"));
    await patchChunk(location, freshBytes(MiB), 0);
    expect((await request(location, { method: "PATCH", body: streamOf(freshBytes(CAP + MiB)) })).status).toBe(413);
    expect(await offsetRange(location)).toBe(`0-${MiB - 1}`);
  });

  it("keeps none of a refused chunk: the upload completes with exactly the accepted bytes", async () => {
    const repository = uniqueRepo("limits/stream");
    const bytes = freshBytes(2 * MiB);
    const digest = await digestOf(bytes);
    const { location } = await openUpload(repository);
    expect((await patchChunk(location, bytes.subarray(0, MiB), 0)).status).toBe(202);
    // Over the cap: by the time it is refused, a whole R2 part of it has been sent.
    expect((await request(location, { method: "PATCH", body: streamOf(freshBytes(CAP + MiB)) })).status).toBe(413);
    expect((await patchChunk(location, bytes.subarray(MiB), MiB)).status).toBe(202);
    const put = await request(withQuery(location, { digest }), { method: "PUT" });
    expect(put.status, await put.clone().text()).toBe(201);
    await expectBlob(repository, digest, bytes);
  });

  it("keeps none of a refused chunk across parts: later parts replace its part", async () => {
    const repository = uniqueRepo("limits/stream-parts");
    const bytes = freshBytes(20 * MiB);
    const digest = await digestOf(bytes);
    const { location } = await openUpload(repository);
    expect((await patchChunk(location, bytes.subarray(0, 4 * MiB), 0)).status).toBe(202);
    expect((await request(location, { method: "PATCH", body: streamOf(freshBytes(CAP + MiB)) })).status).toBe(413);
    expect((await patchChunk(location, bytes.subarray(4 * MiB, 14 * MiB), 4 * MiB)).status).toBe(202);
    expect((await patchChunk(location, bytes.subarray(14 * MiB), 14 * MiB)).status).toBe(202);
    const put = await request(withQuery(location, { digest }), { method: "PUT" });
    expect(put.status, await put.clone().text()).toBe(201);
    await expectBlob(repository, digest, bytes);
  });

  it("closes as an empty blob a session whose only chunk was refused", async () => {
    const repository = uniqueRepo("limits/stream-empty");
    const digest = await digestOf(new Uint8Array(0));
    const { location } = await openUpload(repository);
    expect((await request(location, { method: "PATCH", body: streamOf(freshBytes(CAP + MiB)) })).status).toBe(413);
    const put = await request(withQuery(location, { digest }), { method: "PUT" });
    expect(put.status, await put.clone().text()).toBe(201);
    await expectBlob(repository, digest, new Uint8Array(0));
  });

  it("refuses a streamed closing PUT with 413 SIZE_INVALID and keeps the session where it was", async () => {
    const repository = uniqueRepo("limits/stream-put");
    const { location } = await openUpload(repository);
    await patchChunk(location, freshBytes(100), 0);
    const digest = await digestOf(freshBytes(10));
    await expectTooLarge(await request(withQuery(location, { digest }), { method: "PUT", body: streamOf(freshBytes(CAP + MiB)) }));
    expect(await offsetRange(location)).toBe("0-99");
    expect(await blobStatus(repository, digest)).toBe(404);
  });

  it("refuses POST ?digest= with 413 SIZE_INVALID and stores nothing", async () => {
    const repository = uniqueRepo("limits/stream-post");
    const bytes = freshBytes(CAP + MiB);
    const digest = await digestOf(bytes);
    await expectTooLarge(await request(`/v2/${repository}/blobs/uploads/?digest=${digest}`, { method: "POST", body: streamOf(bytes) }));
    expect(await blobStatus(repository, digest)).toBe(404);
  });

  it("leaves no upload session behind after refusing POST ?digest=", async () => {
    const repository = uniqueRepo("limits/stream-post");
    const bytes = freshBytes(CAP + MiB);
    const before = new Set((await listDurableObjectIds(env.UPLOAD_SESSIONS)).map((id) => id.toString()));
    const response = await request(`/v2/${repository}/blobs/uploads/?digest=${await digestOf(bytes)}`, { method: "POST", body: streamOf(bytes) });
    expect(response.status).toBe(413);
    // The client never asked for a session: none may stay open holding R2 parts for a day.
    expect(await openSessionsOf(repository, before)).toBe(0);
  });
});
