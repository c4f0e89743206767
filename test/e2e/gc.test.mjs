// Garbage collection against a real Pier (wrangler dev), driven by skopeo (issue 10): push two
// images, delete one, collect; the deleted image's layer is gone from R2 (asked through
// wrangler's own R2 client on the same local state), and the kept image still pulls byte for byte.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { adminApi, adminCreds, asAdmin, makeTempDir, removeTempDir, requireTool, ROOT, runSkopeo, startPier } from "./harness.mjs";
import { readLayout, writeImageLayout } from "./make-image.mjs";

let pier;
let work;
let kept;
let deleted;

before(async () => {
  work = makeTempDir("pier-e2e-gc-");
  kept = writeImageLayout(join(work, "kept"), { seed: "gc-kept", layerSizes: [4096, 200_000] });
  deleted = writeImageLayout(join(work, "deleted"), { seed: "gc-deleted", layerSizes: [8192, 300_000] });
  // Grace 0: the collection treats everything written before it as old.
  pier = await startPier({ vars: { PIER_GC_GRACE_SECONDS: "0" } });
});

after(async () => {
  await pier?.stop();
  if (work) removeTempDir(work);
});

const skopeo = (args) => runSkopeo(args, { logs: () => pier?.logs() ?? "" });
const ref = (repository) => `docker://${pier.host}/${repository}`;

/** wrangler against the running Pier's local state (D1 and R2 files it shares). */
function wrangler(args) {
  return spawnSync("npx", ["wrangler", ...args, "--local", "--persist-to", pier.state], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
}

function objectKeysOf(digests) {
  const list = digests.map((digest) => `'${digest}'`).join(", ");
  const result = wrangler(["d1", "execute", "DB", "--json", "--command", `SELECT digest, object_key FROM blobs WHERE digest IN (${list})`]);
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout)[0].results;
}

function objectExists(key) {
  const result = wrangler(["r2", "object", "get", `pier-blobs/${key}`, "--pipe"]);
  return result.status === 0;
}

const api = (method, path, body) => adminApi(pier, method, path, body);

test("a deleted image's layers are gone from R2 after a collection, and the kept image still pulls", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  for (const [layout, tag] of [
    [kept, "kept"],
    [deleted, "deleted"],
  ]) {
    await skopeo(["copy", "--dest-tls-verify=false", "--dest-creds", adminCreds(pier), "--preserve-digests", `oci:${layout.dir}:${layout.tag}`, ref(`e2e-gc/app:${tag}`)]);
  }
  const doomed = objectKeysOf(deleted.layers.map((layer) => layer.digest));
  assert.equal(doomed.length, 2);
  for (const { object_key: key } of doomed) assert.ok(objectExists(key), `${key} is in R2 before the collection`);

  const deletion = await fetch(`${pier.url}/v2/e2e-gc/app/manifests/${deleted.digest}`, { method: "DELETE", headers: asAdmin(pier) });
  assert.equal(deletion.status, 202);
  const started = await api("POST", "/system/gc", { dryRun: false, deleteUntagged: false });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  let run;
  const deadline = Date.now() + 120_000;
  do {
    // The collection runs in Durable Object alarms; polling its record is the only wait.
    await new Promise((resolve) => setTimeout(resolve, 250));
    run = (await api("GET", `/system/gc/${started.body.id}`)).body;
  } while (run.status === "running" && Date.now() < deadline);
  assert.equal(run.status, "succeeded", JSON.stringify(run));
  // The deleted image's config and two layers, and its manifest's bytes.
  assert.equal(run.blobsDeleted, 4);

  for (const { object_key: key } of doomed) assert.ok(!objectExists(key), `${key} is still in R2 after the collection`);
  const layer = await fetch(`${pier.url}/v2/e2e-gc/app/blobs/${deleted.layers[1].digest}`, { headers: asAdmin(pier) });
  assert.equal(layer.status, 404);

  const dir = mkdtempSync(join(work, "pulled-"));
  await skopeo(["copy", "--src-tls-verify=false", "--src-creds", adminCreds(pier), "--preserve-digests", ref("e2e-gc/app:kept"), `oci:${dir}:kept`]);
  const pulled = readLayout(dir, "kept");
  const pushed = readLayout(kept.dir, kept.tag);
  assert.ok(pulled.bytes.equals(kept.manifestBytes));
  for (const descriptor of [kept.config, ...kept.layers]) assert.ok(pulled.blob(descriptor.digest).equals(pushed.blob(descriptor.digest)), descriptor.digest);
});

test("the Cron Trigger runs a due gc schedule under wrangler dev (GET /__scheduled, as npm start allows)", async () => {
  const schedule = await api("PUT", "/system/schedules/gc", { cron: "* * * * *", options: { deleteUntagged: false, dryRun: true } });
  assert.equal(schedule.status, 200, JSON.stringify(schedule.body));
  // Due now (wrangler's dev proxy fires /__scheduled at the current time, whatever ?time= says),
  // then the Cron Trigger: the scheduler finds it due and starts a run.
  const due = wrangler(["d1", "execute", "DB", "--command", `UPDATE schedules SET next_run_at = ${Date.now() - 60_000} WHERE name = 'gc'`]);
  assert.equal(due.status, 0, due.stderr);
  const fired = await fetch(`${pier.url}/__scheduled`);
  const firedText = await fired.text();
  assert.equal(fired.status, 200, firedText);
  const { body } = await api("GET", "/system/schedules");
  const gc = body.items.find((item) => item.name === "gc");
  assert.match(gc.lastResult ?? "", /^ok: started garbage collection /, `${JSON.stringify(body)} after ${firedText}`);
  const runs = (await api("GET", "/system/gc")).body.items;
  assert.equal(runs[0].trigger, "schedule");
  assert.equal(runs[0].dryRun, true);
});
