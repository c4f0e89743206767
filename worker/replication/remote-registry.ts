// A remote registry as replication speaks to it: its row in D1 (remote_registries), its sealed
// credentials opened with PIER_CREDENTIALS_KEY, and the Peer the registry client
// (worker/proxy/upstream-client.ts) takes. The password exists in clear only in this isolate's
// memory, inside the Peer's Basic value; it is never logged, returned or put in an error.
import { seal, unseal } from "../auth/sealed";
import { ConfigError } from "../config";
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import { basicCredentials, exchangeDeadline, type Peer, registryFetch, UpstreamError } from "../proxy/upstream-client";
import { mayCarryCredentials } from "../proxy/upstreams";
import { database } from "../storage/db/client";
import { findRemoteRegistry, type RemoteRegistryRow } from "../storage/db/queries/remote-registries";

export type RemoteRegistryType = RemoteRegistryRow["type"];

export interface Credentials {
  username: string;
  password: string;
}

export interface RemoteRegistry {
  name: string;
  /** Its origin. */
  url: string;
  type: RemoteRegistryType;
  username: string | null;
  peer: Peer;
}

/**
 * How long Pier waits for a remote's answer (or for a body's next bytes): longer than a pull-
 * through upstream's default, because a remote finishing an upload may verify the whole blob
 * before it answers, and nobody is waiting on a replication request.
 */
export const REMOTE_TIMEOUT_MS = 60_000;

/** The registry named `name`, ready to be spoken to; null when there is none. */
export async function loadRemoteRegistry(env: Bindings, name: string): Promise<RemoteRegistry | null> {
  const row = await findRemoteRegistry(database(env.DB), name);
  return row === null ? null : remoteRegistryOf(env, row);
}

/** The registry of a row; 409 CONFLICT when its credentials no longer open (PIER_CREDENTIALS_KEY replaced). */
export async function remoteRegistryOf(env: Bindings, row: RemoteRegistryRow): Promise<RemoteRegistry> {
  let credentials: Credentials | null = null;
  if (row.credentials !== null) {
    try {
      credentials = await openCredentials(env, row.name, row.credentials);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new RegistryError(
        "CONFLICT",
        `the stored credentials of remote registry ${row.name} do not open with PIER_CREDENTIALS_KEY (was it replaced?); give them again: PATCH /api/v1/registries/${row.name} {"username", "password"}`,
      );
    }
  }
  // The API refuses this combination; a row edited by hand must not send a password in clear text.
  if (credentials !== null && !mayCarryCredentials(new URL(row.url))) {
    throw new Error(`remote registry ${row.name} has credentials but a plain http:// url on another host; Pier does not send them there`);
  }
  return {
    name: row.name,
    url: row.url,
    type: row.type,
    username: credentials?.username ?? null,
    peer: {
      name: row.name,
      url: row.url,
      timeoutMs: REMOTE_TIMEOUT_MS,
      credentials: credentials === null ? null : basicCredentials(credentials.username, credentials.password),
      // updated_at names the credentials' generation: a token of older ones is never reused.
      cacheKey: `registry ${row.name} ${row.url} ${row.updatedAt}`,
      userAgent: "pier-replication",
    },
  };
}

/** The column value for the registry's credentials, bound to its name (sealed.ts). */
export function sealCredentials(env: Bindings, name: string, credentials: Credentials): Promise<string> {
  return seal(env.PIER_CREDENTIALS_KEY, context(name), JSON.stringify({ username: credentials.username, password: credentials.password }));
}

export async function openCredentials(env: Bindings, name: string, sealed: string): Promise<Credentials> {
  const value = JSON.parse(await unseal(env.PIER_CREDENTIALS_KEY, context(name), sealed)) as Partial<Credentials>;
  if (typeof value.username !== "string" || typeof value.password !== "string") throw new Error(`the sealed credentials of remote registry ${name} are not a username and password`);
  return { username: value.username, password: value.password };
}

const context = (name: string) => `registry:${name}`;

export interface PingResult {
  /** It answered (whatever it said). */
  reachable: boolean;
  /** Its credentials were accepted (true) or refused (false); null: none set, or not asked. */
  authenticated: boolean | null;
  /** The HTTP status that decided, when there was one. */
  status: number | null;
  message: string;
}

/** Someone waits on the API's answer: a ping gives up sooner than a copy. */
const PING_TIMEOUT_MS = 10_000;

/**
 * GET /v2/ through the token flow with the stored credentials, as a copy would start: a Bearer
 * challenge sends them to the token realm, Basic to the registry. Failures are the answer, not
 * errors: an unreachable registry is `reachable: false`, refused credentials `authenticated: false`.
 */
export async function pingRemote(remote: RemoteRegistry): Promise<PingResult> {
  const as = remote.username === null ? "anonymously" : `as ${remote.username}`;
  try {
    const peer = { ...remote.peer, timeoutMs: PING_TIMEOUT_MS };
    const response = await registryFetch(peer, { method: "GET", repository: null, path: "/v2/", deadline: exchangeDeadline(peer) });
    await response.body?.cancel();
    if (response.status === 404) {
      return { reachable: true, authenticated: null, status: 404, message: `${remote.url} answered HTTP 404 to GET /v2/: it does not serve the OCI distribution API there` };
    }
    return { reachable: true, authenticated: remote.username === null ? null : true, status: response.status, message: `${remote.url} answered HTTP ${response.status} to GET /v2/ ${as}` };
  } catch (error) {
    if (!(error instanceof UpstreamError)) throw error;
    const { failure } = error;
    switch (failure.kind) {
      case "status":
        if (failure.status === 401 || failure.status === 403) {
          const why = remote.username === null ? "it needs credentials, and none are set" : `it refused the credentials of ${remote.username}`;
          return { reachable: true, authenticated: false, status: failure.status, message: `${remote.url} (or its token realm) answered HTTP ${failure.status}: ${why}` };
        }
        return { reachable: true, authenticated: null, status: failure.status, message: error.message };
      case "invalid":
        return { reachable: true, authenticated: null, status: null, message: error.message };
      case "timeout":
      case "unreachable":
        return { reachable: false, authenticated: null, status: null, message: error.message };
    }
  }
}
