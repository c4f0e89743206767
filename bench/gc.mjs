#!/usr/bin/env node
// `npm run bench:gc`: online garbage collection at scale (issue 10, "Proof"). One Pier on
// Miniflare (PIER_GC_GRACE_SECONDS=0), seeded straight into D1 and R2 with BENCH_GC_BLOBS blobs
// (default 100,000) and BENCH_GC_MANIFESTS manifests (default 10,000), about half of each
// unreferenced (bench/gc-seed.mjs). Then: a kept image pulled N times while idle (manifest by
// tag and every blob, bytes verified); a collection with deleteUntagged, the same pulls running
// throughout and its run polled every 200 ms; the D1 rows and R2 objects left compared with
// exactly what must stay. Verdicts: the largest step within the Free plan's 50 subrequests and
// the 30 s CPU limit, pulls under GC >= 0.9x as fast as idle (reported, never fails the run),
// and completeness (fails the run). With BENCH_GC_DISTRIBUTION=1 (the default), distribution's
// offline collector on the same shape for reference (bench/gc-distribution.mjs).
// Results: bench/results/gc-<timestamp>.json. See BENCHMARKS.md.
import { createHash } from "node:crypto";
import { loadavg } from "node:os";
import { distributionGc } from "./gc-distribution.mjs";
import { planRegistry, seedPier, storedState } from "./gc-seed.mjs";
import { cpuSeconds } from "./memory.mjs";
import { giveUpAfter, runBenchmark } from "./processes.mjs";
import * as client from "./registry-client.mjs";
import { codeVersion, fixed, saveResults, table } from "./report.mjs";
import { startPier } from "./servers.mjs";

const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const settings = {
  blobs: env("BENCH_GC_BLOBS", 100_000),
  manifests: env("BENCH_GC_MANIFESTS", 10_000),
  repositories: 100,
  idlePulls: env("BENCH_GC_PULLS", 200),
  warmupPulls: 10,
  pollMs: 200,
  distribution: env("BENCH_GC_DISTRIBUTION", 1) === 1,
  limits: { stepCalls: 50, stepMs: 30_000, latencyRatio: 0.9 },
};
giveUpAfter(env("BENCH_DEADLINE_MIN", 90));

const started = Date.now();
const log = (message) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`);
const results = { startedAt: new Date(started).toISOString(), settings, code: codeVersion(), loadAverage: { start: loadavg() } };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One pull of `image` as a client does it: the manifest by tag, then every blob; bytes verified. Returns ms. */
async function pull(url, image) {
  const began = performance.now();
  const hash = createHash("sha256");
  const headers = { Accept: client.OCI_MANIFEST };
  const answer = await client.request("GET", `${url}/v2/${image.repository}/manifests/${image.tag}`, { headers, onBody: (chunk) => hash.update(chunk) });
  client.expectStatus(answer, 200, `GET ${image.repository}:${image.tag}`);
  if (`sha256:${hash.digest("hex")}` !== image.digest) throw new Error(`${image.repository}:${image.tag}: the manifest's bytes do not match ${image.digest}`);
  let slowest = { what: "manifest", ms: performance.now() - began };
  for (const [i, blob] of image.refs.entries()) {
    const at = performance.now();
    await client.pullBlob(url, image.repository, blob.digest, { size: blob.size, verify: true });
    if (performance.now() - at > slowest.ms) slowest = { what: `blob ${i}`, ms: performance.now() - at };
  }
  return { ms: performance.now() - began, slowest, endedAt: Date.now() };
}

function latency(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { count: sorted.length, p50: at(0.5), p95: at(0.95), mean: sorted.reduce((s, v) => s + v, 0) / (sorted.length || 1) };
}

const gcRunUrl = (url, id) => `${url}/api/v1/system/gc/${id}`;

/** Starts the collection, pulls `image` back to back and polls the run until it ends. */
async function collectWhilePulling(pier, image) {
  const cpuBefore = cpuSeconds(pier.pid);
  const answer = client.expectStatus(await client.request("POST", `${pier.url}/api/v1/system/gc`, client.jsonBody({ dryRun: false, deleteUntagged: true })), 202, "starting GC");
  const { id } = JSON.parse(answer.text);
  const timeline = [];
  let run = null;
  const polling = (async () => {
    for (;;) {
      run = JSON.parse(client.expectStatus(await client.request("GET", gcRunUrl(pier.url, id)), 200, "reading the GC run").text);
      timeline.push({ atMs: Date.now(), phase: run.phase, steps: run.steps, status: run.status });
      if (run.status !== "running") return;
      await sleep(settings.pollMs);
    }
  })();
  const busy = [];
  const pulling = (async () => {
    while (run === null || run.status === "running") busy.push(await pull(pier.url, image));
  })();
  await Promise.all([polling, pulling]);
  const cpu = cpuSeconds(pier.pid) - cpuBefore;
  return { id, run, timeline, busy, cpuSeconds: cpu };
}

/** First sighting of each phase in the polls: approximate time and steps per phase. */
function phases(timeline) {
  const rows = [];
  for (const sample of timeline) {
    if (rows.at(-1)?.phase !== sample.phase) rows.push({ phase: sample.phase, fromMs: sample.atMs, fromStep: sample.steps });
  }
  const end = timeline.at(-1);
  return rows.map((row, i) => {
    const next = rows[i + 1] ?? { fromMs: end.atMs, fromStep: end.steps };
    return { phase: row.phase, seconds: (next.fromMs - row.fromMs) / 1000, steps: next.fromStep - row.fromStep };
  });
}

/** Every difference between what D1 and R2 hold and what must stay. */
function completeness(stored, expected) {
  const missing = (want, have) => [...want].filter((x) => !have.has(x));
  const problems = [];
  const compare = (what, want, have) => {
    const lost = missing(want, have);
    const left = missing(have, want);
    if (lost.length > 0) problems.push(`${what}: ${lost.length} kept missing, e.g. ${lost[0]}`);
    if (left.length > 0) problems.push(`${what}: ${left.length} unreferenced left, e.g. ${left[0]}`);
  };
  compare("manifests", expected.manifests, stored.manifests);
  compare("repository links", expected.links, stored.links);
  compare("blob rows", expected.blobRows, stored.blobRows);
  compare("R2 objects vs blob rows' object keys", stored.objectKeys, stored.r2Keys);
  compare("R2 objects vs the kept blobs' keys", expected.objectKeys, stored.r2Keys);
  if (stored.references !== expected.references) problems.push(`manifest_references: ${stored.references} rows, expected ${expected.references}`);
  if (stored.tags !== expected.manifests.size) problems.push(`tags: ${stored.tags} rows, expected ${expected.manifests.size}`);
  if (stored.tombstoned !== 0) problems.push(`${stored.tombstoned} blob rows still state='deleting'`);
  if (stored.candidates !== 0) problems.push(`gc_candidates holds ${stored.candidates} rows`);
  return problems;
}

/** Pulls a spread of kept images (all must come back whole) and untagged manifests by digest (all must be 404). */
async function spotChecks(url, plan) {
  const kept = plan.manifests.filter((m) => m.tag !== null);
  const gone = plan.manifests.filter((m) => m.tag === null);
  const every = (list, n) => list.filter((_, i) => i % Math.max(1, Math.floor(list.length / n)) === 0).slice(0, n);
  for (const image of every(kept, 100)) await pull(url, image);
  let stillServed = 0;
  for (const m of every(gone, 100)) {
    const answer = await client.request("GET", `${url}/v2/${m.repository}/manifests/${m.digest}`, { headers: { Accept: client.OCI_MANIFEST } });
    if (answer.status !== 404) stillServed++;
  }
  return { keptPulled: Math.min(100, kept.length), untaggedAsked: Math.min(100, gone.length), untaggedStillServed: stillServed };
}

async function main() {
  const plan = planRegistry(settings);
  const { expected } = plan;
  results.shape = {
    blobs: plan.blobs.length,
    manifests: plan.manifests.length,
    repositories: plan.repositories.length,
    links: plan.links.length,
    keptManifests: expected.manifests.size,
    keptBlobs: expected.objectKeys.size,
    keptLinks: expected.links.size,
    expected: { manifestsDeleted: expected.manifestsDeleted, linksDeleted: plan.links.length - expected.links.size, blobsDeleted: expected.blobsDeleted, bytesFreed: expected.bytesFreed },
  };
  log(`plan: ${plan.blobs.length} blobs (${expected.objectKeys.size} kept), ${plan.manifests.length} manifests (${expected.manifests.size} kept), ${plan.links.length} links, ${plan.repositories.length} repositories`);
  log("starting Pier (Miniflare), PIER_GC_GRACE_SECONDS=0");
  const pier = await startPier("pier-gc", { vars: { PIER_GC_GRACE_SECONDS: "0" } });
  try {
    results.seedSeconds = await seedPier(pier, plan, log);
    log(`seeded: D1 ${fixed(results.seedSeconds.d1, 1)} s, R2 ${fixed(results.seedSeconds.r2, 1)} s`);
    const kept = plan.manifests.filter((m) => m.tag !== null);
    const image = kept[Math.floor(kept.length / 2)];
    results.image = { repository: image.repository, tag: image.tag, digest: image.digest, blobs: image.refs.length };
    for (let i = 0; i < settings.warmupPulls; i++) await pull(pier.url, image);
    const idle = [];
    const idleCpu = cpuSeconds(pier.pid);
    for (let i = 0; i < settings.idlePulls; i++) idle.push((await pull(pier.url, image)).ms);
    results.idle = { ...latency(idle), cpuSecondsPerPull: (cpuSeconds(pier.pid) - idleCpu) / idle.length, samples: idle };
    log(`idle pulls: p50 ${fixed(results.idle.p50, 1)} ms, mean ${fixed(results.idle.mean, 1)} ms; collecting`);
    const gc = await collectWhilePulling(pier, image);
    const { run } = gc;
    const wallSeconds = (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000;
    const pullCpu = gc.busy.length * results.idle.cpuSecondsPerPull;
    results.gc = {
      run,
      wallSeconds,
      phases: phases(gc.timeline),
      cpuSeconds: gc.cpuSeconds,
      cpuSecondsEstimatedGc: gc.cpuSeconds - pullCpu,
      cpuMsPerStep: ((gc.cpuSeconds - pullCpu) / run.steps) * 1000,
      polls: gc.timeline.length,
    };
    const busyMs = gc.busy.map((p) => p.ms);
    const slowest = [...gc.busy].sort((a, b) => b.ms - a.ms).slice(0, 5);
    results.busy = { ...latency(busyMs), samples: busyMs, slowest: slowest.map((p) => ({ ms: p.ms, slowestRequest: p.slowest, endedAfterStartMs: p.endedAt - Date.parse(run.startedAt) })) };
    log(`GC ${run.status} in ${fixed(wallSeconds, 1)} s, ${run.steps} steps; checking what is left`);
    if (run.status !== "succeeded") throw new Error(`the collection ended ${run.status}: ${run.error}`);
    results.completeness = { problems: completeness(await storedState(pier), expected) };
    results.completeness.spotChecks = await spotChecks(pier.url, plan);
    if (results.completeness.spotChecks.untaggedStillServed > 0) results.completeness.problems.push(`${results.completeness.spotChecks.untaggedStillServed} collected manifests still served`);
  } finally {
    await pier.stop();
  }
  if (settings.distribution) {
    log("distribution: seeding its filesystem layout, then docker-registry garbage-collect --delete-untagged (offline)");
    results.distribution = await distributionGc(plan, log);
  }
}

function report() {
  const { gc, idle, busy, shape, settings: s, code } = results;
  const run = gc.run;
  const verdict = (ok) => (ok ? "PASS" : "FAIL");
  const ratios = { mean: idle.mean / busy.mean, p50: idle.p50 / busy.p50 };
  const counters = ["manifestsDeleted", "linksDeleted", "blobsDeleted", "bytesFreed"].map((key) => [key, run[key], shape.expected[key]]);
  results.verdicts = {
    stepCalls: run.largestStep.calls <= s.limits.stepCalls,
    stepMs: run.largestStep.ms <= s.limits.stepMs,
    latencyMean: ratios.mean >= s.limits.latencyRatio,
    latencyP50: ratios.p50 >= s.limits.latencyRatio,
    countersMatchSeed: counters.every(([, got, want]) => got === want),
    complete: results.completeness.problems.length === 0,
  };
  results.ratios = ratios;
  console.log(`
Pier GC benchmark, ${results.startedAt}; Pier at ${code.commit}${code.dirty ? ` with uncommitted changes in ${code.dirty}` : ""}
Pier on Miniflare/workerd (D1 and R2 simulators in the same process), PIER_GC_GRACE_SECONDS=0. Load average (1 min) at start ${fixed(results.loadAverage.start[0], 1)}, at end ${fixed(results.loadAverage.end?.[0], 1)}.
Registry: ${shape.blobs} blobs (${shape.keptBlobs} referenced by tagged manifests) + ${shape.manifests} manifests (${shape.keptManifests} tagged), ${shape.links} links, ${shape.repositories} repositories.
Seeding (not measured): D1 ${fixed(results.seedSeconds.d1, 1)} s, R2 ${fixed(results.seedSeconds.r2, 1)} s.
`);
  console.log(
    table([
      ["collection", "value"],
      ["status", run.status],
      ["wall time (finishedAt - startedAt)", `${fixed(gc.wallSeconds, 1)} s`],
      ["steps", String(run.steps)],
      ["largest step: D1/R2 calls (budget's count)", String(run.largestStep.calls)],
      ["largest step: wall ms (bounds its CPU time)", String(run.largestStep.ms)],
      ["workerd CPU over the run (pulls included)", `${fixed(gc.cpuSeconds, 1)} s`],
      [`  of it the collection (estimate: less ${busy.count} pulls x idle CPU per pull)`, `${fixed(gc.cpuSecondsEstimatedGc, 1)} s, ${fixed(gc.cpuMsPerStep, 0)} ms per step`],
      ...counters.map(([key, got, want]) => [key, `${got}${got === want ? "" : ` (seed says ${want})`}`]),
    ]),
  );
  console.log("\nPhases (from the 200 ms polls):\n");
  console.log(table([["phase", "seconds", "steps"], ...gc.phases.map((p) => [p.phase, fixed(p.seconds, 1), String(p.steps)])], "  "));
  console.log(`\nPulls of ${results.image.repository}:${results.image.tag} (manifest + ${results.image.blobs} blobs, verified), ms:\n`);
  console.log(
    table([
      ["", "pulls", "p50", "p95", "mean"],
      ["idle", String(idle.count), fixed(idle.p50, 1), fixed(idle.p95, 1), fixed(idle.mean, 1)],
      ["during GC", String(busy.count), fixed(busy.p50, 1), fixed(busy.p95, 1), fixed(busy.mean, 1)],
    ], "  "),
  );
  const worst = busy.slowest[0];
  if (worst) console.log(`  Slowest pull during GC: ${fixed(worst.ms, 0)} ms (its slowest request: ${worst.slowestRequest.what}, ${fixed(worst.slowestRequest.ms, 0)} ms), ended ${fixed(worst.endedAfterStartMs / 1000, 1)} s into the run.`);
  const v = results.verdicts;
  console.log(`
${verdict(v.stepCalls)}  largest step ${run.largestStep.calls} calls <= ${s.limits.stepCalls} (Workers Free plan subrequests; Paid 10,000)
${verdict(v.stepMs)}  largest step ${run.largestStep.ms} ms <= ${s.limits.stepMs} (default CPU limit 30 s; a step's wall time bounds its CPU time)
${verdict(v.latencyMean)}  pull latency idle/under GC, mean ${fixed(ratios.mean, 2)} >= ${s.limits.latencyRatio} (reported only: machines are noisy)
${verdict(v.latencyP50)}  pull latency idle/under GC, p50 ${fixed(ratios.p50, 2)} >= ${s.limits.latencyRatio} (reported only)
${v.countersMatchSeed ? "PASS" : "MISMATCH"}  the run's counters equal what the seed predicts
${verdict(v.complete)}  completeness: D1 holds exactly the kept set, R2 exactly the kept blobs' objects; ${results.completeness.spotChecks.keptPulled} kept images pulled whole, ${results.completeness.spotChecks.untaggedAsked} collected manifests 404${v.complete ? "" : `\n      ${results.completeness.problems.join("\n      ")}`}`);
  const d = results.distribution;
  if (d) {
    console.log(`
distribution ${d.version}, offline (docker-registry garbage-collect --delete-untagged, the registry stopped): ${fixed(d.wallSeconds, 1)} s wall, ${fixed(d.cpuSeconds, 1)} s CPU;
  seeding its filesystem ${fixed(d.seedSeconds, 1)} s; left ${d.blobsLeft} blobs (expected ${d.blobsExpected}), ${d.manifestsLeft} manifest revisions (expected ${d.manifestsExpected}): ${d.blobsLeft === d.blobsExpected && d.manifestsLeft === d.manifestsExpected ? "complete" : "INCOMPLETE"}`);
  }
  console.log(`Took ${fixed(results.durationSeconds)} s.\n\nresults: ${saveResults(results, "gc-")}`);
  if (!v.complete) throw new Error(`the collection is incomplete:\n  ${results.completeness.problems.join("\n  ")}`);
}

runBenchmark(main, { started, results, report });
