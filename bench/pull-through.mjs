#!/usr/bin/env node
// `npm run bench:proxy`: Pier as a pull-through cache, in one run on loopback, next to CNCF
// distribution in proxy mode, both in front of the same upstream (distribution on the
// filesystem). Prints absolute figures and the ratios the feature is judged by, and saves
// everything to bench/results/pull-through-<timestamp>.json. See BENCHMARKS.md.
// Quicker tries: BENCH_REPEATS, BENCH_WRK_SECONDS, BENCH_WRK_RUNS, BENCH_LAYER_MIB.
import { createHash } from "node:crypto";
import http from "node:http";
import { loadavg } from "node:os";
import { cpuSeconds } from "./memory.mjs";
import { runBenchmark } from "./processes.mjs";
import { headBlob, pullImage, pushImage } from "./proxy-images.mjs";
import { printProxyReport, writeProxyResults } from "./pull-through-report.mjs";
import * as client from "./registry-client.mjs";
import { codeVersion } from "./report.mjs";
import { startBareWorker, startDistribution, startPier } from "./servers.mjs";
import { wrk } from "./wrk.mjs";

const MiB = 1024 * 1024;
// The part size of Pier's cache fills (durable-objects/blob-fill-sink.ts, PART_SIZE).
const FILL_PART_BYTES = 8 * MiB;
const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const settings = {
  repeats: env("BENCH_REPEATS", 5),
  layerBytes: env("BENCH_LAYER_MIB", 64) * MiB,
  herd: 16,
  warmTagPulls: 20,
  wrkSeconds: env("BENCH_WRK_SECONDS", 10),
  wrkRuns: env("BENCH_WRK_RUNS", 3),
  tagTtlSeconds: 600,
};
const DEADLINE_MS = env("BENCH_DEADLINE_MIN", 30) * 60_000;
setTimeout(() => {
  console.error(`bench: still running after ${DEADLINE_MS / 60_000} min, giving up`);
  process.exit(1);
}, DEADLINE_MS).unref();

const started = Date.now();
const log = (message) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`);
// The code is read when the run starts, which is when Pier is bundled.
const results = { startedAt: new Date(started).toISOString(), settings, code: codeVersion(), cold: {}, warm: {}, herd: {}, warmTag: {}, manifest: {}, loadAverage: { start: loadavg() } };

async function timed(pid, work) {
  const cpu = cpuSeconds(pid);
  const start = performance.now();
  const value = await work();
  return { seconds: (performance.now() - start) / 1000, cpu: cpuSeconds(pid) - cpu, value };
}
const settle = () => new Promise((resolve) => setTimeout(resolve, 300)); // distribution logs a request once it is answered
const push = (series, key, value) => (series[key] ??= []).push(value);

/** Until a HEAD through Pier answers `hit` for every blob of `image`: its cache fill is done. */
async function filled(pier, name, image) {
  const deadline = Date.now() + 120_000;
  for (const { digest } of [image.config, ...image.layers]) {
    for (;;) {
      const head = await headBlob(pier.url, name, digest);
      if (head.status === 200 && head.cache === "hit") break;
      if (Date.now() > deadline) throw new Error(`Pier: ${name}@${digest} is still not a cache hit 120 s after its pull (HEAD: ${head.status}, X-Pier-Cache ${head.cache})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** The bare worker's cold-pull floor: it GETs `from` and streams it to us and into R2 at once. */
async function teeThroughBare(bare, key, from, { size, digest }, verify) {
  const hash = verify ? createHash("sha256") : null;
  const url = `${bare.url}/tee/${encodeURIComponent(key)}?from=${encodeURIComponent(from)}`;
  const answer = await client.request("GET", url, { onBody: hash && ((chunk) => hash.update(chunk)), keepText: false });
  if (answer.status !== 200 || answer.bytes !== size) throw new Error(`bare tee of ${from}: ${answer.status}, ${answer.bytes} bytes of ${size}`);
  if (hash !== null && `sha256:${hash.digest("hex")}` !== digest) throw new Error(`bare tee of ${from}: content does not match ${digest}`);
}

// Who asked the upstream, told by User-Agent: Pier's fetches name Pier, distribution's proxy
// sends its own, this script's client (pushes, direct pulls) sends none. Counting by sender
// keeps the tail of one server's requests out of the next one's window.
const SENDERS = { pier: (agent) => /pier/i.test(agent), proxy: (agent) => agent !== "" && !/pier/i.test(agent) };

/**
 * Upstream requests sent by `from` ("pier" | "proxy") logged since `mark` (the /v2/ version
 * checks left out): how many, by kind, and how many GETs and HEADs name `digest`.
 */
function upstreamSince(upstream, mark, from, digest = null) {
  const entries = upstream.accessLog().slice(mark).filter((entry) => entry.path !== "/v2/" && SENDERS[from](entry.userAgent));
  const forBlob = digest === null ? [] : entries.filter((entry) => entry.path.includes(digest));
  // "GET manifests" etc.: what the requests were, for telling a missing single flight apart.
  const byKind = {};
  for (const { method, path } of entries) {
    const kind = `${method} ${/\/manifests\//.test(path) ? "manifests" : /\/blobs\//.test(path) ? "blobs" : path.replace(/\?.*$/, "")}`;
    byKind[kind] = (byKind[kind] ?? 0) + 1;
  }
  return { all: entries.length, byKind, blobGets: forBlob.filter((e) => e.method === "GET").length, blobHeads: forBlob.filter((e) => e.method === "HEAD").length };
}

/**
 * Cold, then warm, pulls of a fresh image (config + one layer of layerBytes) per round, through
 * Pier and through the distribution proxy, next to the two bounds of a cold pull: reading the
 * image straight from the upstream, and one bare R2 put of the layer's bytes. Round 0 warms up
 * and checks every byte pulled (sha256); the servers take turns within each round.
 */
async function coldAndWarm({ upstream, pier, proxy, bare }) {
  const mbps = (seconds) => settings.layerBytes / 1e6 / seconds;
  for (let round = 0; round <= settings.repeats; round++) {
    const image = await pushImage(upstream.url, `bench/cold-${round}`, "v1", [settings.layerBytes], `cold-${round}-${started}`);
    const verify = round === 0;
    const direct = await timed(upstream.pid, () => pullImage(upstream.url, image.repo, image, { verify }));
    const layer = image.layers[0];
    const barePut = await timed(bare.pid, () => client.barePut(bare.url, `cold-${round}-${started}`, layer.blob));
    // The local limit of a warm pull: reading the layer back from R2, stored in one put, and
    // stored as Pier's fills store it, a multipart upload of 8 MiB parts.
    const bareGet = await timed(bare.pid, () => client.bareGet(bare.url, `cold-${round}-${started}`, layer.size, verify ? layer.digest : null));
    await client.bareMultipart(bare.url, `multipart-${round}-${started}`, layer.blob, FILL_PART_BYTES);
    const bareGetMultipart = await timed(bare.pid, () => client.bareGet(bare.url, `multipart-${round}-${started}`, layer.size, verify ? layer.digest : null));
    const bareTee = await timed(bare.pid, () => teeThroughBare(bare, `tee-${round}-${started}`, `${upstream.url}/v2/${image.repo}/blobs/${layer.digest}`, layer, verify));
    const pierCold = await timed(pier.pid, () => pullImage(pier.url, `up/${image.repo}`, image, { verify }));
    const fill = await timed(pier.pid, () => filled(pier, `up/${image.repo}`, image));
    const proxyCold = await timed(proxy.pid, () => pullImage(proxy.url, image.repo, image, { verify }));
    const pierWarm = await timed(pier.pid, () => pullImage(pier.url, `up/${image.repo}`, image, { verify }));
    const proxyWarm = await timed(proxy.pid, () => pullImage(proxy.url, image.repo, image, { verify }));
    if (round === 0) {
      results.cacheHeaders = { cold: pierCold.value, warm: pierWarm.value };
      log(`cold/warm: warm-up done, bytes verified; X-Pier-Cache cold ${JSON.stringify(pierCold.value)}, warm ${JSON.stringify(pierWarm.value)}`);
      continue;
    }
    push(results.cold, "pierFillTailSeconds", fill.seconds);
    const samples = {
      cold: { direct, barePut, bareTee, pier: pierCold, proxy: proxyCold },
      warm: { pier: pierWarm, proxy: proxyWarm, bareGet, bareGetMultipart },
    };
    for (const [phase, byServer] of Object.entries(samples)) {
      for (const [name, sample] of Object.entries(byServer)) {
        push(results[phase], name, mbps(sample.seconds));
        // Server CPU (workerd with its R2/D1 simulators; a docker-registry process, the proxy's
        // upstream not included): less sensitive than MB/s to other work on a shared machine.
        push((results[phase].cpuSeconds ??= {}), name, sample.cpu);
      }
    }
    log(`cold/warm: round ${round}/${settings.repeats} done`);
  }
}

/** `herd` clients pull the same fresh image at once; how many times did the upstream serve its layer? */
async function thunderingHerd(name, server, upstream, nameOf) {
  const image = await pushImage(upstream.url, `bench/herd-${name}`, "v1", [settings.layerBytes], `herd-${name}-${started}`);
  const via = new http.Agent({ keepAlive: true, maxSockets: settings.herd });
  const mark = upstream.accessLog().length;
  const start = performance.now();
  await Promise.all(Array.from({ length: settings.herd }, () => pullImage(server.url, nameOf(image.repo), image, { verify: true, via })));
  const seconds = (performance.now() - start) / 1000;
  via.destroy();
  await settle();
  const counted = upstreamSince(upstream, mark, name, image.layers[0].digest);
  // Nobody fetched the layer for 16 cold pulls: the User-Agent test no longer finds the sender.
  if (counted.blobGets === 0) throw new Error(`herd: no upstream GET of the layer is attributed to ${name}; check SENDERS against the access log`);
  // After counting: a HEAD on a blob whose fill is not yet recorded goes upstream.
  if (name === "pier") await filled(server, nameOf(image.repo), image);
  results.herd[name] = { clients: settings.herd, seconds, upstreamLayerGets: counted.blobGets, upstreamLayerHeads: counted.blobHeads, upstreamRequests: counted.all, upstreamByKind: counted.byKind };
  log(`herd: ${settings.herd} concurrent cold pulls through ${name}: ${counted.blobGets} upstream GETs of the layer; upstream requests ${JSON.stringify(counted.byKind)}; ${seconds.toFixed(1)} s`);
}

/** Pulls by tag of an image already cached, within the tag TTL: upstream requests per pull. */
async function warmTagPulls(name, server, upstream, image, nameOf) {
  await pullImage(server.url, nameOf(image.repo), image);
  await settle();
  const mark = upstream.accessLog().length;
  const headers = [];
  for (let i = 0; i < settings.warmTagPulls; i++) headers.push((await pullImage(server.url, nameOf(image.repo), image)).manifest);
  await settle();
  const { all } = upstreamSince(upstream, mark, name);
  results.warmTag[name] = { pulls: settings.warmTagPulls, upstreamRequests: all, perPull: all / settings.warmTagPulls, manifestCacheHeaders: [...new Set(headers)] };
  log(`warm tag pulls through ${name}: ${all} upstream requests for ${settings.warmTagPulls} pulls`);
}

/** wrk on GET manifest by tag of a cached image, Pier and the proxy in turn; upstream requests counted. */
async function manifestByTag({ upstream, pier, proxy }, image) {
  const accept = { Accept: client.OCI_MANIFEST };
  const targets = { pier: { pid: pier.pid, url: `${pier.url}/v2/up/${image.repo}/manifests/v1` }, proxy: { pid: proxy.pid, url: `${proxy.url}/v2/${image.repo}/manifests/v1` } };
  for (const [name, target] of Object.entries(targets)) {
    results.manifest[name] = { rps: [], cpuMicrosPerRequest: [], upstreamRequestsPerRequest: [], latencyMs: [], socketErrors: 0 };
    await wrk(target.url, { seconds: 2, headers: accept });
  }
  for (let run = 1; run <= settings.wrkRuns; run++) {
    for (const [name, target] of Object.entries(targets)) {
      const mark = upstream.accessLog().length;
      const { value: figure, cpu } = await timed(target.pid, () => wrk(target.url, { seconds: settings.wrkSeconds, headers: accept }));
      await settle();
      const entry = results.manifest[name];
      entry.rps.push(figure.requestsPerSecond);
      entry.cpuMicrosPerRequest.push((cpu / figure.requests) * 1e6);
      entry.upstreamRequestsPerRequest.push(upstreamSince(upstream, mark, name).all / figure.requests);
      entry.latencyMs.push(figure.latencyMs);
      entry.socketErrors += figure.socketErrors;
    }
    log(`manifests: run ${run}/${settings.wrkRuns} done`);
  }
}

async function main() {
  log("starting the upstream (distribution), the distribution proxy, Pier (Miniflare) and the bare R2 worker");
  const upstream = await startDistribution({ name: "upstream", accessLog: true });
  const servers = [upstream];
  try {
    servers.push(await startDistribution({ name: "proxy", proxyOf: upstream.url }));
    const upstreams = [{ name: "up", url: upstream.url, type: "oci", tagTtlSeconds: settings.tagTtlSeconds, timeoutMs: 10_000 }];
    servers.push(await startPier("pier", { vars: { PIER_UPSTREAMS: JSON.stringify(upstreams), PIER_MIRROR_DEFAULT: "up" } }));
    servers.push(await startBareWorker());
    const [, proxy, pier, bare] = servers;
    log(`Pier workerd pid ${pier.pid}; upstream ${upstream.url}, proxy ${proxy.url}`);
    await coldAndWarm({ upstream, pier, proxy, bare });
    await thunderingHerd("pier", pier, upstream, (repo) => `up/${repo}`);
    await thunderingHerd("proxy", proxy, upstream, (repo) => repo);
    const small = await pushImage(upstream.url, "bench/small", "v1", [4096], `small-${started}`);
    await warmTagPulls("pier", pier, upstream, small, (repo) => `up/${repo}`);
    await warmTagPulls("proxy", proxy, upstream, small, (repo) => repo);
    await manifestByTag({ upstream, pier, proxy }, small);
  } finally {
    for (const server of servers.reverse()) await server.stop();
  }
}

runBenchmark(main, {
  started,
  results,
  report: () => {
    printProxyReport(results);
    console.log(`\nresults: ${writeProxyResults(results)}`);
  },
});
