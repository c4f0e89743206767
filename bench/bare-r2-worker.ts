// The local runtime's limit: the least a Worker can do to move blob bytes in and out of R2
// (no hashing, no metadata, no Durable Object, no D1). Pier's throughput is reported as a
// ratio of this worker's, run on the same Miniflare/workerd in the same benchmark run.
//
//   PUT  /objects/<key>                                 one R2 put of the body (Content-Length required)
//   GET  /objects/<key>                                 the object's body, streamed
//   POST /multipart/<key>                               create -> {"uploadId": …}
//   PUT  /multipart/<key>/<uploadId>/<partNumber>       uploadPart(body) -> {"partNumber", "etag"}
//   POST /multipart/<key>/<uploadId>/complete           body: JSON list of parts
//   GET  /d1/manifests/<repo>/<tag or digest>           one D1 query, the row's manifest bytes
//   GET  /tee/<key>?from=<url>                          a cold pull's least: GET url, stream it to
//                                                       the client and into one R2 put at once
// Keys, repository names and upload ids are URL-encoded path segments.
//
// The last route is the local limit of a manifest GET: one D1 query (the same join as Pier's,
// on a copy of Pier's rows) and nothing else, no router, no ORM, no validation.

interface Env {
  BLOBS: R2Bucket;
  DB: D1Database;
}

const BY_TAG =
  "SELECT m.digest, m.media_type, b.content FROM tags t " +
  "JOIN manifests m ON m.repository = t.repository AND m.digest = t.digest JOIN blobs b ON b.digest = m.digest " +
  "WHERE t.repository = ? AND t.name = ? LIMIT 1";
const BY_DIGEST =
  "SELECT m.digest, m.media_type, b.content FROM manifests m JOIN blobs b ON b.digest = m.digest " +
  "WHERE m.repository = ? AND m.digest = ? LIMIT 1";

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const segments = new URL(request.url).pathname.split("/").slice(1).map(decodeURIComponent);
    const [kind, key, uploadId, part] = segments;
    if (key === undefined || key === "") return text(404, "no key");

    if (kind === "d1" && key === "manifests" && uploadId !== undefined && part !== undefined && request.method === "GET") {
      const row = await env.DB.prepare(part.startsWith("sha256:") ? BY_DIGEST : BY_TAG)
        .bind(uploadId, part)
        .first<{ digest: string; media_type: string; content: string }>();
      if (row === null) return text(404, "no such manifest");
      return new Response(row.content, { headers: { "Content-Type": row.media_type, "Docker-Content-Digest": row.digest } });
    }

    if (kind === "tee" && segments.length === 2 && request.method === "GET") {
      return tee(env, key, new URL(request.url).searchParams.get("from"));
    }

    if (kind === "objects" && segments.length === 2) {
      if (request.method === "PUT") {
        // R2 needs the length of a streamed body up front; a request with Content-Length has one.
        if (request.headers.get("Content-Length") === null) return text(411, "Content-Length required");
        await env.BLOBS.put(key, request.body);
        return new Response(null, { status: 201 });
      }
      if (request.method === "GET") {
        const object = await env.BLOBS.get(key);
        if (object === null) return text(404, "no such object");
        return new Response(object.body, { headers: { "Content-Length": String(object.size) } });
      }
    }

    if (kind === "multipart") {
      if (request.method === "POST" && segments.length === 2) {
        const upload = await env.BLOBS.createMultipartUpload(key);
        return Response.json({ uploadId: upload.uploadId });
      }
      if (uploadId === undefined || part === undefined) return text(404, "no such route");
      const upload = env.BLOBS.resumeMultipartUpload(key, uploadId);
      if (request.method === "PUT" && segments.length === 4) {
        if (request.headers.get("Content-Length") === null || request.body === null) return text(411, "Content-Length required");
        return Response.json(await upload.uploadPart(Number(part), request.body));
      }
      if (request.method === "POST" && segments.length === 4 && part === "complete") {
        await upload.complete(await request.json<R2UploadedPart[]>());
        return new Response(null, { status: 201 });
      }
    }
    return text(404, "no such route");
  },
} satisfies ExportedHandler<Env>;

function text(status: number, message: string): Response {
  return new Response(message, { status });
}

/**
 * What any pull-through cache must do on a miss, and nothing else (no hashing, no D1, no Durable
 * Object): one upstream GET whose body goes to the client and into one R2 put as it arrives. Like
 * a cache that verifies before it serves, the response ends only once R2 holds the bytes; the
 * client's copy is passed on chunk by chunk in JavaScript, which is what holding back the end takes.
 */
async function tee(env: Env, key: string, from: string | null): Promise<Response> {
  if (from === null) return text(400, "from= is required");
  const upstream = await fetch(from);
  const length = upstream.headers.get("Content-Length");
  if (!upstream.ok || upstream.body === null || length === null) return text(502, `upstream answered ${upstream.status}`);
  const [toClient, toR2] = upstream.body.tee();
  const sized = new FixedLengthStream(Number(length));
  const stored = Promise.all([toR2.pipeTo(sized.writable), env.BLOBS.put(key, sized.readable)]);
  const reader = toClient.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (!done) return controller.enqueue(value);
      await stored;
      controller.close();
    },
  });
  return new Response(body, { headers: { "Content-Length": length } });
}
