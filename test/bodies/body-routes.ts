// Every route outside /v2 that a client may send a body to (POST, PUT, PATCH), with a real
// resource behind each path, and helpers to send each one a body much larger than 64 KiB. The
// tests in this folder walk this list; route-table.test.ts checks it names every such route of
// the app, so a route added without a bounded body fails there.
import { expect } from "vitest";
import { SMALL_BODY_BYTES } from "../../worker/bounded-body";
import { apiJson, apiProject, apiRobot, newUser, shortName, unique } from "../helpers/management";
import { type Login, MiB, request } from "../helpers/registry";

export interface BodyRoute {
  method: "POST" | "PATCH" | "PUT";
  /** The route as hono's route table spells it. */
  pattern: string;
  /** "json": parsed whole (413 past 64 KiB); "none": takes no body and never reads one. */
  body: "json" | "form" | "none";
  /** A path to a resource that exists, made as the route needs it. */
  path: () => Promise<string>;
  /** Who calls: the admin, or nobody (the token endpoint is where credentials go in a form). */
  as: "admin" | null;
}

/** One project with a member and a robot, and one system robot: what the paths point at. */
interface Fixtures {
  project: string;
  user: Login;
  projectRobot: string;
  systemRobot: string;
}

let fixtures: Promise<Fixtures> | undefined;

function shared(): Promise<Fixtures> {
  fixtures ??= (async () => {
    const project = await apiProject();
    const user = await newUser();
    const projectRobot = shortName((await apiRobot(project)).username);
    const systemRobot = unique("sys");
    await apiJson("/robots", { body: { name: systemRobot, projects: [{ project, permissions: ["pull"] }] } }, 201);
    return { project, user, projectRobot, systemRobot };
  })();
  return fixtures;
}

const fixed = (path: string) => async () => path;
const using = (make: (f: Fixtures) => string) => async () => make(await shared());

let registry: Promise<string> | undefined;

/** A remote registry on a port nothing listens on: a ping of it fails fast, and says so. */
const withRegistry = (make: (name: string) => string) => async () => {
  registry ??= (async () => {
    const name = unique("remote");
    await apiJson("/registries", { body: { name, url: "http://127.0.0.1:9", type: "oci" } }, 201);
    return name;
  })();
  return make(await registry);
};

let webhook: Promise<string> | undefined;

/** A webhook of the shared project, aimed at a port nothing listens on (its test delivery fails fast). */
const withWebhook = (make: (path: string) => string) => async () => {
  webhook ??= (async () => {
    const { project } = await shared();
    const name = unique("hook");
    await apiJson(`/projects/${project}/webhooks`, { body: { name, url: "http://127.0.0.1:9/hook", events: ["PUSH_ARTIFACT"], format: "harbor" } }, 201);
    return `/api/v1/projects/${project}/webhooks/${name}`;
  })();
  return make(await webhook);
};

export const BODY_ROUTES: BodyRoute[] = [
  { method: "POST", pattern: "/token", body: "form", path: fixed("/token"), as: null },
  { method: "POST", pattern: "/api/v1/users", body: "json", path: fixed("/api/v1/users"), as: "admin" },
  { method: "PATCH", pattern: "/api/v1/users/:username", body: "json", path: using((f) => `/api/v1/users/${f.user.username}`), as: "admin" },
  { method: "POST", pattern: "/api/v1/projects", body: "json", path: fixed("/api/v1/projects"), as: "admin" },
  { method: "PATCH", pattern: "/api/v1/projects/:project", body: "json", path: using((f) => `/api/v1/projects/${f.project}`), as: "admin" },
  { method: "POST", pattern: "/api/v1/projects/:project/members", body: "json", path: using((f) => `/api/v1/projects/${f.project}/members`), as: "admin" },
  { method: "PUT", pattern: "/api/v1/projects/:project/immutable-tags", body: "json", path: using((f) => `/api/v1/projects/${f.project}/immutable-tags`), as: "admin" },
  { method: "POST", pattern: "/api/v1/projects/:project/robots", body: "json", path: using((f) => `/api/v1/projects/${f.project}/robots`), as: "admin" },
  { method: "PUT", pattern: "/api/v1/projects/:project/retention", body: "json", path: using((f) => `/api/v1/projects/${f.project}/retention`), as: "admin" },
  { method: "POST", pattern: "/api/v1/projects/:project/retention/runs", body: "json", path: using((f) => `/api/v1/projects/${f.project}/retention/runs`), as: "admin" },
  { method: "POST", pattern: "/api/v1/projects/:project/webhooks", body: "json", path: using((f) => `/api/v1/projects/${f.project}/webhooks`), as: "admin" },
  { method: "PATCH", pattern: "/api/v1/projects/:project/webhooks/:name", body: "json", path: withWebhook((path) => path), as: "admin" },
  { method: "POST", pattern: "/api/v1/projects/:project/webhooks/:name/test", body: "none", path: withWebhook((path) => `${path}/test`), as: "admin" },
  {
    method: "PATCH",
    pattern: "/api/v1/projects/:project/robots/:name",
    body: "json",
    path: using((f) => `/api/v1/projects/${f.project}/robots/${f.projectRobot}`),
    as: "admin",
  },
  {
    method: "POST",
    pattern: "/api/v1/projects/:project/robots/:name/secret",
    body: "none",
    path: using((f) => `/api/v1/projects/${f.project}/robots/${f.projectRobot}/secret`),
    as: "admin",
  },
  { method: "POST", pattern: "/api/v1/robots", body: "json", path: fixed("/api/v1/robots"), as: "admin" },
  { method: "PATCH", pattern: "/api/v1/robots/:name", body: "json", path: using((f) => `/api/v1/robots/${f.systemRobot}`), as: "admin" },
  { method: "POST", pattern: "/api/v1/robots/:name/secret", body: "none", path: using((f) => `/api/v1/robots/${f.systemRobot}/secret`), as: "admin" },
  { method: "POST", pattern: "/api/v1/cache/prefetch", body: "json", path: fixed("/api/v1/cache/prefetch"), as: "admin" },
  { method: "PUT", pattern: "/api/v1/system/schedules/:name", body: "json", path: fixed("/api/v1/system/schedules/audit-purge"), as: "admin" },
  { method: "POST", pattern: "/api/v1/system/gc", body: "json", path: fixed("/api/v1/system/gc"), as: "admin" },
  { method: "POST", pattern: "/api/v1/replication/policies", body: "json", path: fixed("/api/v1/replication/policies"), as: "admin" },
  // The body is refused before the policy is looked up; the stop route reads none (an unknown execution: 404).
  { method: "PUT", pattern: "/api/v1/replication/policies/:name", body: "json", path: fixed("/api/v1/replication/policies/mirror"), as: "admin" },
  { method: "POST", pattern: "/api/v1/replication/executions", body: "json", path: fixed("/api/v1/replication/executions"), as: "admin" },
  { method: "POST", pattern: "/api/v1/replication/executions/:id/stop", body: "none", path: fixed("/api/v1/replication/executions/unknown/stop"), as: "admin" },
  { method: "POST", pattern: "/api/v1/registries", body: "json", path: fixed("/api/v1/registries"), as: "admin" },
  { method: "PATCH", pattern: "/api/v1/registries/:name", body: "json", path: withRegistry((name) => `/api/v1/registries/${name}`), as: "admin" },
  { method: "POST", pattern: "/api/v1/registries/:name/ping", body: "none", path: withRegistry((name) => `/api/v1/registries/${name}/ping`), as: "admin" },
];

export function describeRoute(route: BodyRoute): string {
  return `${route.method} ${route.pattern}`;
}

/** What the whole of a "huge" body would be: far beyond any limit, never made in full. */
export const HUGE = 400 * 1024 * 1024;
/**
 * How much of a refused body may be pulled from the sender. Bytes pass through workerd's HTTP
 * layer between the test and the Worker, which buffers some ahead of the reader; reading to the
 * end would pull all of HUGE, and the old drain pulled up to the test body cap (25 MiB).
 */
export const READ_BUDGET = 4 * MiB;

export interface LazyBody {
  body: ReadableStream<Uint8Array>;
  /** Bytes handed to the reader so far. */
  pulled: () => number;
  /** Whether the reader cancelled the rest. */
  cancelled: () => boolean;
}

/**
 * A body of `total` bytes made only as they are read (pull-based, highWaterMark 0), starting
 * with `prefix` (a form's fields, say) and padded with spaces, which counts what was pulled.
 */
export function lazyBody(total = HUGE, prefix = ""): LazyBody {
  const piece = new Uint8Array(64 * 1024).fill(0x20);
  const head = new TextEncoder().encode(prefix);
  let pulled = 0;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (pulled >= total) return controller.close();
        const chunk = pulled === 0 && head.byteLength > 0 ? head : piece.subarray(0, Math.min(piece.byteLength, total - pulled));
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel() {
        cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { body, pulled: () => pulled, cancelled: () => cancelled };
}

/** Sends `body` to the route (as whoever it takes), with the content type its body needs. */
export async function send(route: BodyRoute, body: BodyInit, headers: Record<string, string> = {}): Promise<Response> {
  const type = route.body === "form" ? "application/x-www-form-urlencoded" : "application/json";
  return request(await route.path(), { method: route.method, body, headers: { "Content-Type": type, ...headers } }, route.as === "admin" ? undefined : null);
}

/** 413 with the registry's error body, naming the 64 KiB limit. */
export async function expectTooLarge(response: Response): Promise<void> {
  const text = await response.text();
  expect(response.status, text).toBe(413);
  expect(JSON.parse(text)).toMatchObject({ errors: [{ code: "SIZE_INVALID", message: expect.stringContaining(`${SMALL_BODY_BYTES} bytes`) }] });
}
