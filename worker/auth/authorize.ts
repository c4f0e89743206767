// Whether a registry (/v2) request may go ahead: authentication (worker/auth/authenticate.ts),
// then the request's need checked against the permission table (worker/auth/permissions.ts) or,
// for a bearer token, against the access the token carries (decided when it was issued).
//
// The answers follow issue 4 and the Docker token protocol:
//   401 UNAUTHORIZED + `WWW-Authenticate: Bearer realm,service,scope`  anonymous and not allowed:
//       the scope sends docker/podman/skopeo to the token endpoint. The same answer whether the
//       project exists or not, so nothing about private projects leaks.
//   401 + `error="insufficient_scope"`  a token without the action (RFC 6750 §3.1).
//   404 NAME_UNKNOWN  a signed-in principal and a project it may not see (private without a
//       role, or missing): invisible, the same answer as for a missing project.
//   403 DENIED  a project the principal sees but where the action is not allowed.
// A push into a project that does not exist yet is allowed to whoever may create projects; the
// caller creates it (Decision.createProject) before the first blob lands.
//
// Nothing here builds a Response: every refusal is a RegistryError (conventions 1).
import type { Config } from "../config";
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import type { RepoName } from "../oci/names";
import type { ReadTarget } from "../proxy/routing";
import { grantIn, localProject, type ProjectRef, proxyProject } from "./access";
import { type AuthenticationRequest, authenticate, identityOf, type TokenEndpoint, tokenParties, withChallenge } from "./authenticate";
import { isAllowed, isAllowedSystem } from "./permissions";
import type { Freshness } from "./account-state";
import type { Principal } from "./principal";
import { CATALOG_SCOPE, challenge, scopeFor } from "./scopes";
import { grants } from "./tokens";

export type Need =
  /** GET /v2/ */
  | { kind: "base" }
  /** GET /v2/_catalog (filtering what each may see is the catalog's job) */
  | { kind: "catalog" }
  /** A read after routeRead (ns already applied); `name` as the client asked for it. */
  | { kind: "read"; name: RepoName; target: ReadTarget; action: "pull" }
  /**
   * A write of a local name (routeWrite has refused upstream prefixes already). `source`: the
   * repository a cross-repository mount reads from, whose pull the challenge asks for too.
   */
  | { kind: "write"; name: RepoName; action: "push" | "delete"; source?: RepoName };

/** Token times are whole seconds, and locations' clocks drift a little. */
const CLOCK_TOLERANCE_MS = 30_000;

export interface Decision {
  principal: Principal;
  /** A push into a project that does not exist yet, which this principal may create: its name. */
  createProject: string | null;
}

/** How current the account behind the credentials must be for this need (worker/auth/account-state.ts). */
export function freshnessFor(need: Need): Freshness {
  return need.kind === "write" ? "change" : "pull";
}

export async function authorize(env: Bindings, config: Config, request: Omit<AuthenticationRequest, "freshness">, need: Need): Promise<Decision> {
  checkWriteName(need);
  return authorizePrincipal(env, config, await authenticate(env, config, { ...request, freshness: freshnessFor(need) }), tokenParties(config, request.url), need);
}

/** Name grammar before authorisation: a one-segment local write is NAME_INVALID for everyone. */
export function checkWriteName(need: Need): void {
  if (need.kind === "write" && !need.name.includes("/")) {
    throw new RegistryError("NAME_INVALID", `local repositories are named <project>/<name>; ${need.name} has no project`);
  }
}

/**
 * The decision for a principal already authenticated (the routes audit refusals by principal).
 * The caller has checked the name with checkWriteName, before the credentials.
 */
export async function authorizePrincipal(env: Bindings, config: Config, principal: Principal, parties: TokenEndpoint, need: Need): Promise<Decision> {
  const allowed = (createProject: string | null = null): Decision => ({ principal, createProject });

  if (need.kind === "base") {
    if (principal.kind === "anonymous") throw unauthorized(parties, "sign in to use this registry");
    return allowed();
  }
  if (need.kind === "catalog") {
    if (principal.kind === "anonymous") throw unauthorized(parties, "sign in to list repositories", CATALOG_SCOPE);
    if (principal.kind === "token" && !grants(principal, "registry", "catalog", "*")) {
      throw unauthorized(parties, "the token does not grant the catalog", CATALOG_SCOPE, "insufficient_scope");
    }
    return allowed();
  }

  const scope = challengeScope(need);
  if (principal.kind === "token") {
    // The token's access was decided against the permission table when it was issued, for the
    // name the client asked for; a pull needs no lookup at all (the bench's hot path).
    if (!grants(principal, "repository", need.name, need.action)) {
      throw unauthorized(parties, `the token does not grant ${need.action} on ${need.name}`, scope, "insufficient_scope");
    }
    if (need.kind === "write" && need.action === "push") {
      const project = await localProject(env, need.name);
      return allowed(project !== null && project.facts === null ? project.name : null);
    }
    // A pull the token was granted while the project was public, and the project has been made
    // private since: decided again for the account behind it, as it is now (anonymous: refused).
    if (need.kind === "read") {
      const restrictedAt = (await readProject(env, need.target))?.facts?.restrictedAt ?? null;
      if (restrictedAt !== null && restrictedAt >= principal.issuedAt - CLOCK_TOLERANCE_MS) {
        const identity = await withChallenge(parties, identityOf(env, principal, "pull"), scope);
        return { ...(await authorizePrincipal(env, config, identity, parties, need)), principal };
      }
    }
    return allowed();
  }

  const project = need.kind === "read" ? await readProject(env, need.target) : await localProject(env, need.name);
  // A one-segment local read belongs to no project: no such repository can exist.
  if (project === null) throw principal.kind === "anonymous" ? unauthorized(parties, `sign in to ${need.action} ${need.name}`, scope) : unknown(need.name);
  const grant = await grantIn(env, principal, project.name);
  if (project.facts !== null) {
    if (isAllowed(grant, need.action, project.facts)) return allowed();
    if (principal.kind === "anonymous") throw unauthorized(parties, `sign in to ${need.action} ${need.name}`, scope);
    if (isAllowed(grant, "pull", project.facts)) throw new RegistryError("DENIED", `${need.action} is not allowed on ${need.name}`);
    throw unknown(need.name);
  }
  if (principal.kind === "anonymous") throw unauthorized(parties, `sign in to ${need.action} ${need.name}`, scope);
  // The first push into a project creates it, for whoever may create projects.
  if (need.kind === "write" && need.action === "push") {
    if (isAllowedSystem(grant, "createProject", { usersMayCreateProjects: config.auth.usersMayCreateProjects })) return allowed(project.name);
  }
  throw unknown(need.name);
}

/** A read's project: the upstream's proxy project (created public on first use), else the local one. */
function readProject(env: Bindings, target: ReadTarget): Promise<ProjectRef | null> {
  return target.kind === "proxy" ? proxyProject(env, target.target.upstream) : localProject(env, target.repository);
}

/**
 * The scopes a challenge names, as distribution names them: a push asks for pull too (clients
 * check which blobs exist before pushing them), and a mount for pull on its source as well, so
 * a client that takes the scope from the challenge (the conformance suite's) gets one token
 * that does the whole request.
 */
function challengeScope(need: Extract<Need, { kind: "read" | "write" }>): string[] {
  if (need.kind === "read") return [scopeFor(need.name, ["pull"])];
  const scopes = [scopeFor(need.name, need.action === "push" ? ["pull", "push"] : [need.action])];
  if (need.source !== undefined && need.source !== need.name) scopes.push(scopeFor(need.source, ["pull"]));
  return scopes;
}

function unauthorized(parties: TokenEndpoint, message: string, scope?: string | string[], error?: "insufficient_scope"): RegistryError {
  return new RegistryError("UNAUTHORIZED", message, { headers: { "WWW-Authenticate": challenge(parties.realm, parties.service, scope, error) } });
}

function unknown(name: RepoName): RegistryError {
  return new RegistryError("NAME_UNKNOWN", `repository ${name} is not known to registry`);
}
