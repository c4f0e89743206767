// One structured log line per request (issue 12, "Observability"): JSON on the Worker's log, which
// Workers Logs indexes in production (wrangler.toml [observability]), so a request is found by
// its id (also the X-Request-Id header of its answer) and a slow route or a principal's refusals
// by a query. A line holds what the request was, never what it carried: the route pattern (not
// the path: upload session ids stay out), the repository, the principal's name, the status, the
// answer's size, the time and the cache state, and never a header, a query or a body, where
// passwords and tokens travel. PIER_REQUEST_LOG="off" turns it off (the test suite does).
import type { Context } from "hono";
import { routePath } from "hono/route";
import type { Bindings } from "./env";

export interface RequestLogLine {
  requestId: string;
  method: string;
  /** The route as registered, e.g. /v2/:name{.+}/manifests/:reference; null when none matched. */
  route: string | null;
  /** The repository a /v2 request named; null elsewhere. */
  repository: string | null;
  /** The signed-in principal's name; null when anonymous or not known yet (refused before). */
  principal: string | null;
  status: number;
  /** The answer's Content-Length; null when it streamed without one. */
  bytes: number | null;
  durationMs: number;
  /** X-Pier-Cache of pull-through answers (hit, miss, …); null elsewhere. */
  cache: string | null;
}

export function requestLogEnabled(env: Bindings): boolean {
  return env.PIER_REQUEST_LOG !== "off";
}

/** The request's id: Cloudflare's ray id where the edge gave one, else a fresh one (local runs). */
export function requestIdOf(c: Context): string {
  return c.req.header("CF-Ray") ?? crypto.randomUUID();
}

/** The line for a request whose answer is `c.res`, begun at `startedAt` (ms). */
export function requestLogLine(c: Context, requestId: string, startedAt: number): RequestLogLine {
  const length = c.res.headers.get("Content-Length");
  const principal = c.get("principal") as string | undefined;
  return {
    requestId,
    method: c.req.method,
    route: matchedRoute(c),
    repository: repositoryOf(new URL(c.req.url).pathname),
    principal: principal === undefined || principal === "" ? null : principal,
    status: c.res.status,
    bytes: length === null ? null : Number(length),
    durationMs: Date.now() - startedAt,
    cache: c.res.headers.get("X-Pier-Cache"),
  };
}

function matchedRoute(c: Context): string | null {
  const route = routePath(c, -1);
  return route === "" || route === "*" || route === "/*" ? null : route;
}

/** `/v2/<name>/(manifests|blobs|tags|referrers)/…`: names have several segments, the last keyword wins. */
function repositoryOf(path: string): string | null {
  const match = /^\/v2\/(.+)\/(?:manifests|blobs|tags|referrers)\//.exec(path);
  return match === null ? null : match[1]!;
}
