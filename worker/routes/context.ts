// What every route handler shares: the Hono environment type and the small helpers that read
// a request's parts into the branded types of worker/oci.
import type { Context } from "hono";
import type { Freshness } from "../auth/account-state";
import type { AuthenticationRequest } from "../auth/authenticate";
import { declaredLength } from "../bounded-body";
import type { Config } from "../config";
import type { Bindings, WaitUntil } from "../env";
import { parseRepoName, type RepoName } from "../oci/names";
import { type ReadTarget, routeRead, routeWrite } from "../proxy/routing";

export interface AppEnv {
  Bindings: Bindings;
  /** `principal`: the signed-in principal's name once authentication knows it, for the request's log line. */
  Variables: { config: Config; principal?: string };
}

export type AppContext = Context<AppEnv>;

/** The repository a write (push, delete) goes to: always local, never an upstream's. */
export function writeRepository(c: AppContext): RepoName {
  return routeWrite(c.var.config, parseRepoName(c.req.param("name") ?? ""));
}

/** Where a read goes: a local repository or an upstream (worker/proxy/routing.ts). */
export function readTarget(c: AppContext): Promise<ReadTarget> {
  return routeRead(c.env, c.var.config, c.req.param("name") ?? "", c.req.query("ns"));
}

/** The query that chose the upstream (`ns`), which a next-page Link must keep. */
export function routingQuery(c: AppContext): Record<string, string> {
  const ns = c.req.query("ns");
  return ns === undefined ? {} : { ns };
}

/** Pier's origin as the client sees it: PUBLIC_URL, else the request's own (as tokenParties' issuer). */
export function publicOrigin(c: { var: { config: Config }; req: { url: string } }): string {
  return c.var.config.auth.publicUrl ?? new URL(c.req.url).origin;
}

/** Work that may finish after the answer (statistics), bound to this request. */
export function waitUntilOf(c: Context): WaitUntil {
  return (promise) => c.executionCtx.waitUntil(promise);
}

/** The client's address as Cloudflare's edge reports it; null when the request did not come through it. */
export function clientIp(c: Context): string | null {
  return c.req.header("CF-Connecting-IP") ?? null;
}

/** What authentication needs of a request, for credentials that must be `freshness` current. */
export function credentialsOf(c: Context, freshness: Freshness): AuthenticationRequest {
  return { authorization: c.req.header("Authorization") ?? null, ip: clientIp(c), url: c.req.url, freshness, waitUntil: waitUntilOf(c) };
}

/** Content-Length as a number, or null when absent (chunked transfer) or malformed. */
export function contentLength(c: AppContext): number | null {
  return declaredLength(c.req.raw.headers);
}

export function blobUrl(repository: RepoName, digest: string): string {
  return `/v2/${repository}/blobs/${digest}`;
}

export function uploadUrl(repository: RepoName): (sessionId: string) => string {
  return (sessionId) => `/v2/${repository}/blobs/uploads/${sessionId}`;
}
