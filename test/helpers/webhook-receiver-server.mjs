// A webhook receiver for the tests, started by test/vitest.config.ts next to the fake upstreams:
// a node:http server on 127.0.0.1 that records every request it receives (method, path, headers,
// raw body) and answers as the test scripted. Each test uses a key of its own, so tests never see
// each other's deliveries. Typed wrappers: test/helpers/webhook-receiver.ts.
//   ANY  /hooks/<key>[/…]               a delivery: recorded, then answered from the script
//   POST /control/script/<key>          {"statuses"?: [500, 500], "hang"?: n}: the next answers
//                                       (then 200), and how many requests to hold unanswered
//   POST /control/release/<key>         answers the held requests (200)
//   GET  /control/requests/<key>?count=n&timeoutMs=t
//                                       the recorded requests, once there are n (or at t ms)
import { readBody } from "./fake-upstream-control.mjs";
import { sendJson } from "./fake-upstream-registry.mjs";
import { listenOnLoopback } from "./loopback-server.mjs";

/** A held request is answered after this long even when the test never releases it. */
const MAX_HOLD_MS = 60_000;
const MAX_WAIT_MS = 30_000;

const MEMO = Symbol.for("pier.webhookReceiver");

/**
 * Starts the receiver once per process (the config may be evaluated more than once); its origin.
 * @returns {Promise<string>}
 */
export function startWebhookReceiver() {
  const memo = /** @type {Record<symbol, Promise<string> | undefined>} */ (/** @type {unknown} */ (globalThis));
  memo[MEMO] ??= start();
  return /** @type {Promise<string>} */ (memo[MEMO]);
}

/**
 * @typedef {{ method: string, path: string, headers: Record<string, string>, body: string, at: number }} Recorded
 * @typedef {{ requests: Recorded[], statuses: number[], hang: number, held: (() => void)[], waiters: (() => void)[] }} Hook
 */

function start() {
  /** @type {Map<string, Hook>} */
  const hooks = new Map();
  const hookOf = (/** @type {string} */ key) => {
    let hook = hooks.get(key);
    if (hook === undefined) hooks.set(key, (hook = { requests: [], statuses: [], hang: 0, held: [], waiters: [] }));
    return hook;
  };
  return listenOnLoopback(async (req, res, url) => {
    const body = await readBody(req);
    const [, area, action, key] = /^\/(hooks|control)\/([^/]+)(?:\/([^/]+))?/.exec(url.pathname) ?? [];
    if (area === "hooks" && action !== undefined) return receive(hookOf(action), req, url, body, res);
    if (area === "control" && key !== undefined) return control(hookOf(key), action, url, body, res);
    sendJson(res, 404, { error: `no route for ${url.pathname}` });
  }).then(({ origin }) => origin);
}

/** @param {Hook} hook */
function receive(hook, req, url, body, res) {
  const headers = Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(", ") : String(value)]));
  hook.requests.push({ method: req.method ?? "GET", path: `${url.pathname}${url.search}`, headers, body: body.toString("base64"), at: Date.now() });
  for (const wake of hook.waiters.splice(0)) wake();
  if (hook.hang > 0) {
    hook.hang--;
    const answer = () => sendJson(res, 200, { held: true });
    const timer = setTimeout(answer, MAX_HOLD_MS);
    timer.unref();
    hook.held.push(() => {
      clearTimeout(timer);
      answer();
    });
    return;
  }
  const status = hook.statuses.shift() ?? 200;
  sendJson(res, status, { status });
}

/** @param {Hook} hook */
async function control(hook, action, url, body, res) {
  if (action === "script") {
    const script = JSON.parse(body.toString("utf8") || "{}");
    hook.statuses = Array.isArray(script.statuses) ? script.statuses : [];
    hook.hang = Number(script.hang ?? 0);
    return sendJson(res, 200, {});
  }
  if (action === "release") {
    for (const answer of hook.held.splice(0)) answer();
    return sendJson(res, 200, {});
  }
  if (action === "requests") {
    const count = Number(url.searchParams.get("count") ?? 0);
    const deadline = Date.now() + Math.min(Number(url.searchParams.get("timeoutMs") ?? 0), MAX_WAIT_MS);
    while (hook.requests.length < count && Date.now() < deadline) {
      // Woken by the next request, or at the deadline.
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        timer.unref();
        hook.waiters.push(() => {
          clearTimeout(timer);
          resolve(undefined);
        });
      });
    }
    return sendJson(res, 200, hook.requests);
  }
  sendJson(res, 404, { error: `no control action ${action}` });
}
