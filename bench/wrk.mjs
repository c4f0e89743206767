// Runs wrk (HTTP load generator) with a hard deadline and reads its summary.
import { spawn } from "node:child_process";
import { trackProcess } from "./processes.mjs";
import { credentialsFor } from "./registry-client.mjs";

/**
 * `wrk -t<threads> -c<connections> -d<seconds>s` against `url` with `headers` (and the
 * credentials of its registry, when the benchmark signed in to it, unless `signedIn` is false:
 * then only `headers`, e.g. an anonymous client or one with a bearer token):
 * { requestsPerSecond, requests, non2xx, socketErrors, latencyMs }. Non-2xx answers make the
 * figure meaningless (errors are cheap), so they fail the run instead of being averaged in.
 */
export async function wrk(url, { seconds, threads = 2, connections = 16, headers = {}, signedIn = true }) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, "--timeout", "5s"];
  for (const [name, value] of Object.entries({ ...(signedIn ? credentialsFor(url) : {}), ...headers })) args.push("-H", `${name}: ${value}`);
  args.push(url);
  const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
  const untrack = trackProcess(child.pid);
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk) => (output += chunk));
  // wrk stops by itself after `seconds`; this is for a wrk that hangs on a dead server.
  const killer = setTimeout(() => child.kill("SIGKILL"), (seconds + 30) * 1000);
  const [code] = await new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (...result) => resolve(result));
  });
  clearTimeout(killer);
  untrack();
  const number = (pattern) => {
    const match = pattern.exec(output);
    return match === null ? null : Number(match[1]);
  };
  const requestsPerSecond = number(/Requests\/sec:\s+([\d.]+)/);
  if (code !== 0 || requestsPerSecond === null) throw new Error(`wrk ${url} failed (exit ${code}):\n${output}`);
  const non2xx = number(/Non-2xx or 3xx responses:\s+(\d+)/) ?? 0;
  if (non2xx > 0) throw new Error(`wrk ${url}: ${non2xx} answers were not 2xx/3xx:\n${output}`);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const latency = /Latency\s+([\d.]+)(us|ms|s)\b/.exec(output);
  const toMs = { us: 1e-3, ms: 1, s: 1e3 };
  return {
    requestsPerSecond,
    requests: number(/(\d+) requests in/),
    socketErrors: errors === null ? 0 : errors.slice(1).reduce((sum, n) => sum + Number(n), 0),
    latencyMs: latency === null ? null : Number(latency[1]) * toMs[latency[2]],
  };
}
