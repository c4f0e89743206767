// The registry routes' access checks: each /v2 handler calls one of these after it has checked
// the grammar of what it was sent (an invalid name or digest is the same answer for everyone)
// and, for reads, after routing decided where the name goes (so proxied content is authorised
// against its upstream's proxy project, whichever route reached it). The decision itself is
// worker/auth/authorize.ts; this file adds what a request brings: its credentials, the project
// a first push creates, and the audit records of refusals and of pulls, pushes and deletes.
import { catalogViewer } from "../auth/access";
import { authenticate, identityOf, tokenParties, withChallenge } from "../auth/authenticate";
import { authorizePrincipal, checkWriteName, type Decision, freshnessFor, type Need } from "../auth/authorize";
import type { Freshness } from "../auth/account-state";
import { type Principal, principalName } from "../auth/principal";
import { auditRegistry, type RegistryEvent } from "../auth/registry-audit";
import { limitKey, limitRequest } from "../auth/request-limit";
import { RegistryError } from "../errors";
import { parseRepoName, type RepoName } from "../oci/names";
import { type ReadTarget, routeRead } from "../proxy/routing";
import { createPushedProject } from "../services/management/projects";
import type { ProjectViewer } from "../storage/db/queries/principals";
import { type AppContext, clientIp, credentialsOf, waitUntilOf, writeRepository } from "./context";

/** GET /v2/: anyone signed in (issue 4: anonymous gets the challenge that starts the token dance). */
export async function allowBase(c: AppContext): Promise<void> {
  await decide(c, { kind: "base" });
}

/** GET /v2/_catalog: the repositories this caller may see (null: all of them). */
export async function allowCatalog(c: AppContext): Promise<ProjectViewer | null> {
  const { principal } = await decide(c, { kind: "catalog" });
  return catalogViewer(c.env, c.var.config, await accountOf(c, principal, "pull"));
}

/**
 * A pull of the routed name; returns who pulls, for the audit record of a manifest GET.
 * A read routed by `?ns=` is authorised under its cache name (`hub/library/alpine`): the token
 * a client fetched for the bare name was decided without the `ns`, for whatever that name
 * means without it, so it must not open an upstream's cache. The challenge then names the cache
 * name, and containerd asks for the challenge's scope along with its own.
 */
export async function allowRead(c: AppContext, target: ReadTarget): Promise<Principal> {
  const name = target.kind === "proxy" && target.byHost ? target.target.cacheName : parseRepoName(c.req.param("name") ?? "");
  return (await decide(c, { kind: "read", name, target, action: "pull" })).principal;
}

/**
 * A push or delete: the local repository it goes to, once allowed. The first push into a
 * project that does not exist yet creates it (private, the pusher its project admin).
 */
export async function allowWrite(c: AppContext, action: "push" | "delete", source?: RepoName): Promise<{ repository: RepoName; principal: Principal }> {
  const repository = writeRepository(c);
  const need: Need = { kind: "write", name: repository, action, source };
  // Before the credentials: an invalid name is the same answer for everyone.
  checkWriteName(need);
  const { principal, createProject } = await decide(c, need);
  if (createProject !== null) {
    const identity = await accountOf(c, principal, "change");
    if (identity.kind !== "user" && identity.kind !== "robot") throw new RegistryError("DENIED", "only a signed-in account can create a project");
    await createPushedProject(c.env, { principal: identity, ip: clientIp(c) }, createProject);
  }
  return { repository, principal };
}

/**
 * Whether the principal may pull `source` (a cross-repository mount's source): the same
 * decision as a pull of it, routed as one, without an audit record (the mount is recorded as
 * the push it is). A source no read can reach (outside an allow list) is not pullable.
 */
export async function mayPull(c: AppContext, principal: Principal, source: RepoName): Promise<boolean> {
  try {
    const target = await routeRead(c.env, c.var.config, source, undefined);
    await authorizePrincipal(c.env, c.var.config, principal, tokenParties(c.var.config, c.req.url), { kind: "read", name: source, target, action: "pull" });
    return true;
  } catch (error) {
    if (error instanceof RegistryError) return false;
    throw error;
  }
}

/**
 * Records a pull, push or delete that went through (written off the response path); `target`
 * is where it went: the routed read, or `{ kind: "local", repository }` for a write.
 */
export function auditDone(c: AppContext, principal: Principal, action: RegistryEvent["action"], resource: string, target: ReadTarget): void {
  auditRegistry(c.env, waitUntilOf(c), { principal, action, resource, project: projectOf(target), result: "success", ip: clientIp(c) });
}

/**
 * The account behind a principal (a token's subject, as it is now). A token whose account was
 * disabled or deleted since it was issued gets the challenge, like any refused credentials.
 */
function accountOf(c: AppContext, principal: Principal, freshness: Freshness): Promise<Principal> {
  return withChallenge(tokenParties(c.var.config, c.req.url), identityOf(c.env, principal, freshness));
}

/** Who sends the request, once their request budget allows it (worker/auth/request-limit.ts). */
async function principalOf(c: AppContext, need: Need): Promise<Principal> {
  const principal = await authenticate(c.env, c.var.config, credentialsOf(c, freshnessFor(need)));
  const rule = c.var.config.auth.requestLimit;
  if (rule !== null) await limitRequest(c.env, rule, limitKey(principal, clientIp(c)));
  return principal;
}

/** Authenticates, spends the request budget, decides; a refusal to a signed-in principal is audited. */
async function decide(c: AppContext, need: Need): Promise<Decision> {
  const principal = await principalOf(c, need);
  c.set("principal", principalName(principal));
  try {
    return await authorizePrincipal(c.env, c.var.config, principal, tokenParties(c.var.config, c.req.url), need);
  } catch (error) {
    // A challenge to someone who sent no credentials is not an attempt (see registry-audit.ts).
    if (error instanceof RegistryError && principal.kind !== "anonymous" && (need.kind === "read" || need.kind === "write")) {
      const target: ReadTarget = need.kind === "read" ? need.target : { kind: "local", repository: need.name };
      auditRegistry(c.env, waitUntilOf(c), { principal, action: need.action, resource: need.name, project: projectOf(target), result: "denied", ip: clientIp(c) });
    }
    throw error;
  }
}

/** The project an audit record files a request under: the proxy project for proxied reads. */
function projectOf(target: ReadTarget): string | null {
  if (target.kind === "proxy") return target.target.upstream.name;
  const slash = target.repository.indexOf("/");
  return slash === -1 ? null : target.repository.slice(0, slash);
}
