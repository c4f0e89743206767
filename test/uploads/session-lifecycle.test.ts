// The life of an UploadSession Durable Object: it survives restarts (offset, R2 multipart
// parts, the tail that does not fill a part yet and the hash state are all persisted), and an
// abandoned session expires by alarm, releasing its R2 multipart upload and its storage.
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { UploadSession } from "../../durable-objects/upload-session";
import {
  digestOf,
  errorCode,
  expectBlob,
  MiB,
  openUpload,
  patchChunk,
  request,
  uniqueRepo,
  uploadSessionStub,
  withQuery,
  putLastChunk,
  freshBytesFrom,
} from "../helpers/registry";

const freshBytes = freshBytesFrom(1_600_000);

const DAY_MS = 24 * 60 * 60 * 1000;

interface StoredSession {
  /** User tables left in the object's SQLite storage. */
  tables: string[];
  /** Rows of the `session` table (0 when the table is gone). */
  sessionRows: number;
  uploadId: string | null;
  parts: R2UploadedPart[];
  alarm: number | null;
}

/** What the session's Durable Object holds in storage, read from inside the object. */
function stored(sessionId: string): Promise<StoredSession> {
  return runInDurableObject(uploadSessionStub(sessionId), async (_, state) => {
    const sql = state.storage.sql;
    const tables = sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
      .toArray()
      .map((row) => row.name);
    const hasSession = tables.includes("session");
    const sessionRows = hasSession ? sql.exec<{ n: number }>("SELECT count(*) AS n FROM session").one().n : 0;
    const uploadId = hasSession ? (sql.exec<{ upload_id: string | null }>("SELECT upload_id FROM session").toArray()[0]?.upload_id ?? null) : null;
    const parts = tables.includes("parts")
      ? sql.exec<{ part_number: number; etag: string }>("SELECT part_number, etag FROM parts ORDER BY part_number").toArray().map((p) => ({ partNumber: p.part_number, etag: p.etag }))
      : [];
    return { tables, sessionRows, uploadId, parts, alarm: await state.storage.getAlarm() };
  });
}

/** A chunk body that sends `first` bytes, then holds until released, then sends `rest` bytes. */
function heldChunk(first: number, rest: number): { body: ReadableStream<Uint8Array>; release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const pieces = [() => freshBytes(first), async () => (await released, freshBytes(rest))];
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = pieces.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(await next());
    },
  });
  return { body, release };
}

/** Waits (without sleeping: one round trip per look) until the session is receiving a chunk. */
async function untilReceiving(stub: DurableObjectStub<UploadSession>): Promise<void> {
  for (let look = 0; look < 1000; look++) {
    // `busy` is the object's own "a chunk is being received" flag.
    if (await runInDurableObject(stub, (instance) => (instance as unknown as { busy: boolean }).busy)) return;
  }
  throw new Error("the chunk never reached the upload session");
}

async function expectUnknown(response: Response): Promise<void> {
  expect(response.status).toBe(404);
  expect(await errorCode(response)).toBe("BLOB_UPLOAD_UNKNOWN");
}

describe("an upload session across restarts", () => {
  it("reports the same offset after its object restarts", async () => {
    const { location, sessionId } = await openUpload(uniqueRepo("life/restart"));
    expect((await patchChunk(location, freshBytes(3 * MiB), 0)).status).toBe(202);
    await evictDurableObject(uploadSessionStub(sessionId));
    const response = await request(location);
    expect(response.status).toBe(204);
    expect(response.headers.get("Range")).toBe(`0-${3 * MiB - 1}`);
  });

  it("completes a multipart upload whose object restarted between every chunk, byte for byte", async () => {
    const repository = uniqueRepo("life/restart");
    const bytes = freshBytes(15 * MiB + 3);
    const digest = await digestOf(bytes);
    const { location, sessionId } = await openUpload(repository);
    const stub = uploadSessionStub(sessionId);
    // 5 MiB stays in the persisted tail; the next 7 MiB cut part 1 and leave a 4 MiB tail.
    for (const [start, end] of [[0, 5 * MiB], [5 * MiB, 12 * MiB], [12 * MiB, bytes.byteLength]] as const) {
      expect((await patchChunk(location, bytes.subarray(start, end), start)).status).toBe(202);
      await evictDurableObject(stub);
    }
    const put = await request(withQuery(location, { digest }), { method: "PUT" });
    expect(put.status, await put.clone().text()).toBe(201);
    await expectBlob(repository, digest, bytes);
  });

  it("takes the last chunk in the closing PUT after a restart", async () => {
    const repository = uniqueRepo("life/restart");
    const bytes = freshBytes(10 * MiB);
    const digest = await digestOf(bytes);
    const { location, sessionId } = await openUpload(repository);
    expect((await patchChunk(location, bytes.subarray(0, 9 * MiB), 0)).status).toBe(202);
    await evictDurableObject(uploadSessionStub(sessionId));
    const put = await putLastChunk(location, digest, bytes, 9 * MiB);
    expect(put.status, await put.clone().text()).toBe(201);
    await expectBlob(repository, digest, bytes);
  });

  it("verifies a sha512 digest after a restart", async () => {
    const repository = uniqueRepo("life/restart-sha512");
    const bytes = freshBytes(9 * MiB);
    const digest = await digestOf(bytes, "sha512");
    const { location, sessionId } = await openUpload(repository);
    expect((await patchChunk(location, bytes.subarray(0, 6 * MiB), 0)).status).toBe(202);
    await evictDurableObject(uploadSessionStub(sessionId));
    expect((await patchChunk(location, bytes.subarray(6 * MiB), 6 * MiB)).status).toBe(202);
    await evictDurableObject(uploadSessionStub(sessionId));
    const put = await request(withQuery(location, { digest }), { method: "PUT" });
    expect(put.status, await put.clone().text()).toBe(201);
    await expectBlob(repository, digest, bytes);
  });

  it("keeps many small chunks across restarts", async () => {
    const repository = uniqueRepo("life/restart-small");
    const bytes = freshBytes(9 * MiB + 1);
    const digest = await digestOf(bytes);
    const { location, sessionId } = await openUpload(repository);
    const stub = uploadSessionStub(sessionId);
    // Chunks that fill no part are appended to the stored tail; the fifth one cuts a part.
    for (const [start, end] of [[0, 1], [1, 2 * MiB], [2 * MiB, 4 * MiB], [4 * MiB, 7 * MiB], [7 * MiB, bytes.byteLength]] as const) {
      expect((await patchChunk(location, bytes.subarray(start, end), start)).status).toBe(202);
      await evictDurableObject(stub);
    }
    const put = await request(withQuery(location, { digest }), { method: "PUT" });
    expect(put.status, await put.clone().text()).toBe(201);
    await expectBlob(repository, digest, bytes);
  });

  it("still refuses a wrong digest after a restart", async () => {
    const repository = uniqueRepo("life/restart-wrong");
    const { location, sessionId } = await openUpload(repository);
    expect((await patchChunk(location, freshBytes(2 * MiB), 0)).status).toBe(202);
    await evictDurableObject(uploadSessionStub(sessionId));
    const put = await request(withQuery(location, { digest: await digestOf(freshBytes(2 * MiB)) }), { method: "PUT" });
    expect(put.status).toBe(400);
    expect(await errorCode(put)).toBe("DIGEST_INVALID");
  });
});

describe("an abandoned upload session", () => {
  it("is scheduled to expire about a day after its last request", async () => {
    const { location, sessionId } = await openUpload(uniqueRepo("life/alarm"));
    await patchChunk(location, freshBytes(100), 0);
    const { alarm } = await stored(sessionId);
    expect(alarm).not.toBeNull();
    expect(alarm! - Date.now()).toBeGreaterThan(DAY_MS - 60_000);
    expect(alarm! - Date.now()).toBeLessThanOrEqual(DAY_MS);
  });

  it("is unknown once its alarm fired: 404 BLOB_UPLOAD_UNKNOWN", async () => {
    const { location, sessionId } = await openUpload(uniqueRepo("life/alarm"));
    await patchChunk(location, freshBytes(100), 0);
    expect(await runDurableObjectAlarm(uploadSessionStub(sessionId))).toBe(true);
    await expectUnknown(await request(location));
  });

  it("refuses further chunks once its alarm fired", async () => {
    const { location, sessionId } = await openUpload(uniqueRepo("life/alarm"));
    await patchChunk(location, freshBytes(100), 0);
    await runDurableObjectAlarm(uploadSessionStub(sessionId));
    await expectUnknown(await patchChunk(location, freshBytes(100), 100));
  });

  it("aborts its R2 multipart upload when it expires", async () => {
    const { location, sessionId } = await openUpload(uniqueRepo("life/alarm-multipart"));
    expect((await patchChunk(location, freshBytes(9 * MiB), 0)).status).toBe(202);
    const before = await stored(sessionId);
    expect(before.uploadId).not.toBeNull();
    expect(before.parts.length).toBe(1);
    expect(await runDurableObjectAlarm(uploadSessionStub(sessionId))).toBe(true);
    expect(await env.BLOBS.head(`uploads/${sessionId}`)).toBeNull();
    // An aborted multipart upload can no longer be completed with the parts it had.
    const completing = env.BLOBS.resumeMultipartUpload(`uploads/${sessionId}`, before.uploadId!).complete(before.parts);
    await expect(completing).rejects.toThrow();
  });

  it("leaves no storage behind when it expires", async () => {
    const { location, sessionId } = await openUpload(uniqueRepo("life/alarm-storage"));
    expect((await patchChunk(location, freshBytes(9 * MiB), 0)).status).toBe(202);
    expect((await stored(sessionId)).sessionRows).toBe(1);
    await runDurableObjectAlarm(uploadSessionStub(sessionId));
    const after = await stored(sessionId);
    expect(after.sessionRows).toBe(0);
    expect(after.tables).toEqual([]);
    expect(after.alarm).toBeNull();
  });

  it("expires after a restart too", async () => {
    const { location, sessionId } = await openUpload(uniqueRepo("life/alarm-restart"));
    expect((await patchChunk(location, freshBytes(9 * MiB), 0)).status).toBe(202);
    const { uploadId, parts } = await stored(sessionId);
    await evictDurableObject(uploadSessionStub(sessionId));
    expect(await runDurableObjectAlarm(uploadSessionStub(sessionId))).toBe(true);
    await expectUnknown(await request(location));
    await expect(env.BLOBS.resumeMultipartUpload(`uploads/${sessionId}`, uploadId!).complete(parts)).rejects.toThrow();
  });
});

describe("ending a session", () => {
  it("aborts the R2 multipart upload of a cancelled session", async () => {
    const { location, sessionId } = await openUpload(uniqueRepo("life/cancel"));
    expect((await patchChunk(location, freshBytes(9 * MiB), 0)).status).toBe(202);
    const { uploadId, parts } = await stored(sessionId);
    expect((await request(location, { method: "DELETE" })).status).toBe(204);
    await expect(env.BLOBS.resumeMultipartUpload(`uploads/${sessionId}`, uploadId!).complete(parts)).rejects.toThrow();
  });

  it("leaves no storage or alarm behind after a cancel", async () => {
    const { location, sessionId } = await openUpload(uniqueRepo("life/cancel"));
    await patchChunk(location, freshBytes(100), 0);
    expect((await request(location, { method: "DELETE" })).status).toBe(204);
    const after = await stored(sessionId);
    expect(after.tables).toEqual([]);
    expect(after.alarm).toBeNull();
  });

  it("leaves no storage or alarm behind after a successful PUT", async () => {
    const bytes = freshBytes(100);
    const { location, sessionId } = await openUpload(uniqueRepo("life/closed"));
    await patchChunk(location, bytes, 0);
    expect((await request(withQuery(location, { digest: await digestOf(bytes) }), { method: "PUT" })).status).toBe(201);
    const after = await stored(sessionId);
    expect(after.tables).toEqual([]);
    expect(after.alarm).toBeNull();
  });

  it("refuses with 404 BLOB_UPLOAD_UNKNOWN a chunk still arriving when the session was cancelled", async () => {
    const { location, sessionId } = await openUpload(uniqueRepo("life/cancel-inflight"));
    const chunk = heldChunk(MiB, 9 * MiB);
    const patching = request(location, { method: "PATCH", body: chunk.body });
    await untilReceiving(uploadSessionStub(sessionId));
    expect((await request(location, { method: "DELETE" })).status).toBe(204);
    chunk.release();
    await expectUnknown(await patching);
  });

  it("leaves no storage behind when cancelled while a chunk is arriving", async () => {
    const { location, sessionId } = await openUpload(uniqueRepo("life/cancel-inflight"));
    const chunk = heldChunk(MiB, 9 * MiB);
    const patching = request(location, { method: "PATCH", body: chunk.body });
    await untilReceiving(uploadSessionStub(sessionId));
    expect((await request(location, { method: "DELETE" })).status).toBe(204);
    chunk.release();
    await (await patching).arrayBuffer();
    await expectUnknown(await request(location));
    expect((await stored(sessionId)).tables).toEqual([]);
  });

  it("creates no storage for a session id that was never issued", async () => {
    const sessionId = `${crypto.randomUUID().replace(/-/g, "")}${"B".repeat(11)}`;
    expect(sessionId.length).toBe(43);
    await expectUnknown(await request(`/v2/${uniqueRepo("life/unissued")}/blobs/uploads/${sessionId}`));
    const after = await stored(sessionId);
    expect(after.tables).toEqual([]);
    expect(after.alarm).toBeNull();
  });
});
