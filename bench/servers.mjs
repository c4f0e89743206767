// Starts and stops the servers the benchmark compares, each with its own temp state:
//   Pier and the bare R2 worker on Miniflare started directly (not `wrangler dev`, whose dev
//   proxy, a second workerd in front of the worker, caps a trivial worker at ~800 req/s on a
//   2-core machine, against ~4,000-5,400 req/s for Miniflare alone), distribution's `docker-registry`
//   on the filesystem, and, for the record only, Pier under `wrangler dev` (what `npm start` runs).
// The benchmark signs in to each Pier as admin (its repositories are private): every request
// the client helpers and wrk send it carries a Basic header (registry-client.mjs, login).
// Everything started here is killed when the process exits (bench/processes.mjs).
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { adminAuthorization, freePort, LOCAL_WRANGLER_ENV } from "../worker/dev/local-run.mjs";
import { generateLocalSecrets } from "../worker/dev/local-secrets.mjs";
import { distributionConfig, parseAccessLog } from "../test/e2e/distribution-config.mjs";
import { pinnedWranglerConfig } from "../test/helpers/pinned-wrangler-config.mjs";
import { signal, spawnGroup, stateDir, trackProcess, waitUntilServing, withTimeout } from "./processes.mjs";
import { credentialsFor, login } from "./registry-client.mjs";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
// Miniflare runs in this process and wrangler under it: both read these from process.env.
Object.assign(process.env, LOCAL_WRANGLER_ENV);

const COMPATIBILITY_DATE = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(readFileSync(join(ROOT, "wrangler.toml"), "utf8"))[1];

// --- Workers on Miniflare ---------------------------------------------------------------------

/** workerd processes that are children of this process (Miniflare spawns one per instance). */
function workerdChildren() {
  const pids = new Set();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid …": comm may hold spaces, so split after the last ")".
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (comm === "workerd" && ppid === process.pid) pids.add(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return pids;
}

async function startMiniflare(name, dir, script, { inspector = false, ...options }) {
  const before = workerdChildren();
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      resourcePersistencePath: join(dir, "state"),
      modules: true,
      // Paths of the bundle are relative to this root; it lives in the temp dir.
      modulesRoot: dir,
      scriptPath: join(dir, script),
      compatibilityDate: COMPATIBILITY_DATE,
      // Only for the memory runs: per-isolate heap figures come from the inspector.
      ...(inspector ? { inspectorPort: 0 } : {}),
      ...options,
    }),
  );
  let url;
  try {
    url = await withTimeout(mf.ready, READY_TIMEOUT_MS, `${name}: Miniflare did not start`);
  } catch (error) {
    await mf.dispose().catch(() => {});
    throw error;
  }
  const fresh = [...workerdChildren()].filter((pid) => !before.has(pid));
  if (fresh.length !== 1) throw new Error(`${name}: expected one new workerd process, found ${fresh.length}`);
  const pid = fresh[0];
  const untrack = trackProcess(pid);
  return {
    name,
    url: url.href.replace(/\/$/, ""),
    pid,
    mf,
    inspectorUrl: inspector ? (await mf.getInspectorURL()).href : null,
    async stop() {
      await withTimeout(mf.dispose(), STOP_TIMEOUT_MS, `${name}: dispose timed out`).catch(() => signal(pid, "SIGKILL"));
      untrack();
    },
  };
}

/**
 * What each Pier the benchmark starts gets on top of wrangler.toml's [vars]: fresh secrets,
 * a request limit that stays on (its cost is part of what is measured) but is far above what
 * one client on loopback can send, so it never refuses, then the caller's `vars`. With
 * `shippedLimits`, the request limit is left at its default: what a fresh deployment has.
 */
async function benchVars(vars, shippedLimits) {
  // No JSON line per request (worker/request-log.ts): here it would go through this process's
  // stdout, thousands a second, which costs far more than Workers Logs does in production.
  return { ...(await generateLocalSecrets()), PIER_REQUEST_LOG: "off", ...(!shippedLimits && { PIER_RATE_LIMIT_PER_SECOND: "1000000" }), ...vars };
}

/** Signs the benchmark's clients in to the Pier at `url` as admin, then waits until it serves them. */
async function signInWhenServing(url, vars, isAlive) {
  login(url, adminAuthorization(vars.ADMIN_PASSWORD));
  await waitUntilServing(`${url}/v2/`, READY_TIMEOUT_MS, isAlive, credentialsFor(url));
}

// The bindings wrangler.toml declares, as wrangler itself hands them to Miniflare: whatever the
// Worker gains there (a Durable Object, a queue, a var) the benchmark's Pier has too. Read from
// the tests' pinned copy, so that a developer's .dev.vars or .env never changes what is measured.
const BINDING_OPTIONS = ["bindings", "r2Buckets", "d1Databases", "durableObjects", "queueProducers", "queueConsumers", "kvNamespaces"];
function pierBindings(vars) {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(pinnedWranglerConfig(ROOT));
  const options = Object.fromEntries(BINDING_OPTIONS.filter((key) => workerOptions[key] !== undefined).map((key) => [key, workerOptions[key]]));
  options.bindings = { ...options.bindings, ...vars };
  return options;
}

/**
 * Pier as wrangler would deploy it (same bundle, bindings and vars), with its D1 migrated and
 * the benchmark signed in to it. `vars` ({ NAME: string }) are added to wrangler.toml's [vars],
 * as `wrangler dev --var` would.
 */
export async function startPier(name = "pier", { inspector = false, vars = {}, shippedLimits = false } = {}) {
  const dir = stateDir(name);
  const bundled = spawnSync(process.execPath, [WRANGLER, "deploy", "--dry-run", "--outdir", dir], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: READY_TIMEOUT_MS,
  });
  if (bundled.status !== 0) throw new Error(`bundling Pier failed:\n${bundled.stdout}${bundled.stderr}`);
  const settings = await benchVars(vars, shippedLimits);
  const server = await startMiniflare(name, dir, "index.js", { inspector, ...pierBindings(settings) });
  try {
    await applyMigrations(await server.mf.getD1Database("DB"));
    await signInWhenServing(server.url, settings, () => true);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** migrations/*.sql in order, one statement at a time (drizzle-kit separates them with a marker). */
async function applyMigrations(db) {
  const dir = join(ROOT, "migrations");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    const statements = readFileSync(join(dir, file), "utf8").split("--> statement-breakpoint");
    for (const statement of statements.map((s) => s.trim()).filter(Boolean)) await db.prepare(statement).run();
  }
}

/** Copies every row of Pier's registry tables into another Miniflare's D1 (same schema). */
export async function copyRegistryRows(from, to) {
  const [source, target] = [await from.mf.getD1Database("DB"), await to.mf.getD1Database("DB")];
  for (const table of ["repositories", "blobs", "manifests", "tags"]) {
    const { results } = await source.prepare(`SELECT * FROM ${table}`).all();
    for (const row of results) {
      const columns = Object.keys(row);
      const sql = `INSERT OR REPLACE INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`;
      await target.prepare(sql).bind(...Object.values(row)).run();
    }
  }
}

export async function startBareWorker(name = "bare", { inspector = false } = {}) {
  const dir = stateDir(name);
  await build({
    entryPoints: [join(ROOT, "bench/bare-r2-worker.ts")],
    outfile: join(dir, "worker.js"),
    bundle: true,
    format: "esm",
    target: "es2022",
    logLevel: "error",
  });
  const server = await startMiniflare(name, dir, "worker.js", { inspector, r2Buckets: ["BLOBS"], d1Databases: ["DB"] });
  try {
    // Pier's schema, so that Pier's rows can be copied in for the one-query manifest reference.
    await applyMigrations(await server.mf.getD1Database("DB"));
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

// --- distribution (docker-registry) -------------------------------------------------------

/**
 * distribution on the filesystem. `accessLog`: keep its access log, read with accessLog() as
 * [{ method, path, status, bytes, userAgent }] (a line is written once a response is sent). `proxyOf`: run
 * as a pull-through cache of that registry URL (distribution's `proxy.remoteurl`; read-only).
 */
export async function startDistribution({ name = "distribution", accessLog = false, proxyOf = null } = {}) {
  const dir = stateDir(name);
  const port = await freePort();
  // Debian's packaged defaults (inmemory blob descriptor cache, delete enabled), minus auth and,
  // unless asked for, the access log, which Miniflare does not write either.
  const config = distributionConfig({ dataDir: join(dir, "data"), port, accessLog, proxyOf });
  writeFileSync(join(dir, "config.yml"), config);
  let access = "";
  const proc = spawnGroup("docker-registry", ["serve", join(dir, "config.yml")], { cwd: dir, onStdout: accessLog ? (chunk) => (access += chunk) : null });
  const url = `http://127.0.0.1:${port}`;
  await untilServing(proc, url);
  const entries = () => parseAccessLog(access);
  return { name, url, pid: proc.child.pid, accessLog: entries, stop: proc.stop };
}

/**
 * Resolves once `url`/v2/ answers 200 (signed in as admin when `pierVars`, a Pier's vars, are
 * given); when it does not, stops `proc` and fails with its output.
 */
async function untilServing(proc, url, pierVars = null) {
  try {
    if (pierVars === null) await waitUntilServing(`${url}/v2/`, READY_TIMEOUT_MS, proc.isAlive);
    else await signInWhenServing(url, pierVars, proc.isAlive);
  } catch (error) {
    await proc.stop();
    throw new Error(`${error.message}\n${proc.log()}`);
  }
}

// --- Pier under `wrangler dev`, for the record ---------------------------------------------

export async function startWranglerDev() {
  const dir = stateDir("wrangler-dev");
  const migrations = spawnSync(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", dir], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: READY_TIMEOUT_MS,
  });
  if (migrations.status !== 0) throw new Error(`wrangler d1 migrations apply failed:\n${migrations.stdout}${migrations.stderr}`);
  const [port, inspectorPort] = [await freePort(), await freePort()];
  // The inspector port is chosen too: the default 9229 may belong to someone's `npm start`.
  const settings = await benchVars({});
  const varArgs = Object.entries(settings).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
  // As in the e2e harness: given an env file (an empty one), wrangler does not read the
  // project's .dev.vars, and without .env loading not even the shell's variables pass on.
  const envFile = join(dir, "no.env");
  writeFileSync(envFile, "");
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort), "--persist-to", dir, "--env-file", envFile, ...varArgs];
  const env = { ...process.env, CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "false" };
  const proc = spawnGroup(process.execPath, [WRANGLER, ...args, "--show-interactive-dev-session=false", "--log-level", "error"], { cwd: ROOT, env });
  const url = `http://127.0.0.1:${port}`;
  await untilServing(proc, url, settings);
  return { name: "wrangler-dev", url, pid: proc.child.pid, stop: proc.stop };
}
