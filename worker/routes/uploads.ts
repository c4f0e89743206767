// Blob uploads: POST /v2/<name>/blobs/uploads/ (session, ?digest= monolithic, ?mount= &from=),
// then GET / PATCH / PUT / DELETE on the session's URL.
import { Hono } from "hono";
import { RegistryError } from "../errors";
import { parseDigest } from "../oci/digest";
import { parseRepoName, type RepoName } from "../oci/names";
import { parseContentRange, uploadRangeHeader } from "../oci/ranges";
import { PART_SIZE } from "../storage/part-buffer";
import {
  appendChunk,
  cancelUpload,
  completeUpload,
  type IncomingChunk,
  mountBlob,
  pushMonolithic,
  pushStreamed,
  startUpload,
  uploadOffset,
} from "../services/uploads";
import { allowWrite, mayPull } from "./authorization";
import { type AppContext, type AppEnv, blobUrl, contentLength, uploadUrl } from "./context";

export const uploadRoutes = new Hono<AppEnv>();

for (const path of ["/:name{.+}/blobs/uploads/", "/:name{.+}/blobs/uploads"]) {
  uploadRoutes.post(path, async (c) => {
    const mount = c.req.query("mount");
    const from = c.req.query("from");
    const source = mount === undefined || from === undefined || from === "" ? undefined : parseRepoName(from);
    const { repository, principal } = await allowWrite(c, "push", source);
    const algorithm = c.req.query("digest-algorithm");
    // The algorithm the client will close with (end-4c). Both are verified whatever is said
    // here; an unsupported one is refused now rather than at the closing PUT.
    if (algorithm !== undefined && algorithm !== "sha256" && algorithm !== "sha512") {
      throw new RegistryError("DIGEST_INVALID", `unsupported digest-algorithm "${algorithm.slice(0, 20)}": use sha256 or sha512`);
    }
    if (mount !== undefined) {
      const digest = parseDigest(mount);
      // The blob is linked only from a repository the pusher may pull (no cross-repository oracle).
      const mayRead = (holder: RepoName) => mayPull(c, principal, holder);
      if (await mountBlob(c.env, repository, digest, source ?? null, mayRead)) return blobCreated(repository, digest);
      // Not mountable: the spec says to answer with an ordinary upload session instead.
    }
    const digestParam = c.req.query("digest");
    if (digestParam !== undefined && mount === undefined) {
      const digest = parseDigest(digestParam);
      const length = contentLength(c);
      if (length !== null) {
        await pushMonolithic(c.env, repository, digest, c.req.raw.body ?? emptyBody(), length);
      } else {
        // Streamed without a length: an internal session re-cuts and hashes it as it arrives.
        await pushStreamed(c.env, repository, digest, c.req.raw.body ?? emptyBody(), c.var.config.maxBodyBytes);
      }
      return blobCreated(repository, digest);
    }
    const sessionId = await startUpload(c.env, repository);
    return c.body(null, 202, {
      ...sessionHeaders(repository, sessionId, 0),
      // Any chunk size works (chunks are re-cut into R2 parts); these are efficient hints.
      "OCI-Chunk-Min-Length": String(PART_SIZE),
      "OCI-Chunk-Max-Length": String(c.var.config.maxBodyBytes),
    });
  });
}

uploadRoutes.get("/:name{.+}/blobs/uploads/:session", async (c) => {
  const { repository } = await allowWrite(c, "push");
  const sessionId = c.req.param("session");
  const offset = await uploadOffset(c.env, repository, sessionId);
  return c.body(null, 204, sessionHeaders(repository, sessionId, offset));
});

uploadRoutes.patch("/:name{.+}/blobs/uploads/:session", async (c) => {
  const { repository } = await allowWrite(c, "push");
  const sessionId = c.req.param("session");
  const offset = await appendChunk(c.env, repository, sessionId, chunkOf(c), uploadUrl(repository));
  return c.body(null, 202, sessionHeaders(repository, sessionId, offset));
});

uploadRoutes.put("/:name{.+}/blobs/uploads/:session", async (c) => {
  const { repository } = await allowWrite(c, "push");
  const digestParam = c.req.query("digest");
  if (digestParam === undefined) throw new RegistryError("DIGEST_INVALID", "the closing PUT needs ?digest=<digest>");
  const digest = parseDigest(digestParam);
  await completeUpload(c.env, repository, c.req.param("session"), digest, chunkOf(c), uploadUrl(repository));
  return blobCreated(repository, digest);
});

uploadRoutes.delete("/:name{.+}/blobs/uploads/:session", async (c) => {
  await cancelUpload(c.env, (await allowWrite(c, "push")).repository, c.req.param("session"));
  // The spec's answer to cancelling an upload (end-14).
  return c.body(null, 204);
});

/** The chunk a PATCH or PUT carries, with what its headers claim about it. */
function chunkOf(c: AppContext): IncomingChunk {
  const declared = contentLength(c);
  const rangeHeader = c.req.header("Content-Range");
  const range = rangeHeader === undefined ? null : parseContentRange(rangeHeader);
  if (range !== null && declared !== null && declared !== range.length) {
    throw new RegistryError("SIZE_INVALID", `Content-Length ${declared} does not match Content-Range ${rangeHeader}`);
  }
  const length = range?.length ?? declared;
  const body = length === 0 ? null : c.req.raw.body;
  return { body, start: range?.offset ?? null, length: body === null ? null : length, maxBytes: c.var.config.maxBodyBytes };
}

function sessionHeaders(repository: RepoName, sessionId: string, offset: number): Record<string, string> {
  return {
    Location: uploadUrl(repository)(sessionId),
    Range: uploadRangeHeader(offset),
    "Docker-Upload-UUID": sessionId,
    "Content-Length": "0",
  };
}

function blobCreated(repository: RepoName, digest: string): Response {
  return new Response(null, { status: 201, headers: { Location: blobUrl(repository, digest), "Docker-Content-Digest": digest, "Content-Length": "0" } });
}

function emptyBody(): ReadableStream<Uint8Array> {
  return new Response(new Uint8Array(0)).body!;
}
