#!/usr/bin/env node
// `npm run bench:access`: what access control costs a pull (issue 4, "Proof": manifest GET with a
// bearer token stays >= 0.9x the anonymous rate on a public project). One Pier on Miniflare, as
// `npm run bench` measures manifest GETs, a public project holding a small image, and wrk on
// GET manifest by tag as three clients: anonymous, a bearer token from GET /token, and (for
// information) a robot sending Basic credentials on every request. Prints the rates, the
// server CPU per request and the ratios; saves everything to bench/results/access-<timestamp>.json.
// First, on a second Pier at the shipped defaults (issue 9): a rollout of 500 nodes through one
// robot and from one NAT address (429s counted), 256 addresses guessing one password, and the
// time a spread-out guesser needs per 1,000 guesses (bench/fleet-and-guessers.mjs).
// Quicker tries: BENCH_WRK_SECONDS, BENCH_WRK_RUNS (0: the defaults part only). See BENCHMARKS.md.
import { loadavg } from "node:os";
import { basicAuthorization } from "../worker/dev/local-run.mjs";
import { cpuSeconds } from "./memory.mjs";
import { giveUpAfter, runBenchmark } from "./processes.mjs";
import * as client from "./registry-client.mjs";
import { codeVersion, fixed, median, saveResults, spread, table } from "./report.mjs";
import { guessers, rollouts, simulatedAttacks } from "./fleet-and-guessers.mjs";
import { startPier } from "./servers.mjs";
import { wrk } from "./wrk.mjs";

const PROJECT = "benchpub";
const DEFAULT_LIMIT = "1,000 requests/s per principal or anonymous address, 20 s burst; sign-ins throttled by failures";
const REPO = `${PROJECT}/image`;
const ROBOT = "bench";
const TARGET = 0.9;
const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
// The request limit runs as in the other benchmarks (1,000,000/s: it leases tokens from its
// Durable Object on every client's path, but never refuses); BENCH_RATE_LIMIT_PER_SECOND=0 turns it off.
const settings = {
  wrkSeconds: env("BENCH_WRK_SECONDS", 10),
  wrkRuns: env("BENCH_WRK_RUNS", 5),
  warmupSeconds: 2,
  requestLimitPerSecond: env("BENCH_RATE_LIMIT_PER_SECOND", 1_000_000),
  target: TARGET,
};
giveUpAfter(env("BENCH_DEADLINE_MIN", 10));

const started = Date.now();
const log = (message) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`);
const results = { startedAt: new Date(started).toISOString(), settings, code: codeVersion(), modes: {}, loadAverage: { start: loadavg() } };

const { expectStatus, jsonBody } = client;

/** As admin (the benchmark's login): a public project with a small image, and a pull robot in it; the robot's login name. */
async function setUp(url) {
  expectStatus(await client.request("POST", `${url}/api/v1/projects`, jsonBody({ name: PROJECT, public: true })), 201, "creating the public project");
  await client.pushSmallImage(url, REPO, "v1");
  const robot = await client.request("POST", `${url}/api/v1/projects/${PROJECT}/robots`, jsonBody({ name: ROBOT, permissions: ["pull"], expiresInDays: 1 }));
  return JSON.parse(expectStatus(robot, 201, "creating a pull robot").text).name;
}

/**
 * The robot's Basic header with a fresh secret. Pier trusts verified Basic credentials for 60 s
 * per isolate; when that lapses, every request in flight checks them again and takes a sign-in
 * attempt from the login throttle (10 at once per name), so with wrk's 16 connections 6 answer
 * 429 and fail the run. Fresh credentials per run, signed in once by the run's first request,
 * keep every 10 s run inside one such minute: the row shows the steady cost of Basic on every
 * request, not that stampede (reported in BENCHMARKS.md).
 */
async function robotAuthorization(url) {
  const answer = await client.request("POST", `${url}/api/v1/projects/${PROJECT}/robots/${ROBOT}/secret`);
  const { name, secret } = JSON.parse(expectStatus(answer, 200, "refreshing the robot's secret").text);
  return basicAuthorization(name, secret);
}

/**
 * A pull token for the image, as the admin's Basic credentials buy it (docker's token dance).
 * Fetched before every timed run, so that no run outlives one (900 s by default); its expiry
 * is checked against the run's length all the same.
 */
async function pullToken(url) {
  const query = new URLSearchParams({ service: new URL(url).host, scope: `repository:${REPO}:pull` });
  const { token } = JSON.parse(expectStatus(await client.request("GET", `${url}/token?${query}`), 200, "GET /token").text);
  const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
  if (!claims.access?.some((entry) => entry.name === REPO && entry.actions.includes("pull"))) throw new Error(`the token does not grant pull on ${REPO}: ${JSON.stringify(claims.access)}`);
  const secondsLeft = claims.exp - Date.now() / 1000;
  if (secondsLeft < settings.wrkSeconds * 2 + 30) throw new Error(`the token expires in ${secondsLeft.toFixed(0)} s, too soon for a ${settings.wrkSeconds} s run`);
  return token;
}

/**
 * The three clients: what wrk sends (no stored login: each sends exactly these headers), and
 * the login name the audit log must record for their pulls (proof of who wrk really was).
 */
function clientModes(url, robotName) {
  return {
    anonymous: { label: "anonymous (no Authorization)", headers: async () => ({}), auditedAs: "anonymous" },
    bearer: { label: "Authorization: Bearer <pull token>", headers: async () => ({ Authorization: `Bearer ${await pullToken(url)}` }), auditedAs: "admin" },
    robotBasic: { label: "robot, Basic on every request", headers: async () => ({ Authorization: await robotAuthorization(url) }), auditedAs: robotName },
  };
}

/** Before any timing: each client gets the manifest (200, same bytes), forged tokens get 401. */
async function verifyAnswers(url, modes) {
  const manifest = `${url}/v2/${REPO}/manifests/v1`;
  const get = (target, headers) => client.request("GET", target, { headers: { Accept: client.OCI_MANIFEST, ...headers }, signedIn: false });
  // Anonymous means no credentials at all: the base endpoint, which needs a sign-in, refuses.
  expectStatus(await get(`${url}/v2/`, {}), 401, "anonymous GET /v2/ (is the client really anonymous?)");
  const expected = expectStatus(await client.request("GET", manifest, { headers: { Accept: client.OCI_MANIFEST } }), 200, "manifest GET as admin").text;
  for (const [name, mode] of Object.entries(modes)) {
    const answer = expectStatus(await get(manifest, await mode.headers()), 200, `manifest GET, ${name}`);
    if (answer.text !== expected) throw new Error(`manifest GET, ${name}: different bytes`);
  }
  const token = await pullToken(url);
  // A flipped signature byte: the token is verified, not just decoded.
  const [header, payload, signature] = token.split(".");
  const flipped = Buffer.from(signature, "base64url");
  flipped[0] ^= 1;
  for (const [what, forged] of [
    ["a token with a forged signature", `${header}.${payload}.${flipped.toString("base64url")}`],
    ["a token that is not a JWT", "not-a-token"],
  ]) {
    expectStatus(await get(manifest, { Authorization: `Bearer ${forged}` }), 401, `manifest GET with ${what}`);
  }
}

/** The login name of the newest pull in the audit log (reading it flushes the pending records). */
async function lastPuller(url) {
  const answer = await client.request("GET", `${url}/api/v1/audit-logs?project=${PROJECT}&action=pull&n=1`);
  return JSON.parse(expectStatus(answer, 200, "reading the audit log").text).items[0]?.principal ?? null;
}

/** wrk as one client, after one request proving its headers get 200; `seconds` of load, and the server's CPU per request meanwhile. */
async function measure(pier, mode, seconds) {
  const headers = { Accept: client.OCI_MANIFEST, ...(await mode.headers()) };
  expectStatus(await client.request("GET", `${pier.url}/v2/${REPO}/manifests/v1`, { headers, signedIn: false }), 200, `manifest GET, ${mode.label}`);
  const cpu = cpuSeconds(pier.pid);
  const figure = await wrk(`${pier.url}/v2/${REPO}/manifests/v1`, { seconds, headers, signedIn: false }).catch((error) => {
    throw new Error(`${mode.label}, ${seconds} s at ${((Date.now() - started) / 1000).toFixed(0)} s: ${error.message}`);
  });
  return { ...figure, cpuMicrosPerRequest: ((cpuSeconds(pier.pid) - cpu) / figure.requests) * 1e6 };
}

/** The fleet and the guessers against a Pier at its shipped defaults (bench/fleet-and-guessers.mjs). */
async function defaults() {
  log("starting Pier (Miniflare) at the shipped defaults");
  const pier = await startPier("pier-defaults", { shippedLimits: true });
  try {
    results.rollout = await rollouts(pier.url);
    log(`rollouts: robot ${results.rollout.robot.tooMany} x 429, anonymous ${results.rollout.anonymous.tooMany} x 429`);
    results.guessers = await guessers(pier.url);
    log(`guessers: ${results.guessers.guessesChecked} guesses checked before every address was refused; real user ${results.guessers.realUserStatus}`);
  } finally {
    await pier.stop();
  }
  results.simulatedAttacks = await simulatedAttacks();
}

async function main() {
  await defaults();
  if (settings.wrkRuns === 0) return;
  log("starting Pier (Miniflare)");
  const pier = await startPier("pier-access", { vars: { PIER_RATE_LIMIT_PER_SECOND: String(settings.requestLimitPerSecond) } });
  try {
    const modes = clientModes(pier.url, await setUp(pier.url));
    await verifyAnswers(pier.url, modes);
    log("each client gets the manifest (200), forged tokens get 401; warming up");
    for (const name of Object.keys(modes)) {
      await measure(pier, modes[name], settings.warmupSeconds);
      results.modes[name] = { label: modes[name].label, rps: [], cpuMicrosPerRequest: [], latencyMs: [], socketErrors: 0 };
    }
    const names = Object.keys(modes);
    for (let run = 0; run < settings.wrkRuns; run++) {
      // Interleaved, the first client rotating, so that drift in the machine's load hits all alike.
      for (const name of [...names.slice(run % names.length), ...names.slice(0, run % names.length)]) {
        const figure = await measure(pier, modes[name], settings.wrkSeconds);
        const puller = await lastPuller(pier.url);
        if (puller !== modes[name].auditedAs) throw new Error(`${name}: the audit log's last pull is by ${puller}, expected ${modes[name].auditedAs}`);
        const series = results.modes[name];
        series.rps.push(figure.requestsPerSecond);
        series.cpuMicrosPerRequest.push(figure.cpuMicrosPerRequest);
        series.latencyMs.push(figure.latencyMs);
        series.socketErrors += figure.socketErrors;
      }
      log(`run ${run + 1}/${settings.wrkRuns} done`);
    }
  } finally {
    await pier.stop();
  }
}

function summarise() {
  const of = (name, series) => median(results.modes[name]?.[series]);
  const ratio = (a, b) => (a === null || b === null || b === 0 ? null : a / b);
  return {
    rps: Object.fromEntries(Object.keys(results.modes).map((name) => [name, of(name, "rps")])),
    cpuMicrosPerRequest: Object.fromEntries(Object.keys(results.modes).map((name) => [name, of(name, "cpuMicrosPerRequest")])),
    ratios: {
      bearerOverAnonymous: ratio(of("bearer", "rps"), of("anonymous", "rps")),
      bearerOverAnonymousPerCpu: ratio(of("anonymous", "cpuMicrosPerRequest"), of("bearer", "cpuMicrosPerRequest")),
      // The two runs of a round are close in time, so their ratio is freest of the machine's drift.
      bearerOverAnonymousPerRound: (results.modes.bearer?.rps ?? []).map((rps, round) => ratio(rps, results.modes.anonymous.rps[round])),
      robotBasicOverAnonymous: ratio(of("robotBasic", "rps"), of("anonymous", "rps")),
    },
  };
}

function reportDefaults() {
  const { rollout, guessers: guessed, simulatedAttacks: attacks } = results;
  if (rollout === undefined) return;
  console.log(`
At the shipped defaults (request limit ${DEFAULT_LIMIT}):
`);
  console.log(
    table([
      ["rollout", "nodes x layers", "requests", "429", "other failures", "seconds"],
      ...Object.entries(rollout).map(([name, r]) => [name === "robot" ? "through one robot" : "anonymous, one NAT address", `${r.nodes} x ${r.layers}`, String(r.requests), String(r.tooMany), String(r.failures), fixed(r.seconds, 1)]),
    ]),
  );
  if (guessed !== undefined) {
    console.log(`
Guessers: ${guessed.addresses} addresses guessing one name at once got ${guessed.guessesChecked} guesses checked before every address was refused (Retry-After ${guessed.retryAfterSeconds.join(", ")} s), in ${fixed(guessed.seconds, 1)} s; the real user from an address of its own then got ${guessed.realUserStatus}.`);
  }
  if (attacks !== undefined) {
    console.log("\nThe throttle's rules on a simulated clock (bench/sign-in-attack.ts), every guess wrong, as fast as allowed:\n");
    console.log(
      table([
        ["addresses", "guesses in the first minute", "time for 1,000 guesses", "real user refused"],
        ...attacks.map((a) => [String(a.addresses), String(a.firstMinute), a.seconds < 60 ? "under a minute" : `${fixed(a.seconds / 3600, 1)} h`, `${a.realUserRefusals} of ${a.realUserAttempts}`]),
      ]),
    );
  }
}

function report() {
  reportDefaults();
  if (Object.keys(results.modes).length === 0) {
    console.log(`Took ${fixed(results.durationSeconds)} s.\n\nresults: ${saveResults(results, "access-")}`);
    return;
  }
  const summary = (results.summary = summarise());
  const { code, settings: s } = results;
  const ratioOf = { bearer: summary.ratios.bearerOverAnonymous, robotBasic: summary.ratios.robotBasicOverAnonymous };
  const met = summary.ratios.bearerOverAnonymous !== null && summary.ratios.bearerOverAnonymous >= TARGET;
  console.log(`
Pier access benchmark, ${results.startedAt}, loopback; Pier at ${code.commit}${code.dirty ? ` with uncommitted changes in ${code.dirty}` : ""}
Pier on Miniflare/workerd (no wrangler dev proxy), request limit ${s.requestLimitPerSecond > 0 ? `${s.requestLimitPerSecond}/s` : "off"}. GET /v2/${REPO}/manifests/v1 (public project), wrk -t2 -c16 -d${s.wrkSeconds}s x ${s.wrkRuns} per client, interleaved.
Load average (1 min) at start ${fixed(results.loadAverage.start[0], 1)}, at end ${fixed(results.loadAverage.end?.[0], 1)}. Median (min-max).
`);
  console.log(
    table([
      ["client", "req/s", "server CPU per request (us)", "latency avg (ms)", "req/s over anonymous"],
      ...Object.entries(results.modes).map(([name, m]) => [m.label, spread(m.rps), spread(m.cpuMicrosPerRequest), fixed(median(m.latencyMs), 2), name in ratioOf ? fixed(ratioOf[name], 2) : "-"]),
    ]),
  );
  console.log(`
bearer/anonymous ${fixed(summary.ratios.bearerOverAnonymous, 2)}: ${met ? "met" : "MISSED"} (target >= ${TARGET}); per server CPU second ${fixed(summary.ratios.bearerOverAnonymousPerCpu, 2)}; round by round ${summary.ratios.bearerOverAnonymousPerRound.map((r) => fixed(r, 2)).join(", ")}`);
  const errors = Object.entries(results.modes).filter(([, m]) => m.socketErrors > 0);
  if (errors.length > 0) console.log(`wrk socket errors: ${errors.map(([name, m]) => `${name} ${m.socketErrors}`).join(", ")}`);
  console.log(`Took ${fixed(results.durationSeconds)} s.\n\nresults: ${saveResults(results, "access-")}`);
}

runBenchmark(main, { started, results, report });
