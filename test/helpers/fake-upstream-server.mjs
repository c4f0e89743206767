// Fake upstream registries for the pull-through-cache tests, started by test/vitest.config.ts.
// @cloudflare/vitest-pool-workers 0.23 has no fetchMock, so the Worker under test (in workerd)
// must reach real sockets: these are plain node:http servers on 127.0.0.1, one port per auth
// mode, all serving one in-memory store (fake-upstream-store.mjs) that tests script through
// the control port (fake-upstream-control.mjs; typed wrappers in fake-upstream.ts).
//   fake, hub  Bearer tokens from GET /token, anonymous, each valid for the repos in its scope
//              (the Docker Hub flow, https://distribution.github.io/distribution/spec/auth/token/)
//   private    the same, but /token wants Basic puller:secret
//   basic      Basic puller:secret on every /v2/ request
//   fresh,slow no auth (they differ only in the cache's settings for them)
//   cdn        GET /cdn/<repo>/<digest>, where redirectBlobs points; logs the Authorization it
//              receives so tests can prove credentials never follow a redirect
import { randomBytes } from "node:crypto";
import { serveControl } from "./fake-upstream-control.mjs";
import { parseRegistryPath, sendError, serveRegistry } from "./fake-upstream-registry.mjs";
import { FakeUpstreamStore } from "./fake-upstream-store.mjs";
import { listenOnLoopback } from "./loopback-server.mjs";

export const FAKE_USERNAME = "puller";
export const FAKE_PASSWORD = "secret";
const BASIC_CREDENTIALS = `Basic ${Buffer.from(`${FAKE_USERNAME}:${FAKE_PASSWORD}`).toString("base64")}`;

/**
 * @typedef {{ kind: "token", service: string, credentialsForToken: boolean } | { kind: "basic" } | { kind: "none" }} AuthMode
 * @type {Record<"fake" | "private" | "basic" | "hub" | "fresh" | "slow", AuthMode>}
 */
const UPSTREAMS = {
  fake: { kind: "token", service: "fake-registry", credentialsForToken: false },
  private: { kind: "token", service: "fake-registry", credentialsForToken: true },
  basic: { kind: "basic" },
  hub: { kind: "token", service: "registry.docker.io", credentialsForToken: false },
  fresh: { kind: "none" },
  slow: { kind: "none" },
};

/**
 * @typedef {{ control: string, cdn: string, upstreams: Record<keyof typeof UPSTREAMS, string> }} FakeUpstreams
 */

// On globalThis rather than in a module variable: vitest may evaluate the config (and so this
// module) more than once per process, and every evaluation must see the same servers, or the
// pool's bindings would point at different stores.
const MEMO = Symbol.for("pier.fakeUpstreams");

/**
 * Starts every fake server once per process; later calls return the same promise.
 * @returns {Promise<FakeUpstreams>}
 */
export function startFakeUpstreams() {
  const memo = /** @type {Record<symbol, Promise<FakeUpstreams> | undefined>} */ (/** @type {unknown} */ (globalThis));
  memo[MEMO] ??= start();
  return /** @type {Promise<FakeUpstreams>} */ (memo[MEMO]);
}

async function start() {
  const store = new FakeUpstreamStore();
  const control = await listen((req, res, url) => serveControl(store, req, res, url));
  const cdn = await listen((req, res, url) => {
    const match = /^\/cdn\/(.+)\/([^/]+)$/.exec(url.pathname);
    log(store, "cdn", req, url, match?.[1] ?? null);
    const bytes = match ? store.blob(match[1], match[2]) : null;
    if (!bytes) return sendError(req, res, 404, "BLOB_UNKNOWN", "no such blob on the cdn");
    res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": bytes.length });
    res.end(req.method === "HEAD" ? undefined : bytes);
  });
  const upstreams = /** @type {Record<keyof typeof UPSTREAMS, string>} */ ({});
  for (const [name, mode] of Object.entries(UPSTREAMS)) {
    const tokens = new Map(); // token → the repos its scope grants
    upstreams[/** @type {keyof typeof UPSTREAMS} */ (name)] = await listen((req, res, url, origin) => {
      const repo = url.pathname === "/token" ? scopeRepos(url)[0] ?? null : parseRegistryPath(url.pathname)?.repo ?? null;
      log(store, name, req, url, repo);
      if (url.pathname === "/token" && mode.kind === "token") return issueToken(req, res, url, mode, tokens);
      if (!url.pathname.startsWith("/v2")) return sendError(req, res, 404, "NAME_UNKNOWN", `no route for ${url.pathname}`);
      const challenge = authChallenge(req, mode, tokens, repo, origin);
      if (challenge) return sendError(req, res, 401, "UNAUTHORIZED", "authentication required", { "WWW-Authenticate": challenge });
      return serveRegistry({ store, cdn }, req, res, url);
    });
  }
  return { control, upstreams, cdn };
}

/** Listens on 127.0.0.1 (loopback-server.mjs); returns the origin. */
async function listen(handle) {
  return (await listenOnLoopback(handle)).origin;
}

function log(store, server, req, url, repo) {
  const authorization = req.headers.authorization ?? null;
  store.record({ server, method: req.method ?? "GET", path: `${url.pathname}${url.search}`, authorization, repo, at: Date.now() });
}

/** The repositories named by `scope` parameters (`repository:<name>:<actions>`, space-separated). */
function scopeRepos(url) {
  return url.searchParams
    .getAll("scope")
    .flatMap((value) => value.split(" "))
    .map((scope) => /^repository:(.+):[^:]*$/.exec(scope)?.[1])
    .filter((repo) => repo !== undefined);
}

/**
 * The WWW-Authenticate challenge when the request may not proceed, or null when it may.
 * @param {AuthMode} mode
 * @param {Map<string, string[]>} tokens
 */
function authChallenge(req, mode, tokens, repo, origin) {
  const authorization = req.headers.authorization ?? "";
  if (mode.kind === "none") return null;
  if (mode.kind === "basic") return authorization === BASIC_CREDENTIALS ? null : 'Basic realm="fake"';
  const granted = tokens.get(/^Bearer (.+)$/.exec(authorization)?.[1] ?? "");
  // Any token opens the version check; a repository needs a token scoped to it.
  if (granted !== undefined && (repo === null || granted.includes(repo))) return null;
  const scope = repo === null ? "" : `,scope="repository:${repo}:pull"`;
  return `Bearer realm="${origin}/token",service="${mode.service}"${scope}`;
}

/** GET /token: a fresh random token granting the requested scope (Docker Hub's response shape). */
function issueToken(req, res, url, mode, tokens) {
  if (mode.credentialsForToken && req.headers.authorization !== BASIC_CREDENTIALS) {
    return sendError(req, res, 401, "UNAUTHORIZED", "credentials required for a token", { "WWW-Authenticate": 'Basic realm="fake"' });
  }
  const token = randomBytes(24).toString("hex");
  tokens.set(token, scopeRepos(url));
  const body = JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() });
  res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}
