#!/usr/bin/env node
// `npm run bench:replication`: replication throughput against `skopeo sync` (issue 11, "Proof").
// Twenty images (two layers each, BENCH_REPLICATION_LAYER_MIB MiB per layer: about 1 GiB in
// all by default) are pushed to a source distribution. Then, on the same machine:
//   pull mode  a Pier policy copies them from that distribution into a local project; the
//              baseline is `skopeo sync` of the same repository into another project of Pier;
//   push mode  a Pier policy copies them from Pier to a fresh distribution; the baseline is
//              `skopeo sync` from Pier to another fresh distribution;
//   again      each policy runs a second time: the blob bytes it moves must be 0.
// Reported: MB/s and the ratio Pier / skopeo per direction (target >= 0.8), requests to the
// remote per artifact, and the second runs' transferred bytes (from the remotes' access logs).
// Pier runs on Miniflare (bench/servers.mjs), with its real local queues doing the copies.
// Results: bench/results/replication-<timestamp>.json. See BENCHMARKS.md.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import { loadavg } from "node:os";
import { pushImage } from "./proxy-images.mjs";
import { giveUpAfter, runBenchmark } from "./processes.mjs";
import * as client from "./registry-client.mjs";
import { codeVersion, fixed, saveResults, table } from "./report.mjs";
import { startDistribution, startPier } from "./servers.mjs";

const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const settings = { images: env("BENCH_REPLICATION_IMAGES", 20), layerMiB: env("BENCH_REPLICATION_LAYER_MIB", 25), repository: "bench/app", target: 0.8 };
giveUpAfter(env("BENCH_DEADLINE_MIN", 60));

const started = Date.now();
const log = (message) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`);
const results = { startedAt: new Date(started).toISOString(), settings, code: codeVersion(), loadAverage: { start: loadavg() } };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const tag = (i) => `t${String(i).padStart(2, "0")}`;

// A connection of its own per API call: the bench sits idle for a minute while skopeo runs, and a
// kept-alive socket the server closed meanwhile would fail the next call (ECONNRESET).
const oneShot = new http.Agent({ keepAlive: false });

async function api(pier, method, path, body) {
  const answer = await client.request(method, `${pier.url}/api/v1${path}`, {
    via: oneShot,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? null : Buffer.from(JSON.stringify(body)),
  });
  return { status: answer.status, body: answer.text ? JSON.parse(answer.text) : null };
}

/** Starts an execution of `policy` and waits for it; { seconds, execution }. */
async function runPolicy(pier, policy) {
  const began = performance.now();
  const startedExecution = await api(pier, "POST", "/replication/executions", { policy });
  if (startedExecution.status !== 201) throw new Error(`starting ${policy}: ${startedExecution.status} ${JSON.stringify(startedExecution.body)}`);
  for (;;) {
    const { body } = await api(pier, "GET", `/replication/executions/${startedExecution.body.id}`);
    if (body.status !== "running") {
      if (body.status !== "succeeded") throw new Error(`${policy}: execution ${body.status}: ${JSON.stringify(body)}`);
      return { seconds: (performance.now() - began) / 1000, execution: body };
    }
    await sleep(200);
  }
}

/**
 * `skopeo sync` of every tag of `source` (host/repo) to `destination` (host/namespace); seconds.
 * Spawned, not spawnSync: the registries' output pipes and Miniflare live in this process's
 * event loop, and blocking it stalls them once a pipe buffer fills (distribution then hangs
 * mid-upload).
 */
async function skopeoSync(source, destination, { srcCreds = null, destCreds = null }) {
  const began = performance.now();
  const args = ["--insecure-policy", "sync", "--src", "docker", "--dest", "docker", "--src-tls-verify=false", "--dest-tls-verify=false"];
  if (srcCreds) args.push("--src-creds", srcCreds);
  if (destCreds) args.push("--dest-creds", destCreds);
  const child = spawn("skopeo", [...args, source, destination], { stdio: ["ignore", "ignore", "pipe"], timeout: 30 * 60_000 });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk) => (stderr = (stderr + chunk).slice(-20_000)));
  const [status] = await once(child, "close");
  if (status !== 0) throw new Error(`skopeo sync ${source} ${destination} failed (${status}):\n${stderr}`);
  return (performance.now() - began) / 1000;
}

/** Bytes of blob bodies a distribution received (uploads) or sent (GETs) in log entries after `from`. */
function blobTraffic(entries, from) {
  const later = entries.slice(from);
  const sent = later.filter((entry) => entry.method === "GET" && entry.path.includes("/blobs/sha")).reduce((sum, entry) => sum + entry.bytes, 0);
  const uploads = later.filter((entry) => (entry.method === "PATCH" || entry.method === "PUT") && entry.path.includes("/blobs/uploads/")).length;
  return { requests: later.length, blobBytesSent: sent, uploadRequests: uploads };
}

async function main() {
  const source = await startDistribution({ name: "replication-source", accessLog: true });
  const pushDestination = await startDistribution({ name: "replication-push", accessLog: true });
  const skopeoDestination = await startDistribution({ name: "replication-push-skopeo", accessLog: true });
  // skopeo signs in with this password; the bench's own requests are signed in by startPier.
  const adminPassword = randomBytes(18).toString("base64url");
  const pier = await startPier("pier-replication", { vars: { ADMIN_PASSWORD: adminPassword } });
  const layerBytes = settings.layerMiB * 1024 * 1024;
  log(`pushing ${settings.images} images (2 × ${settings.layerMiB} MiB layers) to the source distribution`);
  let totalBytes = 0;
  for (let i = 0; i < settings.images; i++) {
    await pushImage(source.url, settings.repository, tag(i), [layerBytes, layerBytes], `replication-${i}`);
    totalBytes += 2 * layerBytes;
  }
  results.totalBytes = totalBytes;
  const admin = `admin:${adminPassword}`;
  for (const [name, url] of [["source", source.url], ["sink", pushDestination.url]]) {
    const created = await api(pier, "POST", "/registries", { name, url, type: "oci" });
    if (created.status !== 201) throw new Error(`registry ${name}: ${created.status} ${JSON.stringify(created.body)}`);
  }
  for (const project of ["mirror", "viaskopeo"]) await api(pier, "POST", "/projects", { name: project });
  const filters = { repositories: settings.repository, tags: "*" };
  await api(pier, "POST", "/replication/policies", { name: "pull", source: "source", destination: null, destinationNamespace: "mirror", filters, trigger: { type: "manual" } });
  await api(pier, "POST", "/replication/policies", { name: "push", source: null, destination: "sink", filters: { repositories: `mirror/${settings.repository}`, tags: "*" }, trigger: { type: "manual" } });

  const pierHost = new URL(pier.url).host;
  const mb = (seconds) => totalBytes / 1e6 / seconds;

  log("pull mode: Pier's policy");
  let mark = source.accessLog().length;
  const pull = await runPolicy(pier, "pull");
  const pullTraffic = blobTraffic(source.accessLog(), mark);
  log(`  ${fixed(pull.seconds, 1)} s, ${fixed(mb(pull.seconds), 1)} MB/s, ${pullTraffic.requests} requests to the source`);
  log("pull mode: skopeo sync into Pier");
  const pullSkopeo = await skopeoSync(`${new URL(source.url).host}/${settings.repository}`, `${pierHost}/viaskopeo`, { destCreds: admin });
  log(`  ${fixed(pullSkopeo, 1)} s, ${fixed(mb(pullSkopeo), 1)} MB/s`);
  mark = source.accessLog().length;
  const pullAgain = await runPolicy(pier, "pull");
  const pullAgainTraffic = blobTraffic(source.accessLog(), mark);

  log("push mode: Pier's policy");
  mark = pushDestination.accessLog().length;
  const push = await runPolicy(pier, "push");
  const pushTraffic = blobTraffic(pushDestination.accessLog(), mark);
  log(`  ${fixed(push.seconds, 1)} s, ${fixed(mb(push.seconds), 1)} MB/s, ${pushTraffic.requests} requests to the destination`);
  log("push mode: skopeo sync from Pier");
  const pushSkopeo = await skopeoSync(`${pierHost}/mirror/${settings.repository}`, `${new URL(skopeoDestination.url).host}/copy`, { srcCreds: admin });
  log(`  ${fixed(pushSkopeo, 1)} s, ${fixed(mb(pushSkopeo), 1)} MB/s`);
  mark = pushDestination.accessLog().length;
  const pushAgain = await runPolicy(pier, "push");
  const pushAgainTraffic = blobTraffic(pushDestination.accessLog(), mark);

  results.pull = { pierSeconds: pull.seconds, skopeoSeconds: pullSkopeo, ratio: pullSkopeo / pull.seconds, requestsPerArtifact: pullTraffic.requests / settings.images, again: { seconds: pullAgain.seconds, blobBytes: pullAgainTraffic.blobBytesSent, requestsPerArtifact: pullAgainTraffic.requests / settings.images } };
  results.push = { pierSeconds: push.seconds, skopeoSeconds: pushSkopeo, ratio: pushSkopeo / push.seconds, requestsPerArtifact: pushTraffic.requests / settings.images, again: { seconds: pushAgain.seconds, uploadRequests: pushAgainTraffic.uploadRequests, requestsPerArtifact: pushAgainTraffic.requests / settings.images } };
  for (const server of [pier, source, pushDestination, skopeoDestination]) await server.stop();
}

function report(outcome) {
  const row = (name, r, againBytes) => [name, fixed(r.pierSeconds, 1), fixed(r.skopeoSeconds, 1), fixed(r.ratio, 2), r.ratio >= settings.target ? "ok" : "BELOW", fixed(r.requestsPerArtifact, 1), againBytes];
  console.log(`\n${(outcome.totalBytes / 2 ** 30).toFixed(2)} GiB in ${settings.images} images`);
  console.log(
    table([
      ["direction", "Pier s", "skopeo s", "ratio", `>= ${settings.target}`, "remote req/artifact", "2nd run blob bytes"],
      row("pull (distribution → Pier)", outcome.pull, String(outcome.pull.again.blobBytes)),
      row("push (Pier → distribution)", outcome.push, `${outcome.push.again.uploadRequests} uploads`),
    ]),
  );
  const file = saveResults(outcome, "replication-");
  console.log(`\nresults: ${file}`);
}

runBenchmark(main, { started, results, report });
