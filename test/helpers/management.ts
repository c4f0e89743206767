// Shared helpers for the management API tests (/api/v1): calls as admin, as a user or robot, or
// anonymously; projects and users with unique names; and the error-body check.
import { env } from "cloudflare:test";
import { expect } from "vitest";
import { authenticate } from "../../worker/auth/authenticate";
import type { ProjectRole } from "../../worker/auth/permissions";
import { type ConfigSource, parseConfig } from "../../worker/config";
import { RegistryError } from "../../worker/errors";
import { ADMIN, basic, type Login, newUser, unique } from "./identities";
import { request } from "./registry";

export { ADMIN, basic, type Login, newUser, unique };

/** Who calls: a login, the admin, or nobody (no Authorization header). */
export type Caller = Login | "admin" | null;

export interface ApiOptions {
  method?: string;
  body?: unknown;
  as?: Caller;
  headers?: Record<string, string>;
}

/** One management API call; as the admin unless told otherwise. */
export function api(path: string, { method, body, as = "admin", headers = {} }: ApiOptions = {}): Promise<Response> {
  const login = as === "admin" ? ADMIN : as;
  return request(
    `/api/v1${path}`,
    {
      method: method ?? (body === undefined ? "GET" : "POST"),
      headers: { ...headers, ...(body !== undefined && { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    },
    login,
  );
}

/** The call's JSON body, after checking its status. */
export async function apiJson<T = Record<string, unknown>>(path: string, options: ApiOptions = {}, status = 200): Promise<T> {
  const response = await api(path, options);
  const text = await response.text();
  expect(response.status, `${options.method ?? "GET"} ${path}: ${text}`).toBe(status);
  return JSON.parse(text) as T;
}

/** Checks an error answer's status and the spec's error body. */
export async function expectError(response: Response, status: number, code: string): Promise<string> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  const body = JSON.parse(text) as { errors: { code: string; message: string }[] };
  expect(body.errors[0]?.code).toBe(code);
  return body.errors[0]!.message;
}

/** A project made through the API as admin; private unless asked. */
export async function apiProject(options: { public?: boolean } = {}): Promise<string> {
  const name = unique("team");
  await apiJson("/projects", { body: { name, public: options.public ?? false } }, 201);
  return name;
}

/** A new user holding `role` in `project` (added through the API as admin). */
export async function member(project: string, role: ProjectRole): Promise<Login> {
  const login = await newUser();
  await apiJson(`/projects/${project}/members`, { body: { username: login.username, role } }, 201);
  return login;
}

/** A project robot made through the API as admin; its login as returned at creation. */
export async function apiRobot(project: string, body: Record<string, unknown> = {}): Promise<Login> {
  const created = await apiJson<{ name: string; secret: string }>(`/projects/${project}/robots`, { body: { name: unique("ci"), permissions: ["pull"], ...body } }, 201);
  return { username: created.name, password: created.secret };
}

/** A project robot's own name: `ci` of `robot$team+ci`, as its URLs take it. */
export function shortName(login: string): string {
  return login.slice(login.indexOf("+") + 1);
}

export interface AuditItem {
  at: string;
  principal: string;
  action: string;
  resource: string;
  project: string | null;
  result: string;
  ip: string | null;
  count: number;
}

/** The newest audit records matching the query (as admin). */
export async function auditOf(query: Record<string, string>): Promise<AuditItem[]> {
  const body = await apiJson<{ items: AuditItem[] }>(`/audit-logs?${new URLSearchParams(query).toString()}`);
  return body.items;
}

/**
 * Whether the login signs in right now. Asked of `authenticate` with a configuration of its
 * own (a verified login is remembered per configuration for minutes), and with freshness
 * "now": this must see the account as it is now, not as an earlier request found it.
 */
export async function signsIn(login: Login): Promise<boolean> {
  const config = parseConfig({ ...(env as unknown as ConfigSource) });
  // The audit records and throttle settlements a sign-in leaves are awaited, so none outlives the test.
  const pending: Promise<unknown>[] = [];
  try {
    await authenticate(env, config, { authorization: basic(login), ip: null, url: "http://registry.test/", freshness: "now", waitUntil: (promise) => void pending.push(promise) });
    return true;
  } catch (error) {
    if (error instanceof RegistryError && error.code === "UNAUTHORIZED") return false;
    throw error;
  } finally {
    await Promise.all(pending);
  }
}
