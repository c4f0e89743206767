// Errors on requests with large bodies, over real HTTP. A client such as Go's net/http (the
// conformance suites) sends the whole body before it reads the answer; if Pier answered while
// the body was still arriving, that client would see a reset connection instead of the error.
// Pier reads a refused body (up to the cap) first; these tests send like such a client does.
// Every request signs in as admin: what is refused is the body, never the credentials.
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, test } from "node:test";
import { asAdmin, startPier } from "./harness.mjs";

const EIGHT_MIB = 8 * 1024 * 1024;
let pier;

before(async () => {
  pier = await startPier();
});

after(async () => {
  await pier?.stop();
});

/** Sends the whole body (as admin), then reads the answer: { status, body } or a thrown socket error. */
function sendThenRead(method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request(`${pier.url}${path}`, { method, headers: asAdmin(pier, { "Content-Length": String(body.byteLength), ...headers }) }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function openUpload(repository) {
  const response = await fetch(`${pier.url}/v2/${repository}/blobs/uploads/`, { method: "POST", headers: asAdmin(pier) });
  assert.equal(response.status, 202);
  return response.headers.get("Location");
}

test("an out-of-order 8 MiB chunk gets its 416, not a reset connection", async () => {
  const location = await openUpload("e2e/refused/order");
  const answer = await sendThenRead("PATCH", location, Buffer.alloc(EIGHT_MIB, 1), { "Content-Range": `100-${100 + EIGHT_MIB - 1}` });
  assert.equal(answer.status, 416);
  assert.match(answer.body, /BLOB_UPLOAD_INVALID/);
});

test("an 8 MiB chunk for an unknown upload gets its 404, not a reset connection", async () => {
  const location = `/v2/e2e/refused/unknown/blobs/uploads/${"A".repeat(43)}`;
  const answer = await sendThenRead("PATCH", location, Buffer.alloc(EIGHT_MIB, 2));
  assert.equal(answer.status, 404);
  assert.match(answer.body, /BLOB_UPLOAD_UNKNOWN/);
});

test("an 8 MiB monolithic push with a wrong digest gets its 400", async () => {
  const wrong = `sha256:${"0".repeat(64)}`;
  const answer = await sendThenRead("POST", `/v2/e2e/refused/digest/blobs/uploads/?digest=${wrong}`, Buffer.alloc(EIGHT_MIB, 3));
  assert.equal(answer.status, 400);
  assert.match(answer.body, /DIGEST_INVALID/);
});

test("an 8 MiB push to an invalid repository name gets its 400", async () => {
  const answer = await sendThenRead("POST", `/v2/Not/Valid/blobs/uploads/?digest=sha256:${"1".repeat(64)}`, Buffer.alloc(EIGHT_MIB, 4));
  assert.equal(answer.status, 400);
  assert.match(answer.body, /NAME_INVALID/);
});
