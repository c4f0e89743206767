// Memory of a server while it moves a big blob. Two views:
//  - resident memory (VmRSS) of the workerd process Miniflare runs, from /proc: the figure the
//    benchmark is judged by, but that one process holds Pier's isolate AND the local R2 and D1
//    simulators, which in production run elsewhere;
//  - the V8 heap (JS objects + ArrayBuffer backing stores) of single isolates, via the inspector
//    (Runtime.getHeapUsage): Pier's own isolate ("core:user:", which also hosts the
//    UploadSession Durable Object) is what the 128 MB per-isolate limit applies to, and the R2
//    simulator's ("r2:bucket") shows how much of the RSS is the local runtime's.
import { readFileSync, writeFileSync } from "node:fs";

const MB = 1e6;
const SAMPLE_MS = 50;

/** A field of /proc/<pid>/status in bytes (VmRSS: resident now; VmHWM: peak resident). */
export function statusBytes(pid, field) {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** CPU time (user + system, all threads) the process has used so far, in seconds. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resets the kernel's peak-RSS mark (VmHWM), so that it then holds the peak even between samples. */
function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** A DevTools-protocol session on one isolate of a workerd inspector (ws://host:port). */
async function inspect(inspectorUrl, target) {
  const socket = new WebSocket(`${inspectorUrl.replace(/\/$/, "")}/${target}`);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error(`inspector: cannot attach to ${target}`));
  });
  let next = 0;
  const pending = new Map();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    pending.get(message.id)?.(message.result);
    pending.delete(message.id);
  };
  const call = (method, timeoutMs = 10_000) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      const timer = setTimeout(() => reject(new Error(`inspector: ${method} on ${target} timed out`)), timeoutMs);
      pending.set(id, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
      socket.send(JSON.stringify({ id, method }));
    });
  return { call, close: () => socket.close() };
}

/**
 * Polls `read` until stopped; peak() is the largest value since restart(), null without any.
 * A read that fails or times out is skipped (counted in `missed`): an isolate may answer late.
 */
function peakPoller(read) {
  let peak = null;
  let missed = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const value = await read();
        peak = Math.max(peak ?? 0, value);
      } catch {
        missed++;
      }
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    }
  })();
  return {
    peak: () => peak,
    missed: () => missed,
    restart: () => (peak = null),
    async stop() {
      running = false;
      await loop;
    },
  };
}

/**
 * Runs `phases` ({ name: async () => result }) in order while watching the workerd process
 * `pid` and, given `inspectorUrl`, the isolates `targets` ({ label: target id }). Returns, in MB:
 * { baseline, peak, growth, hwm, phases: { name: { rssPeak, rssGrowth, isolates: { label: peak } } },
 *   results }. Garbage is collected in the isolates before the baseline and between phases, so
 * an isolate's phase peak is that phase's own (still an upper bound: it includes garbage V8 had
 * not yet collected). workerd runs an inspector's GC request only when the isolate next runs,
 * so `poke` must send a small request that goes through every watched isolate.
 */
export async function watchMemory(pid, phases, { inspectorUrl = null, targets = {}, poke = async () => {} } = {}) {
  const sessions = {};
  for (const [label, target] of Object.entries(inspectorUrl === null ? {} : targets)) sessions[label] = await inspect(inspectorUrl, target);
  // Best effort: an isolate the poke did not reach just keeps its garbage.
  const collectGarbage = async () => {
    const done = Object.values(sessions).map((s) => s.call("HeapProfiler.collectGarbage", 5_000).catch(() => null));
    await poke();
    await Promise.all(done);
  };
  try {
    await collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const baseline = statusBytes(pid, "VmRSS");
    const hwmReset = resetPeak(pid);
    const rss = peakPoller(async () => statusBytes(pid, "VmRSS"));
    const heaps = Object.fromEntries(
      Object.entries(sessions).map(([label, s]) => [label, peakPoller(async () => {
        const usage = await s.call("Runtime.getHeapUsage", 2_000);
        return usage.usedSize + (usage.backingStorageSize ?? 0);
      })]),
    );
    const report = { phases: {}, results: {} };
    try {
      for (const [name, work] of Object.entries(phases)) {
        rss.restart();
        for (const poller of Object.values(heaps)) poller.restart();
        report.results[name] = await work();
        const rssPeak = Math.max(rss.peak() ?? 0, statusBytes(pid, "VmRSS"));
        const isolates = Object.fromEntries(Object.entries(heaps).map(([label, poller]) => [label, poller.peak() === null ? null : poller.peak() / MB]));
        report.phases[name] = { rssPeak: rssPeak / MB, rssGrowth: (rssPeak - baseline) / MB, isolates };
        await collectGarbage();
      }
    } finally {
      await rss.stop();
      await Promise.all(Object.values(heaps).map((poller) => poller.stop()));
    }
    report.missedIsolateSamples = Object.fromEntries(Object.entries(heaps).map(([label, poller]) => [label, poller.missed()]));
    const sampledPeak = Math.max(...Object.values(report.phases).map((phase) => phase.rssPeak * MB));
    const hwm = hwmReset ? statusBytes(pid, "VmHWM") : null;
    const peak = Math.max(sampledPeak, hwm ?? 0);
    return { baseline: baseline / MB, peak: peak / MB, growth: (peak - baseline) / MB, hwm: hwm === null ? null : hwm / MB, ...report };
  } finally {
    for (const session of Object.values(sessions)) session.close();
  }
}
