// What every route handler shares: the Hono environment type and the small helpers that read
// a request's parts into the branded types of worker/oci.
import type { Context } from "hono";
import type { Config } from "../config";
import type { Bindings } from "../env";
import { parseRepoName, type RepoName } from "../oci/names";

export interface AppEnv {
  Bindings: Bindings;
  Variables: { config: Config };
}

export type AppContext = Context<AppEnv>;

export function repositoryParam(c: AppContext): RepoName {
  return parseRepoName(c.req.param("name") ?? "");
}

/** Content-Length as a number, or null when absent (chunked transfer) or malformed. */
export function contentLength(c: AppContext): number | null {
  const header = c.req.header("Content-Length");
  if (header === undefined || !/^\d+$/.test(header)) return null;
  return Number(header);
}

export function blobUrl(repository: RepoName, digest: string): string {
  return `/v2/${repository}/blobs/${digest}`;
}

export function uploadUrl(repository: RepoName): (sessionId: string) => string {
  return (sessionId) => `/v2/${repository}/blobs/uploads/${sessionId}`;
}
