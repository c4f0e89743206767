#!/usr/bin/env node
// `npm run bench:big-blob`: proves that Pier takes and serves blobs of 10 GiB and more. Pushes
// one 10 GiB blob to a fresh Pier (Miniflare) in 64 MiB chunks (under the 100 MB body cap),
// hashing as it streams, pulls it back checking the sha256 of every byte, and reports time and
// peak memory. Not run in CI: it needs ~11 GiB of free disk and takes several minutes.
//
//   --gib N     blob size in GiB (default 10)
//   --whole     pull with one GET instead of 1 GiB Range requests. The default uses ranges
//               because Miniflare's R2 simulator reads a multipart object ahead of the client
//               without backpressure (~1.2 GB of its own memory per GiB pulled, measured by
//               `npm run bench`): one 10 GiB GET would need ~12 GB of RAM in the simulator,
//               which is a local-runtime limit, not Pier's. Ranges still cross the 4 GiB and
//               8 GiB marks and read every part.
import { statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { cpuSeconds, watchMemory } from "./memory.mjs";
import { makeBlob, pullBlob, pullBlobInRanges, pushChunked } from "./registry-client.mjs";
import { startPier } from "./servers.mjs";

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const args = process.argv.slice(2);
const gib = args.includes("--gib") ? Number(args[args.indexOf("--gib") + 1]) : 10;
const whole = args.includes("--whole");
const size = gib * GiB;
const CHUNK = 64 * MiB;
const RANGE = GiB;

// Bounded: at a few MB/s something is wrong; stop rather than run for hours.
setTimeout(() => {
  console.error("big-blob: still running after 90 min, giving up");
  process.exit(1);
}, 90 * 60_000).unref();

const disk = statfsSync(tmpdir());
const free = disk.bavail * disk.bsize;
if (free < size + GiB) {
  console.error(`big-blob: ${tmpdir()} has ${(free / GiB).toFixed(1)} GiB free; a ${gib} GiB blob needs ${gib + 1} GiB`);
  process.exit(1);
}

const pier = await startPier("pier-big-blob", { inspector: true });
let exitCode = 0;
try {
  const blob = makeBlob(size, `big-blob-${Date.now()}`);
  const wall = {};
  const cpu = {};
  let digest;
  const phase = (name, work) => async () => {
    const startCpu = cpuSeconds(pier.pid);
    const start = performance.now();
    await work();
    wall[name] = (performance.now() - start) / 1000;
    cpu[name] = cpuSeconds(pier.pid) - startCpu;
  };
  const phases = {
    push: phase("push", async () => (digest = await pushChunked(pier.url, "bench/big", blob, CHUNK))),
    pull: phase("pull", () => (whole ? pullBlob(pier.url, "bench/big", digest, { size, verify: true }) : pullBlobInRanges(pier.url, "bench/big", digest, { size, rangeBytes: RANGE }))),
  };
  // Instantiates the isolates first; pulling this small blob later lets the inspector's GC
  // requests run (workerd runs them when the isolate next runs).
  const small = makeBlob(2 * MiB, `big-blob-warmup-${Date.now()}`);
  const smallDigest = await pushChunked(pier.url, "bench/warmup", small, MiB);
  const poke = () => pullBlob(pier.url, "bench/warmup", smallDigest, { size: small.size });
  console.log(`big-blob: pushing ${gib} GiB to Pier in ${CHUNK / MiB} MiB chunks, then pulling it back (${whole ? "one GET" : `${RANGE / GiB} GiB ranges`})`);
  const memory = await watchMemory(pier.pid, phases, { inspectorUrl: pier.inspectorUrl, targets: { worker: "core:user:", r2: "r2:bucket" }, poke });
  console.log(`pushed and pulled back ${gib} GiB; sha256 of the pulled bytes matches ${digest}`);
  for (const name of ["push", "pull"]) {
    const p = memory.phases[name];
    console.log(
      `  ${name}: ${wall[name].toFixed(1)} s, ${(size / 1e6 / wall[name]).toFixed(0)} MB/s, workerd CPU ${cpu[name].toFixed(1)} s; ` +
        `RSS peak ${p.rssPeak.toFixed(0)} MB (+${p.rssGrowth.toFixed(0)}), Pier isolate peak ${p.isolates.worker?.toFixed(0) ?? "-"} MB, ` +
        `R2 simulator isolate peak ${p.isolates.r2?.toFixed(0) ?? "-"} MB`,
    );
  }
  console.log(`  workerd RSS baseline ${memory.baseline.toFixed(0)} MB, peak ${memory.peak.toFixed(0)} MB (VmHWM ${memory.hwm?.toFixed(0) ?? "-"}), growth ${memory.growth.toFixed(0)} MB (MB = 10^6 bytes)`);
} catch (error) {
  console.error("big-blob failed:", error);
  exitCode = 1;
} finally {
  await pier.stop();
}
process.exit(exitCode);
