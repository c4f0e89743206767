// Push-capable fake remote registries for the replication tests, started by test/vitest.config.ts
// (the Worker in workerd reaches real sockets only, see fake-upstream-server.mjs). One control
// port is started with the pool; tests create registries through it (fake-remote-control.mjs,
// typed wrappers in fake-remote.ts), each a node:http server of its own on 127.0.0.1 with its own
// in-memory store (fake-remote-store.mjs), so a test sees no other test's content, log or faults.
// A registry may also have a token realm on an origin of its own and a CDN origin its blob GETs
// redirect to, so tests can check where credentials go. Every request to any of them is logged.
import { Authenticator, describeAuthorization, requiredAccess } from "./fake-remote-auth.mjs";
import { serveRemoteControl } from "./fake-remote-control.mjs";
import { parseTarget, serveBlob, serveCatalog, serveManifest, serveReferrers, serveTags } from "./fake-remote-pull.mjs";
import { continueUpload, deleteContent, putManifest, startUpload } from "./fake-remote-push.mjs";
import { FakeRemoteStore } from "./fake-remote-store.mjs";
import { listenOnLoopback } from "./loopback-server.mjs";
import { delay, sendError, sendJson } from "./fake-upstream-registry.mjs";

export { PUSH_PASSWORD, PUSH_USERNAME } from "./fake-remote-auth.mjs";
export { DEFAULT_OPTIONS } from "./fake-remote-control.mjs";

/**
 * @typedef {{ auth: "token" | "basic" | "none", referrersApi: boolean, catalog: boolean, monolithic: boolean,
 *   mount: boolean, deletes: boolean, chunkMinLength: number | null, chunkMaxLength: number | null,
 *   relativeLocations: boolean, separateRealm: boolean, redirectBlobs: boolean }} RemoteOptions
 * @typedef {{ id: string, url: string, realm: string, cdn: string | null, options: RemoteOptions,
 *   store: FakeRemoteStore, auth: Authenticator, close: () => void }} Remote
 */

// On globalThis: vitest may evaluate the config (and so this module) more than once per
// process, and every evaluation must see the same control server and registries.
const MEMO = Symbol.for("pier.fakeRemotes");

/**
 * Starts the control server once per process; later calls return the same promise.
 * @returns {Promise<{ control: string }>}
 */
export function startFakeRemotes() {
  const memo = /** @type {Record<symbol, Promise<{ control: string }> | undefined>} */ (/** @type {unknown} */ (globalThis));
  memo[MEMO] ??= (async () => {
    /** @type {Map<string, Remote>} */
    const remotes = new Map();
    let next = 1;
    const create = (options) => createRemote(`r${next++}`, options).then((remote) => (remotes.set(remote.id, remote), remote));
    const control = await listen((req, res, url) => serveRemoteControl({ remotes, create }, req, res, url));
    return { control };
  })();
  return /** @type {Promise<{ control: string }>} */ (memo[MEMO]);
}

/**
 * @param {string} id
 * @param {RemoteOptions} options
 * @returns {Promise<Remote>}
 */
async function createRemote(id, options) {
  const store = new FakeRemoteStore();
  const servers = [];
  const start = async (handle) => {
    const { origin, server } = await listenOnLoopback(handle);
    servers.push(server);
    return origin;
  };
  /** @type {Remote} */
  const remote = /** @type {any} */ ({ id, options, store, cdn: null, close: () => servers.forEach(closeNow) });
  remote.url = await start((req, res, url, origin) => serveRegistryRequest(remote, "registry", req, res, url, origin));
  remote.realm = options.separateRealm ? await start((req, res, url, origin) => serveRegistryRequest(remote, "realm", req, res, url, origin)) : remote.url;
  if (options.redirectBlobs) remote.cdn = await start((req, res, url, origin) => serveRegistryRequest(remote, "cdn", req, res, url, origin));
  remote.auth = new Authenticator(options.auth, remote.realm);
  return remote;
}

/**
 * Every request to a remote's origins: logged, then a scripted fault if one matches, then
 * /token (on the realm), /cdn/ (on the cdn) or the registry API behind its authentication.
 * @param {Remote} remote
 * @param {"registry" | "realm" | "cdn"} server
 */
async function serveRegistryRequest(remote, server, req, res, url, origin) {
  const { store, options } = remote;
  const method = req.method ?? "GET";
  const target = server === "registry" ? parseTarget(url.pathname) : null;
  const entry = store.record({
    server,
    host: req.headers.host ?? "",
    method,
    path: url.pathname,
    query: url.search,
    ...describeAuthorization(req.headers.authorization),
    repo: target && "repo" in target ? target.repo : tokenRepo(url),
    at: Date.now(),
    status: null,
    bodyBytes: 0,
  });
  res.once("finish", () => (entry.status = res.statusCode));
  if (server === "registry") res.setHeader("Docker-Distribution-API-Version", "registry/2.0");

  // Before authentication, like a rate-limiting proxy in front of a registry: a scripted 429
  // hits whichever matching request comes next, with a token or without.
  const fault = store.takeFault(method, `${url.pathname}${url.search}`);
  if (fault) {
    if (fault.delayMs > 0) await delay(res, fault.delayMs);
    if (fault.drop) return req.socket.destroy();
    if (fault.status !== null) {
      for await (const piece of req) entry.bodyBytes += piece.length;
      return sendError(req, res, fault.status, codeFor(fault.status), `scripted fault ${fault.status}`, fault.headers);
    }
  }
  if (res.destroyed) return;

  if (url.pathname === "/token" && server === (options.separateRealm ? "realm" : "registry")) {
    if (options.auth !== "token") return sendError(req, res, 404, "NOT_FOUND", "this registry issues no tokens");
    const answer = remote.auth.issue(req.headers.authorization, url);
    return sendJson(res, answer.status, answer.body, answer.headers);
  }
  if (server === "cdn") return serveCdn(store, req, res, url);
  if (server === "realm") return sendError(req, res, 404, "NOT_FOUND", `the realm serves only /token, not ${url.pathname}`);

  const challenge = remote.auth.challenge(req.headers.authorization, target === null ? null : requiredAccess(method, target));
  if (challenge) return sendError(req, res, 401, "UNAUTHORIZED", "authentication required", { "WWW-Authenticate": challenge });
  if (target === null) return sendError(req, res, 404, "NOT_FOUND", `no route for ${url.pathname}`);
  const context = { store, options, origin, entry, mayPull: (repo) => remote.auth.mayPull(req.headers.authorization, repo) };
  const read = method === "GET" || method === "HEAD";

  switch (target.kind) {
    case "version":
      return sendJson(res, 200, {});
    case "catalog":
      if (!options.catalog) return sendError(req, res, 404, "UNSUPPORTED", "this registry serves no catalog");
      return serveCatalog(store, req, res, url);
    case "manifests":
      if (read) return serveManifest(store, req, res, target.repo, target.rest);
      if (method === "PUT") return putManifest(context, req, res, target.repo, target.rest);
      if (method === "DELETE") return deleteContent(context, req, res, target);
      break;
    case "blobs":
      if (read) return serveBlob(store, remote.cdn, req, res, target.repo, target.rest);
      if (method === "DELETE") return deleteContent(context, req, res, target);
      break;
    case "tags":
      if (method === "GET" && target.rest === "list") return serveTags(store, req, res, target.repo, url);
      return sendError(req, res, 404, "NOT_FOUND", `no route for ${url.pathname}`);
    case "referrers":
      if (!options.referrersApi) return sendError(req, res, 404, "UNSUPPORTED", "this registry has no referrers API");
      if (read) return serveReferrers(store, req, res, target.repo, target.rest, url);
      break;
    case "uploads":
      if (method === "POST") return startUpload(context, req, res, target.repo, url);
      break;
    case "upload":
      return continueUpload(context, req, res, target.repo, target.rest, url);
  }
  return sendError(req, res, 405, "UNSUPPORTED", `${method} ${url.pathname}`);
}

/** Stops listening and drops kept-alive connections too, so the next request fails to connect. */
function closeNow(server) {
  server.close();
  server.closeAllConnections();
}

/** GET /cdn/<repo>/<digest>: where redirectBlobs points blob GETs. */
function serveCdn(store, req, res, url) {
  const match = /^\/cdn\/(.+)\/([^/]+)$/.exec(url.pathname);
  const bytes = match ? store.blob(match[1], match[2]) : null;
  if (!bytes) return sendError(req, res, 404, "BLOB_UNKNOWN", "no such blob on the cdn");
  res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": bytes.length });
  res.end(req.method === "HEAD" ? undefined : bytes);
}

/** The first repository a /token request's scope names (for the log), or null. */
function tokenRepo(url) {
  for (const scope of url.searchParams.getAll("scope").flatMap((value) => value.split(" "))) {
    const match = /^repository:(.+):[^:]*$/.exec(scope);
    if (match) return match[1];
  }
  const cdn = /^\/cdn\/(.+)\/[^/]+$/.exec(url.pathname);
  return cdn ? cdn[1] : null;
}

/** The distribution-spec error code for a scripted status. */
function codeFor(status) {
  if (status === 401) return "UNAUTHORIZED";
  if (status === 403) return "DENIED";
  if (status === 404) return "NOT_FOUND";
  if (status === 429) return "TOOMANYREQUESTS";
  return "UNAVAILABLE";
}

/** @param {(req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse, url: URL, origin: string) => unknown} handle */
async function listen(handle) {
  return (await listenOnLoopback(handle)).origin;
}

