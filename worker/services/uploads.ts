// Blob uploads (OCI distribution spec v1.1, "Pushing blobs"): sessions, chunks, the closing
// PUT, monolithic pushes and cross-repository mounts. The session itself lives in an
// UploadSession Durable Object; this module turns its answers into the spec's errors and
// records finished blobs in D1.
import type { AppendResult, ChunkExpectation, CompleteResult } from "../../durable-objects/upload-session";
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import type { Digest } from "../oci/digest";
import { digestHex } from "../oci/digest";
import type { RepoName } from "../oci/names";
import { uploadRangeHeader } from "../oci/ranges";
import { digestOfStream, writeVerified } from "../storage/blob-store";
import { database } from "../storage/db/client";
import { findRepositoryBlob, repositoriesHolding } from "../storage/db/queries/blobs";
import { admitBlob, admitUploaded, claimStoredBlob, collectedMeanwhile, linkStoredBlob, recordStoredBlob } from "./content-writes";

/** A chunk as the request describes it. */
export interface IncomingChunk {
  body: ReadableStream<Uint8Array> | null;
  /** From Content-Range. */
  start: number | null;
  /** From Content-Length (or Content-Range); null when streamed without one. */
  length: number | null;
  maxBytes: number;
}

/** Where a client continues an upload; routes put it in `Location`. */
export type UploadUrl = (sessionId: string) => string;

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** Opens a session: an unguessable id (256 random bits) bound to the repository. */
export async function startUpload(env: Bindings, repository: RepoName): Promise<string> {
  const sessionId = randomSessionId();
  await session(env, sessionId).open(repository, sessionId);
  return sessionId;
}

export async function uploadOffset(env: Bindings, repository: RepoName, sessionId: string): Promise<number> {
  const offset = SESSION_ID.test(sessionId) ? await session(env, sessionId).offset(repository) : null;
  if (offset === null) throw unknownUpload(sessionId);
  return offset;
}

export async function appendChunk(env: Bindings, repository: RepoName, sessionId: string, chunk: IncomingChunk, url: UploadUrl): Promise<number> {
  if (!SESSION_ID.test(sessionId)) throw unknownUpload(sessionId);
  const stub = session(env, sessionId);
  // A chunk that says where it ends is checked against the project's storage limit before it
  // is received (as new bytes: the digest is known at the closing PUT, which checks again).
  // A refused upload cannot go on: its parts are released now, not when the session expires.
  if (chunk.start !== null && chunk.length !== null) {
    await admitBlob(env, repository, null, chunk.start + chunk.length).catch(async (error: unknown) => {
      await stub.cancel(repository);
      throw error;
    });
  }
  const result = await stub.append(repository, chunk.body, expectation(chunk));
  if (!result.ok) throw chunkError(result, sessionId, url);
  return result.offset;
}

/** The closing PUT: last chunk (optional), digest check, blob recorded in the repository. */
export async function completeUpload(
  env: Bindings,
  repository: RepoName,
  sessionId: string,
  digest: Digest,
  chunk: IncomingChunk,
  url: UploadUrl,
): Promise<void> {
  if (!SESSION_ID.test(sessionId)) throw unknownUpload(sessionId);
  const stub = session(env, sessionId);
  // The whole blob in this one request (POST, then PUT with the body): write it straight to
  // R2, which checks the digest natively, and close the session.
  if (chunk.body !== null && chunk.length !== null && chunk.start === null && (await stub.offset(repository)) === 0) {
    try {
      await pushMonolithic(env, repository, digest, chunk.body, chunk.length);
    } finally {
      // Succeeded or not, the closing PUT ends the session, as on the chunked path.
      await stub.cancel(repository);
    }
    return;
  }
  const result = await finishSession(env, stub, repository, digest, chunk.body, expectation(chunk));
  if (!result.ok) throw completeError(result, sessionId, digest, url);
}

/**
 * A whole blob streamed without a length (POST ?digest= with chunked transfer encoding): it
 * goes through a session of its own, which the client never sees and which is closed whatever
 * happens, so a refused body leaves nothing behind.
 */
export async function pushStreamed(env: Bindings, repository: RepoName, digest: Digest, body: ReadableStream<Uint8Array>, maxBytes: number): Promise<void> {
  const sessionId = randomSessionId();
  const stub = session(env, sessionId);
  await stub.open(repository, sessionId);
  const result = await finishSession(env, stub, repository, digest, body, { start: null, length: null, maxBytes });
  if (!result.ok) {
    await stub.cancel(repository);
    if (result.problem === "digest-mismatch") throw digestMismatch(digest);
    if (result.problem === "too-large") throw tooLarge();
    throw bodyFailed();
  }
}

/** Closes a session (last chunk, digest check) and records the blob when that succeeded. */
async function finishSession(
  env: Bindings,
  stub: ReturnType<typeof session>,
  repository: RepoName,
  digest: Digest,
  body: ReadableStream<Uint8Array> | null,
  expect: ChunkExpectation,
): Promise<CompleteResult> {
  // Bytes the registry already holds are verified and dropped instead of stored again.
  const alreadyStored = (await claimStoredBlob(env, digest)) !== null;
  const result = await stub.complete(repository, digest, body, expect, alreadyStored);
  if (result.ok) {
    // The session has ended; its bytes are linked only if the project has room for them.
    await admitUploaded(env, repository, { digest, size: result.size, objectKey: result.objectKey });
    await record(env, repository, digest, result.size, result.objectKey);
  }
  return result;
}

export async function cancelUpload(env: Bindings, repository: RepoName, sessionId: string): Promise<void> {
  if (!SESSION_ID.test(sessionId) || !(await session(env, sessionId).cancel(repository))) throw unknownUpload(sessionId);
}

/**
 * A whole blob with a known digest and length (POST ?digest=, or a PUT carrying everything).
 * Bytes the registry already holds are hashed and dropped instead of written again.
 */
export async function pushMonolithic(env: Bindings, repository: RepoName, digest: Digest, body: ReadableStream<Uint8Array>, length: number): Promise<void> {
  await admitBlob(env, repository, digest, length);
  if ((await claimStoredBlob(env, digest)) !== null) {
    const seen = await digestOfStream(body, digest);
    if (seen === null) throw bodyFailed();
    if (seen.hex !== digestHex(digest) || seen.size !== length) throw digestMismatch(digest);
    if (!(await linkStoredBlob(env, repository, digest))) throw collectedMeanwhile(digest);
    return;
  }
  const written = await writeVerified(env.BLOBS, digest, body, length);
  if (!written.ok) throw written.reason === "digest-mismatch" ? digestMismatch(digest) : bodyFailed();
  await record(env, repository, digest, length, written.objectKey);
}

/**
 * Mounts a blob from another repository (POST ?mount=&from=). Without `from`, any repository
 * holding the blob will do. Returns false when nothing could be mounted; the caller then opens
 * an ordinary upload session, as the spec asks. 403 DENIED when the project has no room for it
 * (a digest the project holds always fits).
 */
export async function mountBlob(
  env: Bindings,
  repository: RepoName,
  digest: Digest,
  from: RepoName | null,
  mayRead: (source: RepoName) => Promise<boolean>,
): Promise<boolean> {
  const db = database(env.DB);
  const holders = from === null ? await repositoriesHolding(db, digest, 20) : (await findRepositoryBlob(db, from, digest)) ? [from] : [];
  // One at a time: the first readable holder is enough, and most mounts name exactly one.
  let readable = false;
  for (const holder of holders) if ((readable = await mayRead(holder))) break;
  if (!readable) return false;
  await admitBlob(env, repository, digest, null);
  // Collected meanwhile: the client gets an upload session and sends the bytes again.
  return linkStoredBlob(env, repository, digest);
}

/** A finished upload: new bytes under the session's own key, or (objectKey null) bytes already stored. */
async function record(env: Bindings, repository: RepoName, digest: Digest, size: number, objectKey: string | null): Promise<void> {
  if (objectKey !== null) await recordStoredBlob(env, repository, { digest, size, objectKey });
  else if (!(await linkStoredBlob(env, repository, digest))) throw collectedMeanwhile(digest);
}

function session(env: Bindings, sessionId: string) {
  return env.UPLOAD_SESSIONS.get(env.UPLOAD_SESSIONS.idFromName(sessionId));
}

function randomSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function expectation(chunk: IncomingChunk): ChunkExpectation {
  return { start: chunk.start, length: chunk.length, maxBytes: chunk.maxBytes };
}

function chunkError(result: Exclude<AppendResult, { ok: true }>, sessionId: string, url: UploadUrl): RegistryError {
  if (result.problem === "unknown-session") return unknownUpload(sessionId);
  const resume = { Location: url(sessionId), Range: uploadRangeHeader(result.offset) };
  switch (result.problem) {
    case "out-of-order":
      return new RegistryError("BLOB_UPLOAD_INVALID", `chunk does not start where the upload stands: next byte is ${result.offset}`, { status: 416, headers: resume });
    case "busy":
      return new RegistryError("BLOB_UPLOAD_INVALID", "another chunk of this upload is still being received", { status: 416, headers: resume });
    case "too-large":
      return tooLarge(resume);
    case "length-mismatch":
      return new RegistryError("SIZE_INVALID", "chunk length does not match Content-Length / Content-Range", { headers: resume });
    case "body-failed":
      return new RegistryError("BLOB_UPLOAD_INVALID", `the chunk did not arrive whole; the upload resumes at byte ${result.offset}`, { headers: resume });
  }
}

function completeError(result: Exclude<CompleteResult, { ok: true }>, sessionId: string, digest: Digest, url: UploadUrl): RegistryError {
  return result.problem === "digest-mismatch" ? digestMismatch(digest) : chunkError(result, sessionId, url);
}

function unknownUpload(sessionId: string): RegistryError {
  return new RegistryError("BLOB_UPLOAD_UNKNOWN", `upload ${sessionId.slice(0, 64)} is unknown in this repository, finished or expired`);
}

function digestMismatch(digest: Digest): RegistryError {
  return new RegistryError("DIGEST_INVALID", `uploaded content does not match digest ${digest}`);
}

function tooLarge(headers: Record<string, string> = {}): RegistryError {
  return new RegistryError("SIZE_INVALID", "request body is larger than this registry accepts in one request; send the blob in chunks", { status: 413, headers });
}

function bodyFailed(): RegistryError {
  return new RegistryError("BLOB_UPLOAD_INVALID", "the request body did not arrive whole");
}
