// What a principal may do in a project, and so what a token for some scopes may carry.
//
// A repository belongs to a project (issue 4, "Principals and projects"):
// - a local name to the project named by its first segment (`team/app` → `team`); a local
//   repository has at least two segments, so a one-segment local name belongs to none;
// - a proxied name to its upstream's proxy project, decided after routing (worker/proxy/
//   routing.ts): `hub/library/alpine` → `hub`, and an unprefixed name that reads from the
//   mirror default → that upstream's project. Proxy projects are created on first use, public
//   (dockerd mirrors cannot log in) and read-only (the permission table refuses writes there).
// Reads and writes of one name may land in different projects: writes always go to the local
// project (routeWrite), while a read of a name no local repository holds yet goes to the mirror.
import type { Config } from "../config";
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import type { RepoName } from "../oci/names";
import { routeRead } from "../proxy/routing";
import type { Upstream } from "../proxy/upstreams";
import { database } from "../storage/db/client";
import { createProject, type ProjectViewer, roleIn } from "../storage/db/queries/principals";
import { identityOf } from "./authenticate";
import { type Grant, isAllowed, isAllowedSystem, isRobotPermission } from "./permissions";
import type { Principal } from "./principal";
import { projectFacts, type ProjectState } from "./project-facts";
import type { Scope } from "./scopes";
import type { AccessEntry } from "./tokens";

export interface ProjectRef {
  name: string;
  /** What the permission table needs to know of it; null: no such project (yet). */
  facts: ProjectState | null;
}

/** Whether the name is read (pull) or written (push, delete): writes never go upstream. */
export type Operation = "read" | "write";

type RepositoryAction = "pull" | "push" | "delete";
const REPOSITORY_ACTIONS: readonly RepositoryAction[] = ["pull", "push", "delete"];

/** The project `repository` belongs to for this operation; null: none (a one-segment local name). */
export async function projectFor(env: Bindings, config: Config, repository: RepoName, operation: Operation = "read"): Promise<ProjectRef | null> {
  const upstream = await upstreamOf(env, config, repository, operation);
  if (upstream !== null) return proxyProject(env, upstream);
  return localProject(env, repository);
}

/** The project of a name Pier holds itself: its first segment; null for a one-segment name. */
export async function localProject(env: Bindings, repository: RepoName): Promise<ProjectRef | null> {
  const slash = repository.indexOf("/");
  if (slash === -1) return null;
  const name = repository.slice(0, slash);
  return { name, facts: await projectFacts(env, name) };
}

/** The principal's Grant in `project`, for isAllowed (worker/auth/permissions.ts). */
export async function grantIn(env: Bindings, principal: Principal, project: string): Promise<Grant> {
  switch (principal.kind) {
    case "anonymous":
      return { kind: "anonymous" };
    case "user":
      if (principal.isAdmin) return { kind: "systemAdmin" };
      return { kind: "member", role: await roleIn(database(env.DB), project, principal.name) };
    case "robot": {
      // An unknown permission in a stored row grants nothing rather than failing the login.
      const permissions = principal.grants.filter((grant) => grant.project === project).map((grant) => grant.action);
      return { kind: "robot", permissions: permissions.filter(isRobotPermission) };
    }
    case "token":
      return grantIn(env, await identityOf(env, principal), project);
  }
}

/**
 * The access a token for `scopes` may carry: per repository, the requested actions the
 * principal really has ("*" asks for pull, push and delete, and gets those it may have);
 * `registry:catalog:*` for anyone signed in (the catalog then lists what each may see).
 * Nothing is granted on a project that does not exist, except push and pull to whoever may
 * create projects: the first push creates it.
 */
export async function accessFor(env: Bindings, config: Config, principal: Principal, scopes: readonly Scope[]): Promise<AccessEntry[]> {
  const identity = await identityOf(env, principal, "change");
  const projects = new Map<string, Promise<ProjectRef | null>>();
  const grants = new Map<string, Promise<Grant>>();
  const project = (repository: RepoName, operation: Operation) => memo(projects, `${operation}:${repository}`, () => projectFor(env, config, repository, operation));
  const grant = (name: string) => memo(grants, name, () => grantIn(env, identity, name));
  const allowedIn = async (ref: ProjectRef | null, action: RepositoryAction) =>
    ref !== null && ref.facts !== null && isAllowed(await grant(ref.name), action, ref.facts);

  const may = async (repository: RepoName, action: RepositoryAction): Promise<boolean> => {
    const written = await project(repository, "write");
    if (action === "delete") return allowedIn(written, "delete");
    if (action === "push") {
      if (written === null) return false;
      if (written.facts !== null) return allowedIn(written, "push");
      return isAllowedSystem(await grant(written.name), "createProject", { usersMayCreateProjects: config.auth.usersMayCreateProjects });
    }
    // A token outlives the routing it was issued under: a name read from the mirror now is read
    // locally once someone pushes it. So a pull must also be allowed in the local project the
    // name would be pushed to, when that project exists (a private project is never opened by
    // the mirror being public).
    const read = await project(repository, "read");
    // A project that does not exist yet: whoever may create it by pushing may also "pull" from
    // it, since docker and skopeo ask whether each blob is there before pushing it (the answer
    // is 404: there is nothing to read yet).
    if (read !== null && read.facts === null && read.name === written?.name) return may(repository, "push");
    if (!(await allowedIn(read, "pull"))) return false;
    return written === null || written.facts === null || written.name === read?.name || allowedIn(written, "pull");
  };

  const access: AccessEntry[] = [];
  for (const scope of scopes) {
    if (scope.type === "registry") {
      if (identity.kind !== "anonymous") access.push({ type: "registry", name: "catalog", actions: ["*"] });
      continue;
    }
    const asked = scope.actions as ReadonlySet<string>;
    const requested = REPOSITORY_ACTIONS.filter((action) => asked.has("*") || asked.has(action));
    const actions: RepositoryAction[] = [];
    for (const action of requested) if (await may(scope.name, action)) actions.push(action);
    if (actions.length > 0) access.push({ type: "repository", name: scope.name, actions });
  }
  return access;
}

/** The upstream a name belongs to: a prefix names one for reads and writes alike; else routing decides. */
async function upstreamOf(env: Bindings, config: Config, repository: RepoName, operation: Operation): Promise<Upstream | null> {
  const slash = repository.indexOf("/");
  const prefixed = slash === -1 ? undefined : config.upstreams.find((upstream) => upstream.name === repository.slice(0, slash));
  if (prefixed !== undefined) return prefixed;
  if (operation === "write") return null;
  try {
    const target = await routeRead(env, config, repository, undefined);
    return target.kind === "proxy" ? target.target.upstream : null;
  } catch (error) {
    // Only the mirror default refuses an unprefixed name (outside its allow list, or too long
    // with its prefix): that read fails for everyone, but the name still reads from the mirror.
    if (error instanceof RegistryError && config.mirrorDefault !== null) return config.mirrorDefault;
    throw error;
  }
}

/** The upstream's proxy project, created public on first use. */
export async function proxyProject(env: Bindings, upstream: Upstream): Promise<ProjectRef> {
  let facts = await projectFacts(env, upstream.name);
  if (facts === null) {
    // false: another request created it meanwhile, which is as good.
    if (await createProject(database(env.DB), { name: upstream.name, kind: "proxy", public: true, createdBy: null })) {
      return { name: upstream.name, facts: { kind: "proxy", public: true, restrictedAt: null } };
    }
    facts = await projectFacts(env, upstream.name);
  }
  // Whatever the row says, an upstream's content is read-only: a local project that happens to
  // carry an upstream's name (created before the upstream was configured) keeps only its switch.
  return { name: upstream.name, facts: { kind: "proxy", public: facts?.public ?? true, restrictedAt: facts?.restrictedAt ?? null } };
}

function memo<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let value = cache.get(key);
  if (value === undefined) cache.set(key, (value = make()));
  return value;
}

/**
 * Whose catalog this is, for the account behind the request (identityOf): null for a system
 * admin (every repository), else the projects the permission table lets the account list
 * (listRepositories: public ones and its own). Proxy projects are made first, so an upstream's
 * cached names show before anyone pulled them through a route that creates the project (a
 * prefetch).
 */
export async function catalogViewer(env: Bindings, config: Config, identity: Principal): Promise<ProjectViewer | null> {
  if (identity.kind === "user" && identity.isAdmin) return null;
  await Promise.all(config.upstreams.map((upstream) => proxyProject(env, upstream)));
  if (identity.kind === "user") return { member: identity.name };
  if (identity.kind === "robot") return { projects: identity.grants.filter((grant) => grant.action === "listRepositories").map((grant) => grant.project) };
  // Anonymous callers never get this far (authorize wants a signed-in principal for the catalog).
  return { projects: [] };
}
