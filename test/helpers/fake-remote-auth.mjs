// Authentication of a fake remote registry (fake-remote-server.mjs), per its `auth` option:
//   token  the Docker token flow (https://distribution.github.io/distribution/spec/auth/token/):
//          401 with `Bearer realm="<realm>/token",service="fake-remote",scope="repository:<repo>:
//          <actions>"`; GET /token issues a token for the requested scopes. Pull is anonymous;
//          push and delete need Basic pusher:push-secret on the token request. Without
//          credentials a token is still issued, for the pull part only (what Docker Hub does), so
//          a client that forgot its credentials gets a second 401 on the push, not at /token;
//          wrong credentials get a 401 at /token.
//   basic  Basic pusher:push-secret on every /v2/ request.
//   none   nothing.
// Tokens are checked per repository and action, as distribution checks them.
import { randomBytes } from "node:crypto";

export const PUSH_USERNAME = "pusher";
export const PUSH_PASSWORD = "push-secret";
export const TOKEN_SERVICE = "fake-remote";
const BASIC_CREDENTIALS = `Basic ${Buffer.from(`${PUSH_USERNAME}:${PUSH_PASSWORD}`).toString("base64")}`;

/** @typedef {Map<string, Set<string>>} Grants scope resource (`repository:<name>` or `registry:catalog`) → actions */

/** The scheme and (for Basic) the user name of an Authorization header, for the request log. */
export function describeAuthorization(header) {
  if (!header) return { authScheme: null, authUser: null };
  const [scheme, value = ""] = header.split(" ", 2);
  if (scheme.toLowerCase() !== "basic") return { authScheme: scheme, authUser: null };
  const user = Buffer.from(value, "base64").toString("utf8").split(":")[0] ?? null;
  return { authScheme: scheme, authUser: user };
}

/**
 * The actions a request needs and on what: reads need pull, writes push and pull (as docker
 * asks), deletes delete; the catalog needs `registry:catalog:*`. A mount also needs pull on the
 * repository it mounts from, which `extra` names (distribution falls back to an upload without).
 * @returns {{ resource: string, actions: string[] } | null} null: the version check
 */
export function requiredAccess(method, target) {
  // The version check (GET /v2/) wants a valid token of any scope, as distribution does.
  if (target === null || target.kind === "version") return null;
  if (target.kind === "catalog") return { resource: "registry:catalog", actions: ["*"] };
  if (method === "GET" || method === "HEAD") return { resource: `repository:${target.repo}`, actions: ["pull"] };
  if (method === "DELETE" && target.kind !== "upload" && target.kind !== "uploads") return { resource: `repository:${target.repo}`, actions: ["delete"] };
  return { resource: `repository:${target.repo}`, actions: ["pull", "push"] };
}

export class Authenticator {
  /** @type {Map<string, Grants>} */
  #tokens = new Map();

  /** @param {"token" | "basic" | "none"} kind @param {string} realm the origin serving /token */
  constructor(kind, realm) {
    this.kind = kind;
    this.realm = realm;
  }

  /**
   * The WWW-Authenticate challenge when the request may not proceed, or null when it may.
   * @param {string | undefined} authorization
   * @param {{ resource: string, actions: string[] } | null} access
   */
  challenge(authorization, access) {
    if (this.kind === "none") return null;
    if (this.kind === "basic") return authorization === BASIC_CREDENTIALS ? null : 'Basic realm="fake-remote"';
    const grants = this.grantsOf(authorization);
    if (grants !== null && (access === null || access.actions.every((action) => allows(grants, access.resource, action)))) return null;
    const scope = access === null ? "" : `,scope="${access.resource}:${access.actions.join(",")}"`;
    return `Bearer realm="${this.realm}/token",service="${TOKEN_SERVICE}"${scope}`;
  }

  /** What a Bearer token grants; null when the header carries no token this registry issued. */
  grantsOf(authorization) {
    if (this.kind !== "token") return null;
    return this.#tokens.get(/^Bearer (.+)$/.exec(authorization ?? "")?.[1] ?? "") ?? null;
  }

  /** Whether the request may read `repo` (a mount's source): always for basic and none. */
  mayPull(authorization, repo) {
    if (this.kind !== "token") return true;
    const grants = this.grantsOf(authorization);
    return grants !== null && allows(grants, `repository:${repo}`, "pull");
  }

  /**
   * GET /token: a fresh random token for the scopes asked (several `scope` parameters, each
   * possibly space-separated), in Docker Hub's response shape.
   * @returns {{ status: number, body: unknown, headers?: Record<string, string> }}
   */
  issue(authorization, url) {
    const signedIn = authorization === BASIC_CREDENTIALS;
    if (authorization !== undefined && !signedIn) {
      return { status: 401, body: { errors: [{ code: "UNAUTHORIZED", message: "wrong credentials", detail: null }] }, headers: { "WWW-Authenticate": 'Basic realm="fake-remote"' } };
    }
    /** @type {Grants} */
    const grants = new Map();
    for (const scope of url.searchParams.getAll("scope").flatMap((value) => value.split(" "))) {
      const match = /^(repository|registry):(.+):([^:]*)$/.exec(scope);
      if (!match) continue;
      const resource = `${match[1]}:${match[2]}`;
      const actions = match[3].split(",").filter((action) => signedIn || action === "pull" || resource === "registry:catalog");
      const granted = grants.get(resource) ?? new Set();
      for (const action of actions) granted.add(action);
      grants.set(resource, granted);
    }
    const token = randomBytes(24).toString("hex");
    this.#tokens.set(token, grants);
    return { status: 200, body: { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() } };
  }
}

function allows(grants, resource, action) {
  const granted = grants.get(resource);
  return granted !== undefined && (granted.has(action) || granted.has("*"));
}
