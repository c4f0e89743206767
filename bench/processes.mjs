// The lifecycle of everything the benchmark starts: temp state, child processes. Whatever
// happens (an error, Ctrl-C, a deadline), nothing started here outlives the benchmark: each
// process is killed by its own id or process group, never by name, and the temp dir is removed.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";

const STOP_TIMEOUT_MS = 10_000;

const scratch = mkdtempSync(join(tmpdir(), "pier-bench-"));
/** Process ids to SIGKILL on an abnormal exit (each server's own, never by name). */
const livePids = new Set();
/** Process groups (detached children: npx/wrangler/workerd trees) to SIGKILL likewise. */
const liveGroups = new Set();

function killEverythingNow() {
  for (const group of liveGroups) signal(-group, "SIGKILL");
  for (const pid of livePids) signal(pid, "SIGKILL");
  rmSync(scratch, { recursive: true, force: true });
}
process.on("exit", killEverythingNow);
for (const name of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(name, () => {
    console.error(`\nbench: ${name}, stopping the servers`);
    process.exit(130);
  });
}

export function signal(pid, name) {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/** A fresh directory for one server's state, removed with the rest on exit. */
export function stateDir(name) {
  const dir = join(scratch, `${name}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Resolves once GET `url` (with `headers`) answers 200. */
export async function waitUntilServing(url, timeoutMs, isAlive, headers = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`${url}: the server exited while starting`);
    try {
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

/**
 * Spawns a detached command (its own process group, killed as a whole), keeping its output tail.
 * `onStdout`: also hands it every chunk of stdout, in full (e.g. an access log to count).
 */
export function spawnGroup(command, args, { onStdout = null, ...options } = {}) {
  const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"], detached: true });
  liveGroups.add(child.pid);
  let log = "";
  const keep = (chunk) => (log = (log + chunk).slice(-20_000));
  child.stdout.setEncoding("utf8").on("data", keep);
  if (onStdout !== null) child.stdout.on("data", onStdout);
  child.stderr.setEncoding("utf8").on("data", keep);
  let running = true;
  const exited = new Promise((resolve) => child.on("exit", () => resolve((running = false))));
  return {
    child,
    log: () => log,
    isAlive: () => running,
    async stop() {
      if (running) {
        signal(-child.pid, "SIGTERM");
        const timer = setTimeout(() => signal(-child.pid, "SIGKILL"), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      liveGroups.delete(child.pid);
    },
  };
}

export function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Registers a helper process (wrk) so that an abnormal exit kills it too; returns the untrack function. */
export function trackProcess(pid) {
  livePids.add(pid);
  return () => livePids.delete(pid);
}

/** Everything is bounded; this catches what is not (a server that stops answering mid-body). */
export function giveUpAfter(minutes) {
  setTimeout(() => {
    console.error(`bench: still running after ${minutes} min, giving up`);
    process.exit(1);
  }, minutes * 60_000).unref();
}

/**
 * Runs a benchmark's `main`, then notes the run's duration and closing load average in `results`
 * and hands them to `report`; exits 0, or 1 with the error (the exit handler stops the servers).
 */
export function runBenchmark(main, { started, results, report }) {
  main()
    .then(() => {
      results.durationSeconds = (Date.now() - started) / 1000;
      results.loadAverage.end = loadavg();
      report(results);
    })
    .then(
      () => process.exit(0),
      (error) => {
        console.error("bench failed:", error);
        process.exit(1);
      },
    );
}
