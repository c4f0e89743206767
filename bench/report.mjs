// Turns the raw figures of a benchmark run into medians and ratios, prints them as tables and
// writes everything (raw samples included) to bench/results/<timestamp>.json.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { ROOT } from "./servers.mjs";

const MEMORY_TARGET_MB = 128;
const MiB = 1024 * 1024;

/** Which Pier was measured: the commit, and uncommitted changes to what gets bundled. */
export function codeVersion() {
  // Not trimmed at the start: a porcelain line begins with its status columns (" M path").
  const git = (...args) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trimEnd();
  try {
    const dirty = git("status", "--porcelain", "--", "worker", "durable-objects", "migrations", "wrangler.toml", "package.json");
    return { commit: git("rev-parse", "--short", "HEAD"), dirty: dirty === "" ? null : dirty.split("\n").map((line) => line.slice(3)).join(", ") };
  } catch {
    return { commit: "unknown (not a git checkout)", dirty: null };
  }
}

export function median(values) {
  if (!values?.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const ratio = (a, b) => (a === null || b === null || b === 0 ? null : a / b);

/** Medians and the ratios the benchmark is judged by; stored in the results as `summary`. */
function summarise(results) {
  const blob = (server, op) => median(results.blob[server]?.[op]);
  const rps = (server, reference) => median(results.manifest[server]?.[reference]);
  const ratios = (over, ops) => Object.fromEntries(ops.map(([key, get]) => [key, ratio(get("pier"), get(over))]));
  const blobOps = ["pushMono", "pushChunked", "pullMono", "pullChunked"].map((op) => [op, (server) => blob(server, op)]);
  const manifestOps = [
    ["manifestByTag", (server) => rps(server, "tag")],
    ["manifestByDigest", (server) => rps(server, "digest")],
  ];
  return {
    blob: Object.fromEntries(Object.keys(results.blob).map((s) => [s, Object.fromEntries(blobOps.map(([op, get]) => [op, get(s)]))])),
    manifest: Object.fromEntries(Object.keys(results.manifest).map((s) => [s, { tag: rps(s, "tag"), digest: rps(s, "digest") }])),
    ratios: {
      pierOverBare: ratios("bare", [...blobOps, ...manifestOps]),
      pierOverDistribution: ratios("distribution", [...manifestOps, ...blobOps]),
      // Requests per CPU second: Miniflare runs Pier, D1 included, on one thread, while
      // distribution spreads over every core left free, so req/s alone tracks the machine's load.
      pierOverDistributionPerCpu: Object.fromEntries(
        ["tag", "digest"].map((ref) => [ref === "tag" ? "manifestByTag" : "manifestByDigest", ratio(cpuPerRequest(results, "distribution", ref), cpuPerRequest(results, "pier", ref))]),
      ),
      ...(results.wranglerDev === null ? {} : { wranglerDevOverMiniflare: { manifestByTag: ratio(results.wranglerDev.tag, rps("pier", "tag")) } }),
    },
  };
}

const cpuPerRequest = (results, server, ref) => median(results.manifest[server]?.cpuMicrosPerRequest[ref]);

export const fixed = (value, digits = 0) => (value === null || value === undefined ? "-" : value.toFixed(digits));
export const spread = (values) => (values?.length ? `${fixed(median(values))} (${fixed(Math.min(...values))}-${fixed(Math.max(...values))})` : "-");

export function table(rows, indent = "") {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => String(row[column]).length)));
  return rows.map((row) => indent + row.map((cell, column) => String(cell).padEnd(widths[column])).join("  ").trimEnd()).join("\n");
}

export function printReport(results) {
  const summary = (results.summary = summarise(results));
  const { blob, manifest, settings: s } = results;
  const { pierOverBare: bare, pierOverDistribution: dist } = summary.ratios;
  const code = results.code;
  console.log(`
Pier benchmark, ${results.startedAt}, ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, node ${process.version}, loopback
Pier at ${code.commit}${code.dirty ? ` with uncommitted changes in ${code.dirty}` : ""}
Pier and the bare worker on Miniflare/workerd (no wrangler dev proxy); distribution = docker-registry 2.8, filesystem.
Median (min-max) of ${s.repeats} runs; blobs ${s.blobBytes / MiB} MiB, chunks ${s.chunkBytes / MiB} MiB; wrk -t2 -c16 -d${s.wrkSeconds}s x ${s.wrkRuns}. MB = 10^6 bytes.
Monolithic push: Pier ${results.monolithicForm.pier}, distribution ${results.monolithicForm.distribution}, bare worker one R2 put.
Manifest GETs of the bare worker: one D1 query on a copy of Pier's rows.
Load average (1 min) at start ${fixed(results.loadAverage.start[0], 1)}, at end ${fixed(results.loadAverage.end?.[0], 1)}: other work on this machine skews wall-clock figures.
`);
  const row = (label, op) => [label, spread(blob.pier[op]), spread(blob.bare[op]), spread(blob.distribution[op])];
  const manifestRow = (label, ref, key) => [
    label,
    spread(manifest.pier[ref]),
    spread(manifest.bare?.[ref]),
    spread(manifest.distribution[ref]),
    `Pier/distribution ${fixed(dist[key], 2)} (target >= 1.0), Pier/bare ${fixed(bare[key], 2)}`,
  ];
  console.log(
    table([
      ["measurement", "Pier", "bare worker", "distribution", "ratio"],
      [...row("blob push, monolithic (MB/s)", "pushMono"), `Pier/bare ${fixed(bare.pushMono, 2)}`],
      [...row("blob push, chunked (MB/s)", "pushChunked"), `Pier/bare ${fixed(bare.pushChunked, 2)}`],
      [...row("blob pull (MB/s)", "pullMono"), `Pier/bare ${fixed(bare.pullMono, 2)}`],
      [...row("blob pull, chunk-pushed (MB/s)", "pullChunked"), `Pier/bare ${fixed(bare.pullChunked, 2)}`],
      manifestRow("manifest GET by tag (req/s)", "tag", "manifestByTag"),
      manifestRow("manifest GET by digest (req/s)", "digest", "manifestByDigest"),
    ]),
  );
  printCpu(results);
  printMemory(results.memory);
  console.log(`
For the record, Pier/distribution: push monolithic ${fixed(dist.pushMono, 2)}, push chunked ${fixed(dist.pushChunked, 2)}, pull ${fixed(dist.pullMono, 2)}, pull chunk-pushed ${fixed(dist.pullChunked, 2)}`);
  const errors = Object.entries(manifest).filter(([, m]) => m.socketErrors > 0);
  if (errors.length > 0) console.log(`wrk socket errors: ${errors.map(([name, m]) => `${name} ${m.socketErrors}`).join(", ")}`);
  if (results.wranglerDev !== null) {
    console.log(
      `Pier under wrangler dev (npm start): manifest GET by tag ${fixed(results.wranglerDev.tag)} req/s, by digest ${fixed(results.wranglerDev.digest)} req/s ` +
        `(${fixed(summary.ratios.wranglerDevOverMiniflare.manifestByTag, 2)}x Miniflare alone: the dev proxy's cost, not Pier's)`,
    );
  }
  console.log(`Took ${fixed(results.durationSeconds)} s.`);
}

/** Server CPU time per operation: less sensitive than wall time to a machine shared with others. */
function printCpu(results) {
  const cpu = (server, op) => {
    const seconds = median(results.blobCpu[server]?.[op]);
    return seconds === null ? "-" : fixed(seconds * 1000);
  };
  const micros = (server, ref) => fixed(median(results.manifest[server]?.cpuMicrosPerRequest[ref]));
  const row = (label, op) => [label, cpu("pier", op), cpu("bare", op), cpu("distribution", op)];
  console.log(`
Server CPU time (the workerd process, which also runs the local R2/D1 simulators; the docker-registry process), median:`);
  console.log(
    table(
      [
        ["per operation", "Pier", "bare worker", "distribution"],
        row("64 MiB push, monolithic (ms)", "pushMono"),
        row("64 MiB push, chunked (ms)", "pushChunked"),
        row("64 MiB pull (ms)", "pullMono"),
        row("64 MiB pull, chunk-pushed (ms)", "pullChunked"),
        ["manifest GET by tag (us)", micros("pier", "tag"), micros("bare", "tag"), micros("distribution", "tag")],
        ["manifest GET by digest (us)", micros("pier", "digest"), micros("bare", "digest"), micros("distribution", "digest")],
      ],
      "  ",
    ),
  );
  const perCpu = results.summary.ratios.pierOverDistributionPerCpu;
  console.log(
    `  Manifest GETs per CPU second, Pier/distribution: by tag ${fixed(perCpu.manifestByTag, 2)}, by digest ${fixed(perCpu.manifestByDigest, 2)} ` +
      "(Miniflare runs Pier and its D1 on one thread; distribution uses every core wrk leaves free).",
  );
}

function printMemory(memory) {
  const pier = memory.pier;
  if (pier === undefined) return;
  const pushIsolate = pier.phases.push?.isolates.worker ?? null;
  console.log(`
Memory: ${pier.blobBytes / MiB} MiB pushed in ${pier.chunkBytes / MiB} MiB chunks, then pulled in one GET, on a fresh server.
  Pier's workerd RSS: baseline ${fixed(pier.baseline)} MB, peak ${fixed(pier.peak)} MB (kernel VmHWM ${fixed(pier.hwm)}): growth ${fixed(pier.growth)} MB, ${pier.growth <= MEMORY_TARGET_MB ? "within" : "OVER"} the ${MEMORY_TARGET_MB} MB target.
  Pier's own isolate (Worker + UploadSession) peaked at ${fixed(pushIsolate)} MB while pushing: ${pushIsolate !== null && pushIsolate <= MEMORY_TARGET_MB ? "within" : "OVER"} ${MEMORY_TARGET_MB} MB.
  The workerd process also runs the local R2 and D1 simulators; the bare worker, doing the same R2 traffic, shows their share.
  Isolate peaks are V8 heap + ArrayBuffers, garbage not yet collected included ("-": the inspector did not answer).`);
  const rows = [["phase", "server", "RSS growth (MB)", "own isolate peak (MB)", "R2 simulator isolate peak (MB)", "MB/s"]];
  for (const [name, label] of [["pier", "Pier"], ["bare", "bare worker"]]) {
    const run = memory[name];
    for (const [phase, p] of Object.entries(run?.phases ?? {})) {
      rows.push([phase, label, fixed(p.rssGrowth), fixed(p.isolates.worker), fixed(p.isolates.r2), fixed(phase === "push" ? run.pushMBps : run.pullMBps)]);
    }
  }
  console.log(table(rows, "  "));
}

/** Writes the results (settings, raw samples, summary, machine) and returns the file's path. */
export function writeResults(results) {
  return saveResults({ ...results, summary: results.summary ?? summarise(results) });
}

/**
 * Writes any benchmark's results, with the machine they ran on, to
 * bench/results/<prefix><timestamp>.json (git-ignored); returns the file's path.
 */
export function saveResults(results, prefix = "") {
  const dir = join(ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${prefix}${results.startedAt.replace(/[:.]/g, "-")}.json`);
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? null, node: process.version, platform: process.platform };
  writeFileSync(file, `${JSON.stringify({ ...results, machine }, null, 2)}\n`);
  return file;
}
