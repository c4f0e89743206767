// UploadSession: one Durable Object per blob upload (OCI distribution spec v1.1, "Pushing
// blobs"), named by the session id in the upload URL. It is the consistency boundary of one
// upload: it owns the byte offset, the R2 multipart upload, and a SHA-256 state that is saved
// with every accepted chunk, so a restarted object resumes where the last chunk ended and the
// digest is verified at the end without reading the blob back.
//
// Each append is all-or-nothing: bytes, part list, hash state and the tail that does not fill
// a part yet are saved in one SQLite transaction when the chunk has fully arrived. A chunk that
// fails (client gone, body over the cap, wrong length) leaves the session as it was; parts it
// already sent to R2 carry numbers past the saved list and are overwritten by the next chunk.
//
// sha512: only sha256 is tracked while bytes arrive (tracking both would double the CPU cost
// of every push for a rare algorithm). A sha512 upload is verified at the end by reading the
// assembled object back once through the native digest (crypto.DigestStream): one extra R2
// read of the blob, at native hashing speed. Blobs smaller than a part are hashed in memory.
import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../worker/env";
import { ResumableSha256 } from "../worker/hash/sha256";
import { type Digest, digestAlgorithm, digestHex, toHex } from "../worker/oci/digest";
import { contentKey, uploadKey } from "../worker/storage/keys";
import { PartBuffer } from "../worker/storage/part-buffer";
import { drain } from "../worker/streams";
import { SessionStore, type SessionState } from "./upload-session-store";

/** Abandoned sessions are released after this long without a request. */
export const SESSION_IDLE_TTL_MS = 24 * 60 * 60 * 1000;

export interface ChunkExpectation {
  /** Where the client says the chunk starts (Content-Range), when it says so. */
  start: number | null;
  /** How long the client says the chunk is (Content-Length / Content-Range), when it says so. */
  length: number | null;
  /** The request-body cap: a streamed chunk is cut off past it. */
  maxBytes: number;
}

export type AppendResult =
  | { ok: true; offset: number }
  | { ok: false; problem: "unknown-session" }
  | { ok: false; problem: "out-of-order" | "too-large" | "length-mismatch" | "body-failed" | "busy"; offset: number };

export type CompleteResult =
  | { ok: true; size: number; objectKey: string | null }
  | Exclude<AppendResult, { ok: true }>
  | { ok: false; problem: "digest-mismatch"; offset: number };

export class UploadSession extends DurableObject<Bindings> {
  private readonly store = new SessionStore(this.ctx.storage);
  /** A chunk is being received; a second concurrent request on the same session is refused. */
  private busy = false;

  /** Starts the session for `repository`. */
  async open(repository: string, sessionId: string): Promise<void> {
    this.store.create(repository, sessionId, new ResumableSha256().exportState(), Date.now());
    await this.ctx.storage.setAlarm(Date.now() + SESSION_IDLE_TTL_MS);
  }

  /** Bytes received so far, or null when the session does not exist for `repository`. */
  async offset(repository: string): Promise<number | null> {
    return this.store.load(repository)?.offset ?? null;
  }

  async append(repository: string, body: ReadableStream<Uint8Array> | null, expect: ChunkExpectation): Promise<AppendResult> {
    const state = this.store.load(repository);
    // Refused chunks are read before answering (see drain()), here as everywhere.
    if (state === null) return drain(body, expect.maxBytes).then(() => ({ ok: false, problem: "unknown-session" }));
    if (this.busy) return drain(body, expect.maxBytes).then(() => ({ ok: false, problem: "busy", offset: state.offset }));
    this.busy = true;
    try {
      const result = await this.receive(state, body, expect);
      if (!result.ok) return this.store.holdsSession() ? result : { ok: false, problem: "unknown-session" };
      await this.ctx.storage.setAlarm(Date.now() + SESSION_IDLE_TTL_MS);
      return { ok: true, offset: result.state.offset };
    } finally {
      this.busy = false;
    }
  }

  /**
   * Takes the last chunk (if any), checks the digest and makes the bytes durable in R2.
   * With `alreadyStored`, the registry holds these bytes already: they are verified, then
   * dropped. Either way the session ends unless the chunk itself failed.
   */
  async complete(
    repository: string,
    digest: Digest,
    body: ReadableStream<Uint8Array> | null,
    expect: ChunkExpectation,
    alreadyStored: boolean,
  ): Promise<CompleteResult> {
    const loaded = this.store.load(repository);
    if (loaded === null) return drain(body, expect.maxBytes).then(() => ({ ok: false, problem: "unknown-session" }));
    if (this.busy) return drain(body, expect.maxBytes).then(() => ({ ok: false, problem: "busy", offset: loaded.offset }));
    this.busy = true;
    try {
      const received = await this.receive(loaded, body, expect);
      if (!received.ok) return this.store.holdsSession() ? received : { ok: false, problem: "unknown-session" };
      const { state, tail } = received;
      const verdict = await this.verifyAndStore(state, tail, digest, alreadyStored);
      await this.end(state);
      return verdict.ok ? verdict : { ok: false, problem: "digest-mismatch", offset: state.offset };
    } finally {
      this.busy = false;
    }
  }

  /**
   * Cancels the upload and releases its parts; false when there was no such session. A chunk
   * still arriving then fails as "unknown session": it finds the storage gone when it saves.
   */
  async cancel(repository: string): Promise<boolean> {
    const state = this.store.load(repository);
    if (state === null) return false;
    await this.end(state);
    return true;
  }

  /** Idle too long: the client is gone. Release the R2 parts and forget the session. */
  override async alarm(): Promise<void> {
    const state = this.store.loadAny();
    if (state !== null) await this.end(state);
  }

  // --- receiving bytes ---------------------------------------------------------------------

  private async receive(
    state: SessionState,
    body: ReadableStream<Uint8Array> | null,
    expect: ChunkExpectation,
  ): Promise<{ ok: true; state: SessionState; tail: PartBuffer } | Exclude<AppendResult, { ok: true }>> {
    if (body !== null && expect.start !== null && expect.start !== state.offset) {
      await drain(body, expect.maxBytes);
      return { ok: false, problem: "out-of-order", offset: state.offset };
    }
    const tail = new PartBuffer();
    for (const chunk of this.store.loadTail()) tail.push(chunk);
    if (body === null) return { ok: true, state, tail };
    try {
      const hash = ResumableSha256.restore(state.hashState);
      const parts = [...state.parts];
      let uploadId = state.uploadId;
      let inFlight: Promise<void> = Promise.resolve();
      let received = 0;
      // While no part is cut, the stored tail stays valid and these bytes are only appended.
      const appended: Uint8Array[] = [];

      const reader = body.getReader();
      for (;;) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch {
          return { ok: false, problem: "body-failed", offset: state.offset };
        }
        if (next.done) break;
        received += next.value.byteLength;
        if (received > expect.maxBytes || (expect.length !== null && received > expect.length)) {
          await reader.cancel().catch(() => {});
          await inFlight.catch(() => {});
          return { ok: false, problem: received > expect.maxBytes ? "too-large" : "length-mismatch", offset: state.offset };
        }
        hash.update(next.value);
        tail.push(next.value);
        // Once a part is cut the whole tail is rewritten; holding on to chunks would grow memory.
        if (parts.length === state.parts.length) appended.push(next.value);
        for (let part = tail.takePart(); part !== null; part = tail.takePart()) {
          // One part in flight while the next one fills: R2 I/O overlaps with receiving.
          await inFlight;
          uploadId ??= await this.startMultipart(state);
          inFlight = this.uploadPart(state.sessionId, uploadId, parts, part);
        }
      }
      await inFlight;
      if (expect.length !== null && received !== expect.length) {
        return { ok: false, problem: "length-mismatch", offset: state.offset };
      }
      const next: SessionState = { ...state, offset: state.offset + received, parts, uploadId, hashState: hash.exportState() };
      const partsCut = parts.length > state.parts.length;
      this.store.saveChunk(next, partsCut ? { replace: tail.peekChunks() } : { append: appended });
      return { ok: true, state: next, tail };
    } catch (error) {
      // R2 failed while taking parts: the client may retry the chunk; nothing was saved.
      console.error("upload session: storing a chunk failed", error);
      return { ok: false, problem: "body-failed", offset: state.offset };
    }
  }

  private async startMultipart(state: SessionState): Promise<string> {
    // Cancelled while this chunk was arriving: a new multipart upload would never be aborted.
    if (!this.store.holdsSession()) throw new Error("the upload session was cancelled");
    const upload = await this.env.BLOBS.createMultipartUpload(uploadKey(state.sessionId));
    // Saved at once so that the alarm can abort it even if this chunk fails.
    this.store.saveUploadId(upload.uploadId);
    return upload.uploadId;
  }

  /**
   * Sends one part to R2. A Blob joins the received chunks natively, outside the JavaScript
   * heap (a JS copy per part doubled the garbage of an upload; a stream written chunk by chunk
   * from JavaScript cost more CPU than the copy).
   */
  private async uploadPart(sessionId: string, uploadId: string, parts: R2UploadedPart[], chunks: Uint8Array[]): Promise<void> {
    const upload = this.env.BLOBS.resumeMultipartUpload(uploadKey(sessionId), uploadId);
    const partNumber = parts.length + 1;
    parts.push({ partNumber, etag: "" });
    parts[partNumber - 1] = await upload.uploadPart(partNumber, new Blob(chunks));
  }

  // --- finishing -------------------------------------------------------------------------

  private async verifyAndStore(
    state: SessionState,
    tail: PartBuffer,
    digest: Digest,
    alreadyStored: boolean,
  ): Promise<{ ok: true; size: number; objectKey: string | null } | { ok: false }> {
    const algorithm = digestAlgorithm(digest);
    // No part was ever accepted: the bytes are all in the tail. (A multipart upload started by
    // a chunk that then failed may exist; ending the session aborts it.)
    const small = state.parts.length === 0;
    const last = tail.takeAll();

    if (algorithm === "sha256" || small) {
      const actual =
        algorithm === "sha256"
          ? ResumableSha256.restore(state.hashState).digestHex()
          : toHex(await crypto.subtle.digest("SHA-512", last));
      if (actual !== digestHex(digest)) return { ok: false };
      if (alreadyStored) return { ok: true, size: state.offset, objectKey: null };
      if (small) {
        // One PUT under a content key of its own; R2 re-checks the digest as it writes.
        const key = contentKey(digest);
        await this.env.BLOBS.put(key, last, { [algorithm]: digestHex(digest) });
        return { ok: true, size: state.offset, objectKey: key };
      }
      await this.finishMultipart(state, last);
      return { ok: true, size: state.offset, objectKey: uploadKey(state.sessionId) };
    }

    // sha512 across parts: assemble, then read back once through the native digest.
    await this.finishMultipart(state, last);
    const key = uploadKey(state.sessionId);
    const matches = (await this.readBackDigest(key)) === digestHex(digest);
    if (!matches || alreadyStored) await this.env.BLOBS.delete(key);
    if (!matches) return { ok: false };
    return { ok: true, size: state.offset, objectKey: alreadyStored ? null : key };
  }

  private async finishMultipart(state: SessionState, last: Uint8Array): Promise<void> {
    const parts = [...state.parts];
    if (last.byteLength > 0) await this.uploadPart(state.sessionId, state.uploadId!, parts, [last]);
    await this.env.BLOBS.resumeMultipartUpload(uploadKey(state.sessionId), state.uploadId!).complete(parts);
    // The multipart upload no longer exists: ending the session must not abort it.
    state.uploadId = null;
  }

  private async readBackDigest(key: string): Promise<string | null> {
    const object = await this.env.BLOBS.get(key);
    if (object === null) return null;
    const digestStream = new crypto.DigestStream("SHA-512");
    await object.body.pipeTo(digestStream);
    return toHex(await digestStream.digest);
  }

  /** Forgets the session; aborts its multipart upload unless it was completed into a blob. */
  private async end(state: SessionState): Promise<void> {
    if (state.uploadId !== null) {
      await this.env.BLOBS.resumeMultipartUpload(uploadKey(state.sessionId), state.uploadId)
        .abort()
        .catch((error: unknown) => console.warn("upload session: aborting the multipart upload failed", error));
    }
    await this.store.clear();
  }
}
