// Replication and webhooks against a real Pier (wrangler dev, real local queues) and Debian's
// `docker-registry` (CNCF distribution 2.8) as the remote (issue 11):
//   - push mode: a multi-platform image pushed to Pier with skopeo, and a signature-like referrer
//     pushed through the API, appear at the remote byte for byte; distribution 2.8 has no
//     referrers API, so the referrer is found there through the tag schema (`sha256-<hex>`);
//   - pull mode: a scheduled policy mirrors the remote's 1.* tags into a local project;
//   - a webhook receiver on 127.0.0.1 gets a signed event for a push.
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { adminApi, adminCreds, asAdmin, makeTempDir, removeTempDir, requireTool, ROOT, runSkopeo, startPier, startUpstreamRegistry } from "./harness.mjs";
import { readLayout, writeImageLayout, writeMultiPlatformLayout } from "./make-image.mjs";

const WAIT_MS = 90_000;

let pier;
let remote;
let work;
let receiver;

before(async () => {
  work = makeTempDir("pier-e2e-replication-");
  [pier, remote, receiver] = await Promise.all([startPier(), startUpstreamRegistry(), startReceiver()]);
  const registry = await api("POST", "/registries", { name: "dist", url: remote.url, type: "oci" });
  assert.equal(registry.status, 201, JSON.stringify(registry.body));
});

after(async () => {
  await pier?.stop();
  await remote?.stop();
  receiver?.close();
  if (work) removeTempDir(work);
});

const skopeo = (args) => runSkopeo(args, { logs: () => pier?.logs() ?? "" });

const api = (method, path, body) => adminApi(pier, method, path, body);

/** Polls `check` (async, returns a value or null) until it returns non-null, failing after WAIT_MS. */
async function eventually(what, check) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await check();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- Pier log (tail) ---\n${pier.logs().split("\n").slice(-40).join("\n")}`);
    // Queues deliver in the background; there is nothing to await but time.
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function finishedExecution(id) {
  return eventually(`execution ${id}`, async () => {
    const { body } = await api("GET", `/replication/executions/${id}`);
    return body.status === "running" ? null : body;
  });
}

/** The remote's bytes for a manifest (tag or digest) or blob. */
async function remoteBytes(repository, kind, reference) {
  const response = await fetch(`${remote.url}/v2/${repository}/${kind}/${reference}`, {
    headers: { Accept: "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json" },
  });
  return response.status === 200 ? Buffer.from(await response.arrayBuffer()) : null;
}

/** Pushes a small signature-like artifact whose subject is `subject` into `repository` on Pier; its digest. */
async function pushReferrer(repository, subject) {
  const config = Buffer.from("{}");
  const layer = Buffer.from(`signature of ${subject.digest}`);
  for (const blob of [config, layer]) {
    const digest = sha256(blob);
    const response = await fetch(`${pier.url}/v2/${repository}/blobs/uploads/?digest=${digest}`, {
      method: "POST",
      headers: asAdmin(pier, { "Content-Type": "application/octet-stream", "Content-Length": String(blob.length) }),
      body: blob,
    });
    assert.equal(response.status, 201, await response.text());
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      artifactType: "application/vnd.example.signature",
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: sha256(config), size: config.length },
      layers: [{ mediaType: "application/octet-stream", digest: sha256(layer), size: layer.length }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    }),
  );
  const digest = sha256(manifest);
  const response = await fetch(`${pier.url}/v2/${repository}/manifests/${digest}`, {
    method: "PUT",
    headers: asAdmin(pier, { "Content-Type": "application/vnd.oci.image.manifest.v1+json" }),
    body: manifest,
  });
  assert.equal(response.status, 201, await response.text());
  return { digest, bytes: manifest };
}

test("push mode: an image pushed to Pier appears at the remote byte for byte, every platform and its referrer", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  assert.equal((await api("POST", "/projects", { name: "team" })).status, 201);
  const image = writeMultiPlatformLayout(join(work, "multi"), { seed: "replication-push", layerSizes: [4096, 150_000] });
  await skopeo(["copy", "--all", "--preserve-digests", `oci:${image.dir}:v1`, `docker://${pier.host}/team/app:v1`, "--dest-creds", adminCreds(pier), "--dest-tls-verify=false"]);
  const referrer = await pushReferrer("team/app", image.descriptor);

  const policy = { name: "out", source: null, destination: "dist", filters: { repositories: "team/**", tags: "*" }, trigger: { type: "manual" }, override: true, replicateDeletion: false, enabled: true };
  assert.equal((await api("POST", "/replication/policies", policy)).status, 201);
  const started = await api("POST", "/replication/executions", { policy: "out" });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  const execution = await finishedExecution(started.body.id);
  assert.equal(execution.status, "succeeded", JSON.stringify(execution));

  assert.deepEqual(await remoteBytes("team/app", "manifests", "v1"), image.indexBytes);
  const layout = readLayout(image.dir, "v1");
  for (const child of image.children) {
    assert.deepEqual(await remoteBytes("team/app", "manifests", child.digest), child.manifestBytes);
    for (const blob of [child.config, ...child.layers]) assert.deepEqual(await remoteBytes("team/app", "blobs", blob.digest), layout.blob(blob.digest));
  }
  // distribution 2.8 has no referrers API: Pier kept the tag schema's index up to date.
  assert.deepEqual(await remoteBytes("team/app", "manifests", referrer.digest), referrer.bytes);
  const fallback = JSON.parse((await remoteBytes("team/app", "manifests", image.digest.replace(":", "-"))).toString());
  assert.deepEqual(
    fallback.manifests.map((descriptor) => descriptor.digest),
    [referrer.digest],
  );

  // The same policy again finds everything there: no blob is uploaded a second time.
  const uploadsBefore = remote.accessLog().filter((entry) => entry.method === "PUT" && entry.path.includes("/blobs/uploads/")).length;
  const again = await finishedExecution((await api("POST", "/replication/executions", { policy: "out" })).body.id);
  assert.equal(again.status, "succeeded");
  const uploadsAfter = remote.accessLog().filter((entry) => entry.method === "PUT" && entry.path.includes("/blobs/uploads/")).length;
  assert.equal(uploadsAfter, uploadsBefore);
});

test("pull mode: a scheduled policy mirrors the remote's matching tags into a local project", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  const images = {};
  for (const tag of ["1.0", "1.1", "2.0"]) {
    images[tag] = writeImageLayout(join(work, `pull-${tag}`), { tag, seed: `replication-pull-${tag}`, layerSizes: [2048, 60_000] });
    await skopeo(["copy", "--preserve-digests", `oci:${images[tag].dir}:${tag}`, `docker://${remote.host}/upstream/tool:${tag}`, "--dest-tls-verify=false"]);
  }
  assert.equal((await api("POST", "/projects", { name: "mirrored" })).status, 201);
  const policy = {
    name: "mirror",
    source: "dist",
    destination: null,
    destinationNamespace: "mirrored",
    filters: { repositories: "upstream/tool", tags: "1.*" },
    trigger: { type: "scheduled", cron: "hourly" },
    override: true,
    replicateDeletion: false,
    enabled: true,
  };
  const created = await api("POST", "/replication/policies", policy);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  // The schedule is due at the next hour; make it due now in D1, then fire the Cron Trigger.
  const due = spawnSync("npx", ["wrangler", "d1", "execute", "DB", "--local", "--persist-to", pier.state, "--command", "UPDATE schedules SET next_run_at = 0 WHERE name = 'replication:mirror'"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  assert.equal(due.status, 0, due.stderr);
  assert.equal((await fetch(`${pier.url}/__scheduled`)).status, 200);

  const execution = await eventually("the scheduled execution", async () => {
    const { body } = await api("GET", "/replication/executions?policy=mirror");
    const found = body.items?.[0];
    return found && found.status !== "running" ? found : null;
  });
  assert.equal(execution.status, "succeeded", JSON.stringify(execution));
  assert.equal(execution.trigger, "scheduled");
  assert.equal(execution.total, 2);

  for (const tag of ["1.0", "1.1"]) {
    const pulled = join(work, `pulled-${tag}`);
    await skopeo(["copy", "--preserve-digests", `docker://${pier.host}/mirrored/upstream/tool:${tag}`, `oci:${pulled}:${tag}`, "--src-creds", adminCreds(pier), "--src-tls-verify=false"]);
    const layout = readLayout(pulled, tag);
    assert.deepEqual(layout.bytes, images[tag].manifestBytes);
    for (const layer of images[tag].layers) assert.deepEqual(layout.blob(layer.digest), readLayout(images[tag].dir, tag).blob(layer.digest));
  }
  const absent = await fetch(`${pier.url}/v2/mirrored/upstream/tool/manifests/2.0`, { method: "HEAD", headers: asAdmin(pier) });
  assert.equal(absent.status, 404);
});

test("a webhook receiver on 127.0.0.1 gets a signed Harbor event for a push", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  assert.equal((await api("POST", "/projects", { name: "hooked" })).status, 201);
  const secret = "e2e-webhook-secret";
  const webhook = { name: "ci", url: receiver.url, events: ["PUSH_ARTIFACT"], format: "harbor", secret };
  assert.equal((await api("POST", "/projects/hooked/webhooks", webhook)).status, 201);
  const image = writeImageLayout(join(work, "hooked"), { seed: "replication-webhook" });
  await skopeo(["copy", `oci:${image.dir}:v1`, `docker://${pier.host}/hooked/app:v1`, "--dest-creds", adminCreds(pier), "--dest-tls-verify=false"]);

  const delivery = await eventually("the webhook delivery", async () => receiver.requests.find((request) => request.body.includes("hooked/app")) ?? null);
  const expected = `sha256=${createHmac("sha256", secret).update(delivery.body).digest("hex")}`;
  assert.equal(delivery.headers["x-pier-signature"], expected);
  const payload = JSON.parse(delivery.body);
  assert.equal(payload.type, "PUSH_ARTIFACT");
  assert.equal(payload.event_data.repository.repo_full_name, "hooked/app");
  assert.equal(payload.event_data.resources[0].tag, "v1");
});

function sha256(bytes) {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** A webhook receiver: records each request's headers and raw body, answers 200. */
function startReceiver() {
  const requests = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      requests.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
      response.writeHead(200).end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${server.address().port}/hook`, requests, close: () => server.close() }));
  });
}
