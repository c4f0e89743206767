// Runs a private Pier for one e2e test file: `wrangler dev` on a free loopback port with its
// state in a fresh temp dir (so tests never see `npm start`'s data or each other's), an
// upstream registry (CNCF distribution) for the pull-through tests, and helpers to skip or
// fail on missing client tools.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ADMIN_USERNAME, adminAuthorization, freePort, LOCAL_WRANGLER_ENV } from "../../worker/dev/local-run.mjs";
import { generateLocalSecrets } from "../../worker/dev/local-secrets.mjs";
import { distributionConfig, parseAccessLog } from "./distribution-config.mjs";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
// Wrangler's chatter is only shown when something goes wrong; keep the tail, not all of it.
const MAX_LOG_CHARS = 200_000;

/**
 * Starts Pier and resolves once GET /v2/ answers 200: { url, host, dir, state, secrets, adminPassword, logs(mark?), logMark(), stop() }.
 * `sharingStateOf` (another startPier() result): run on that Pier's state and secrets, in a
 * workerd process of its own; stop it before the Pier whose state it shares.
 * `stop()` ends wrangler (and workerd under it) and deletes the state dir.
 *
 * `vars` ({ NAME: string }) are added to wrangler.toml's [vars] with `--var NAME:VALUE`: wrangler
 * splits that at the first colon only, so JSON values (PIER_UPSTREAMS) pass intact. Whatever
 * `vars` holds, `--env-file` names an empty file in the temp dir: given an env file, wrangler
 * does not read the project's `.dev.vars`, so a developer's local settings never leak in.
 */
export async function startPier({ vars = {}, sharingStateOf = null } = {}) {
  const dir = makeTempDir("pier-e2e-");
  const [tmp, envFile] = [join(dir, "tmp"), join(dir, "no.env")];
  // A second Pier on the same state: another workerd process, so other isolates over the very
  // same D1, R2 and Durable Object files (the closest a local run gets to another location).
  const state = sharingStateOf?.state ?? join(dir, "state");
  mkdirSync(tmp);
  writeFileSync(envFile, "");
  // A Pier needs an admin password and a signing key: fresh ones for each Pier started here.
  const secrets = sharingStateOf?.secrets ?? (await generateLocalSecrets());
  const varArgs = Object.entries({ ...secrets, ...vars }).flatMap(([name, value]) => {
    if (typeof value !== "string") throw new TypeError(`startPier: var ${name} must be a string (JSON.stringify it)`);
    return ["--var", `${name}:${value}`];
  });
  // TMPDIR inside the run's dir: miniflare's scratch files go away with the rest of the state.
  // No .env loading either, so not even a shell with CLOUDFLARE_INCLUDE_PROCESS_ENV=true passes
  // its variables on (the env file then goes unread too: it only keeps .dev.vars out).
  const env = { ...process.env, ...LOCAL_WRANGLER_ENV, CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "false", TMPDIR: tmp };
  // stdin is not a TTY, so wrangler applies the migrations without asking.
  const migrations = spawnSync("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", state], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    timeout: READY_TIMEOUT_MS,
  });
  if (migrations.status !== 0) {
    removeTempDir(dir);
    throw new Error(`applying D1 migrations failed (status ${migrations.status}):\n${migrations.stdout}${migrations.stderr}`);
  }

  const [port, inspectorPort] = [await freePort(), await freePort()];
  // Own process group (detached), so stop() can end npx, wrangler and workerd together.
  // --test-scheduled, as `npm start` has it: GET /__scheduled fires the Cron Trigger.
  // The inspector port is chosen too: the default 9229 may belong to someone's `npm start`.
  const child = spawn(
    "npx",
    ["wrangler", "dev", "--test-scheduled", "--port", String(port), "--ip", "127.0.0.1", "--inspector-port", String(inspectorPort), "--persist-to", state, "--env-file", envFile, ...varArgs],
    { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let log = "";
  let written = 0; // chars ever logged, so a caller can ask for what came after a mark
  const append = (chunk) => {
    written += chunk.length;
    log = (log + chunk).slice(-MAX_LOG_CHARS);
  };
  /** Wrangler's output (one line per request) since `mark` (a logMark() value), as far as kept. */
  const logs = (mark = 0) => log.slice(Math.max(0, mark - (written - log.length)));
  child.stdout.setEncoding("utf8").on("data", append);
  child.stderr.setEncoding("utf8").on("data", append);
  const { group, host, url, stop } = serverHandles(child, dir, port);

  const pier = { url, host, dir, state, secrets, adminPassword: secrets.ADMIN_PASSWORD, logs, logMark: () => written, stop };
  // Signed in as admin: anonymous GET /v2/ is a 401 challenge (issue 4), and a 200 here also
  // proves the secrets were accepted.
  await waitUntilReady(url, { what: "wrangler dev", isRunning: group.isRunning, stop, output: () => log, headers: asAdmin(pier) });
  return pier;
}

/** `headers` plus an Authorization signing in to `pier` (a startPier() result) as admin, with Basic. */
export function asAdmin(pier, headers = {}) {
  return { ...headers, Authorization: adminAuthorization(pier.adminPassword) };
}

/** Calls `pier`'s management API as admin, with `body` as JSON; the status and the parsed answer (null when not JSON). */
export async function adminApi(pier, method, path, body) {
  const response = await fetch(`${pier.url}/api/v1${path}`, {
    method,
    headers: asAdmin(pier, body === undefined ? {} : { "Content-Type": "application/json" }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

/** skopeo's value for --creds, --src-creds and --dest-creds: `pier`'s admin, `admin:<password>`. */
export function adminCreds(pier) {
  return `${ADMIN_USERNAME}:${pier.adminPassword}`;
}

/** What every server started here has: its process group, its address, and a stop() that also deletes `dir`. */
function serverHandles(child, dir, port) {
  const group = trackGroup(child);
  const host = `127.0.0.1:${port}`;
  const stop = async () => {
    await group.stop();
    removeTempDir(dir);
  };
  return { group, host, url: `http://${host}`, stop };
}

/** Resolves once GET `url`/v2/ (with `headers`) answers 200; when it does not, calls `stop()` and fails with the server's output. */
async function waitUntilReady(url, { what, isRunning, stop, output, headers = {} }) {
  try {
    await pollUntilReady(url, isRunning, what, headers);
  } catch (error) {
    await stop();
    throw new Error(`${error.message}\n--- ${what} output ---\n${output()}`);
  }
}

async function pollUntilReady(url, isRunning, what, headers) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (!isRunning()) throw new Error(`${what} exited before it answered`);
    try {
      const response = await fetch(`${url}/v2/`, { headers, signal: AbortSignal.timeout(5_000) });
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error.cause?.code ?? error.message;
    }
    // Polling a server that is still starting is the one wait with nothing to await.
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what} did not answer GET ${url}/v2/ with 200 within ${READY_TIMEOUT_MS / 1000} s (last: ${last})`);
}

/**
 * Starts CNCF distribution (Debian's `docker-registry`) on a free loopback port: no auth,
 * filesystem storage and config in a fresh temp dir, deletes allowed, access log on.
 * Resolves once GET /v2/ answers 200 with { url, host, dir, accessLog(), logs(), stop() }.
 * `accessLog()` lists every request answered so far, [{ method, path, status, bytes, userAgent }], in
 * order (distribution writes a line once the response is sent); `stop()` ends the registry,
 * is idempotent and deletes its storage.
 */
export async function startUpstreamRegistry() {
  const dir = makeTempDir("pier-e2e-upstream-");
  const port = await freePort();
  const config = join(dir, "config.yml");
  writeFileSync(config, distributionConfig({ dataDir: join(dir, "data"), port }));
  const child = spawn("docker-registry", ["serve", config], { cwd: dir, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let access = "";
  let log = "";
  child.stdout.setEncoding("utf8").on("data", (chunk) => (access += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk) => (log = (log + chunk).slice(-MAX_LOG_CHARS)));
  child.on("error", (error) => (log += `\n${error.message}`));
  const { group, host, url, stop } = serverHandles(child, dir, port);
  const accessLog = () => parseAccessLog(access);
  await waitUntilReady(url, { what: "docker-registry", isRunning: group.isRunning, stop, output: () => log });
  return { url, host, dir, accessLog, logs: () => log, stop };
}

/**
 * Keeps track of a child started `detached` (its own process group, so that npx, wrangler and
 * workerd end together): ended by stop() (SIGTERM, then SIGKILL) or when this process exits.
 */
function trackGroup(child) {
  let running = true;
  const exited = new Promise((resolve) => child.on("exit", resolve));
  groups.add(child.pid);
  exited.then(() => {
    running = false;
    groups.delete(child.pid);
  });
  return {
    isRunning: () => running,
    /** Idempotent. */
    async stop() {
      if (!running) return;
      signalGroup(child.pid, "SIGTERM");
      const timer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if (error.code !== "ESRCH") throw error; // already gone
  }
}

const groups = new Set(); // process groups (wrangler dev, docker-registry) still running
const tempDirs = new Set();

/** A fresh dir under the OS temp dir, deleted by removeTempDir() or, at the latest, on exit. */
export function makeTempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir) {
  tempDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

// Normally stop() and the test's after hook leave nothing behind; this is for runs that end early.
process.on("exit", () => {
  for (const pid of groups) signalGroup(pid, "SIGTERM");
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // A workerd still shutting down may be writing here; leaving a temp dir is not worth a crash.
    }
  }
});

// An interrupted run (Ctrl-C, a runner's SIGTERM) still goes through process "exit", so the
// wrangler process groups started above are ended and temp dirs deleted.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => process.exit(signal === "SIGINT" ? 130 : 143));
}

const toolCache = new Map();

/** Whether `name` can be run (checked once per process). */
export function hasTool(name) {
  if (!toolCache.has(name)) {
    const probe = spawnSync(name, ["--version"], { stdio: "ignore" });
    toolCache.set(name, probe.error === undefined && probe.status === 0);
  }
  return toolCache.get(name);
}

/**
 * Call first in a test that needs an external client: returns true when `name` is there.
 * When it is missing the test fails under CI (a CI image without the client is a broken CI
 * image, not a pass) and is visibly skipped on a developer machine: `if (!requireTool(t, "skopeo")) return;`
 */
export function requireTool(t, name) {
  if (hasTool(name)) return true;
  const message = `${name} is not installed`;
  // CI=true (as .ci/run sets it) or any value but "0"/"false".
  if (process.env.CI && !/^(0|false)$/i.test(process.env.CI)) throw new Error(`${message}, and CI is set: e2e tests must run in CI`);
  t.skip(`${message}; skipping (install ${name} to run this test)`);
  return false;
}

const SKOPEO_TIMEOUT_MS = 180_000;

/**
 * Runs skopeo with --insecure-policy (no dependence on the machine's policy.json); resolves
 * { status, signal, stdout: Buffer, stderr } on exit 0 (or always, with allowFailure), else
 * rejects with its stderr and the tail of `logs()` (Pier's log) to show what the server saw.
 */
export function runSkopeo(args, { allowFailure = false, logs = () => "" } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn("skopeo", ["--insecure-policy", ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: SKOPEO_TIMEOUT_MS });
    const stdout = [];
    let stderr = "";
    child.stdout.on("data", (chunk) => stdout.push(chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (status, signal) => {
      const result = { status, signal, stdout: Buffer.concat(stdout), stderr };
      if (status === 0 || allowFailure) return resolve(result);
      const tail = logs().split("\n").slice(-40).join("\n");
      reject(new Error(`skopeo ${args.join(" ")} exited ${status ?? signal}:\n${stderr}\n--- Pier log (tail) ---\n${tail}`));
    });
  });
}
