// `pier push` resumes an interrupted chunked upload from the registry's offset (distribution
// spec: GET <location> → 204 with Range: 0-<last byte kept>), tested against a tiny fake
// registry on node:http that drops the connection in the middle of one PATCH.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { Readable } from "node:stream";
import { after, before, test } from "node:test";
import { createRegistry } from "../../worker/cli/registry.mjs";
import { offsetFromRange, uploadBlob } from "../../worker/cli/upload.mjs";

const CHUNK = 64 * 1024;
const content = Buffer.from(Array.from({ length: 5 * CHUNK + 123 }, (_, i) => (i * 7) % 251));
const digest = `sha256:${createHash("sha256").update(content).digest("hex")}`;
const blob = { digest, size: content.length, mediaType: "application/octet-stream", open: (start, end) => Readable.from([content.subarray(start, end)]) };

let server;
let host;
const patches = []; // the Content-Range of every PATCH, in order
let kept = Buffer.alloc(0); // what the fake registry holds for the session
let dropped = false;

before(async () => {
  server = createServer((req, res) => {
    const location = "/v2/fake/repo/blobs/uploads/session-1";
    const range = () => `0-${Math.max(kept.length - 1, 0)}`;
    if (req.method === "HEAD") return res.writeHead(404).end();
    if (req.method === "POST") return res.writeHead(202, { Location: location, Range: "0-0", "OCI-Chunk-Max-Length": String(CHUNK) }).end();
    if (req.method === "GET") return res.writeHead(204, { Location: location, Range: range() }).end();
    const chunks = [];
    req.on("data", (chunk) => {
      chunks.push(chunk);
      // Once, in the middle of the third chunk: keep what arrived so far, then cut the line.
      if (req.method === "PATCH" && !dropped && kept.length === 2 * CHUNK && Buffer.concat(chunks).length >= CHUNK / 2) {
        dropped = true;
        kept = Buffer.concat([kept, Buffer.concat(chunks).subarray(0, CHUNK / 2)]);
        req.socket.destroy();
      }
    });
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (req.method === "PATCH") {
        patches.push(req.headers["content-range"]);
        const start = Number(req.headers["content-range"].split("-")[0]);
        if (start !== kept.length) return res.writeHead(416, { Location: location, Range: range() }).end();
        kept = Buffer.concat([kept, body]);
        return res.writeHead(202, { Location: location, Range: range() }).end();
      }
      // PUT ?digest=
      kept = Buffer.concat([kept, body]);
      const sent = new URL(req.url, "http://x").searchParams.get("digest");
      const actual = `sha256:${createHash("sha256").update(kept).digest("hex")}`;
      res.writeHead(sent === actual ? 201 : 400, { Location: "/v2/fake/repo/blobs/" + actual }).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  host = `127.0.0.1:${server.address().port}`;
});

after(() => server?.close());

test("reads the registry's offset from a Range header", () => {
  assert.equal(offsetFromRange("0-0"), 0);
  assert.equal(offsetFromRange("0-65535"), 65536);
  assert.equal(offsetFromRange("bytes=0-9"), 10);
  assert.equal(offsetFromRange(undefined), null);
});

test("an upload dropped mid-PATCH resumes from the offset the registry reports", async () => {
  const registry = createRegistry(host, { repository: "fake/repo", actions: "pull,push" });
  const events = [];
  const outcome = await uploadBlob(registry, blob, { chunkSize: 10 * CHUNK, report: (event) => events.push(event) });
  assert.equal(outcome, "pushed");
  assert.ok(dropped, "the fake never dropped a PATCH");
  // Chunks of OCI-Chunk-Max-Length (smaller than --chunk-size); the one after the drop starts
  // where the registry said it stood, half-way into the third chunk.
  assert.deepEqual(patches.slice(0, 2), [`0-${CHUNK - 1}`, `${CHUNK}-${2 * CHUNK - 1}`]);
  assert.equal(patches[2], `${2.5 * CHUNK}-${3.5 * CHUNK - 1}`);
  assert.ok(kept.equals(content), "the registry's copy differs from the blob");
  assert.ok(events.some((event) => /^resuming at 163840/.test(event.state)), "no resume was reported");
});
