// The pull-through benchmark's figures: medians, the ratios the feature is judged by, a printed
// table, and bench/results/pull-through-<timestamp>.json with every raw sample.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { codeVersion, fixed, median, spread, table } from "./report.mjs";
import { ROOT } from "./servers.mjs";

const MiB = 1024 * 1024;
const cpuMs = (phase, name) => {
  const seconds = median(phase.cpuSeconds?.[name]);
  return seconds === null ? "-" : fixed(seconds * 1000);
};
const ratio = (a, b) => (a === null || b === null || b === 0 ? null : a / b);

export const TARGETS = { cold: 0.9, warm: 1.5, manifestByTag: 4, herdUpstreamGets: 1, warmTagUpstreamRequests: 0 };

/** Medians and ratios, stored in the results as `summary`. */
function summarise(results) {
  const { cold, warm, manifest, herd, warmTag } = results;
  const coldBound = Math.min(median(cold.direct) ?? Infinity, median(cold.barePut) ?? Infinity);
  return {
    cold: { pier: median(cold.pier), proxy: median(cold.proxy), direct: median(cold.direct), barePut: median(cold.barePut), bareTee: median(cold.bareTee), slowerBound: Number.isFinite(coldBound) ? coldBound : null },
    warm: { pier: median(warm.pier), proxy: median(warm.proxy), bareGet: median(warm.bareGet), bareGetMultipart: median(warm.bareGetMultipart) },
    manifestByTag: { pier: median(manifest.pier?.rps), proxy: median(manifest.proxy?.rps) },
    ratios: {
      coldPierOverSlowerBound: ratio(median(cold.pier), Number.isFinite(coldBound) ? coldBound : null),
      coldPierOverProxy: ratio(median(cold.pier), median(cold.proxy)),
      coldPierOverBareTee: ratio(median(cold.pier), median(cold.bareTee)),
      warmPierOverProxy: ratio(median(warm.pier), median(warm.proxy)),
      warmPierOverBareMultipartGet: ratio(median(warm.pier), median(warm.bareGetMultipart)),
      manifestByTagPierOverProxy: ratio(median(manifest.pier?.rps), median(manifest.proxy?.rps)),
      manifestByTagPierOverProxyPerCpu: ratio(median(manifest.proxy?.cpuMicrosPerRequest), median(manifest.pier?.cpuMicrosPerRequest)),
    },
    herdUpstreamLayerGets: { pier: herd.pier?.upstreamLayerGets ?? null, proxy: herd.proxy?.upstreamLayerGets ?? null },
    warmTagUpstreamRequestsPerPull: { pier: warmTag.pier?.perPull ?? null, proxy: warmTag.proxy?.perPull ?? null },
  };
}

const verdict = (value, target, atLeast = true) => {
  if (value === null || value === undefined) return "not measured";
  const met = atLeast ? value >= target : value <= target;
  return `${met ? "met" : "MISSED"} (target ${atLeast ? ">=" : "<="} ${target})`;
};

export function printProxyReport(results) {
  results.code ??= codeVersion();
  const summary = (results.summary = summarise(results));
  const { settings: s, cold, warm, manifest, herd, warmTag } = results;
  const r = summary.ratios;
  const code = results.code;
  console.log(`
Pier pull-through benchmark, ${results.startedAt}, ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, node ${process.version}, loopback
Pier at ${code.commit}${code.dirty ? ` with uncommitted changes in ${code.dirty}` : ""}
Upstream: docker-registry 2.8 (filesystem). Pier on Miniflare/workerd, PIER_UPSTREAMS "up" (tagTtlSeconds ${s.tagTtlSeconds}).
Distribution proxy: docker-registry 2.8 with proxy.remoteurl = the upstream, own filesystem storage.
Image: config + one ${s.layerBytes / MiB} MiB layer, fresh per round; median (min-max) of ${s.repeats} rounds. MB = 10^6 bytes.
wrk -t2 -c16 -d${s.wrkSeconds}s x ${s.wrkRuns}. Load average (1 min) at start ${fixed(results.loadAverage.start[0], 1)}, at end ${fixed(results.loadAverage.end?.[0], 1)}.
`);
  console.log(
    table([
      ["measurement", "Pier", "distribution proxy", "reference", "ratio", "verdict"],
      ["cold pull (MB/s)", spread(cold.pier), spread(cold.proxy), `direct from upstream ${spread(cold.direct)}, bare R2 put ${spread(cold.barePut)}, bare fetch+tee+put ${spread(cold.bareTee)}`, `Pier/slower ref ${fixed(r.coldPierOverSlowerBound, 2)}`, verdict(r.coldPierOverSlowerBound, TARGETS.cold)],
      ["warm pull (MB/s)", spread(warm.pier), spread(warm.proxy), `bare R2 get ${spread(warm.bareGet)}, of a multipart object ${spread(warm.bareGetMultipart)}`, `Pier/proxy ${fixed(r.warmPierOverProxy, 2)}`, verdict(r.warmPierOverProxy, TARGETS.warm)],
      ["manifest GET by tag, warm (req/s)", spread(manifest.pier?.rps), spread(manifest.proxy?.rps), "", `Pier/proxy ${fixed(r.manifestByTagPierOverProxy, 2)}`, verdict(r.manifestByTagPierOverProxy, TARGETS.manifestByTag)],
      [`upstream GETs of one layer, ${herd.pier?.clients ?? "-"} concurrent cold pulls`, fixed(herd.pier?.upstreamLayerGets), fixed(herd.proxy?.upstreamLayerGets), "", "", verdict(herd.pier?.upstreamLayerGets, TARGETS.herdUpstreamGets, false)],
      ["upstream requests per warm tag pull", fixed(warmTag.pier?.perPull, 2), fixed(warmTag.proxy?.perPull, 2), "", "", verdict(warmTag.pier?.perPull, TARGETS.warmTagUpstreamRequests, false)],
    ]),
  );
  const micros = (name) => fixed(median(manifest[name]?.cpuMicrosPerRequest));
  const perRequest = (name) => fixed(median(manifest[name]?.upstreamRequestsPerRequest), 2);
  console.log(`
Details:
  warm pull, Pier/bare R2 get of a multipart object (the local runtime's limit for a blob Pier filled) ${fixed(r.warmPierOverBareMultipartGet, 2)}
  cold pull, Pier/bare fetch+tee+put (what any Worker gets here for a verified-before-done cold pull) ${fixed(r.coldPierOverBareTee, 2)}, Pier/proxy ${fixed(r.coldPierOverProxy, 2)}; after the client had every byte, the fill was a hit within ${fixed(median(cold.pierFillTailSeconds) * 1000)} ms (median)
  server CPU per ${s.layerBytes / MiB} MiB (ms, median): cold: Pier ${cpuMs(cold, "pier")}, bare R2 put ${cpuMs(cold, "barePut")}, bare fetch+tee+put ${cpuMs(cold, "bareTee")}, upstream serving it directly ${cpuMs(cold, "direct")}, proxy ${cpuMs(cold, "proxy")} (+ its upstream); warm: Pier ${cpuMs(warm, "pier")}, bare R2 get of a multipart object ${cpuMs(warm, "bareGetMultipart")}, of a single-put one ${cpuMs(warm, "bareGet")}, proxy ${cpuMs(warm, "proxy")}
  X-Pier-Cache, warm-up round: cold ${JSON.stringify(results.cacheHeaders?.cold ?? null)}, warm ${JSON.stringify(results.cacheHeaders?.warm ?? null)}
  herd wall time: Pier ${fixed(herd.pier?.seconds, 1)} s, proxy ${fixed(herd.proxy?.seconds, 1)} s; upstream HEADs of the layer: Pier ${fixed(herd.pier?.upstreamLayerHeads)}, proxy ${fixed(herd.proxy?.upstreamLayerHeads)}; upstream requests: Pier ${JSON.stringify(herd.pier?.upstreamByKind ?? null)}, proxy ${JSON.stringify(herd.proxy?.upstreamByKind ?? null)}
  warm tag pulls: ${warmTag.pier?.pulls ?? "-"} each; Pier's manifest answers were X-Pier-Cache ${JSON.stringify(warmTag.pier?.manifestCacheHeaders ?? null)}
  manifest GET by tag: server CPU per request Pier ${micros("pier")} us, proxy ${micros("proxy")} us (the upstream's share not included); upstream requests per request Pier ${perRequest("pier")}, proxy ${perRequest("proxy")}; per CPU second Pier/proxy ${fixed(r.manifestByTagPierOverProxyPerCpu, 2)}
Took ${fixed(results.durationSeconds)} s.`);
}

/** Writes the results (settings, raw samples, summary, machine) and returns the file's path. */
export function writeProxyResults(results) {
  const dir = join(ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `pull-through-${results.startedAt.replace(/[:.]/g, "-")}.json`);
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? null, node: process.version, platform: process.platform };
  writeFileSync(file, `${JSON.stringify({ ...results, machine }, null, 2)}\n`);
  return file;
}
