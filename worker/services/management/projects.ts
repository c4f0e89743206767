// Projects (issue 4, "Principals and projects"): the first segment of every repository name.
// Created by system admins, or by any user when PIER_USERS_CREATE_PROJECTS is on; a user who
// creates one becomes its project admin, so it is never left without someone to manage it.
// Only local projects are made here: proxy projects follow PIER_UPSTREAMS (worker/auth/access.ts).
import { forgetAccount } from "../../auth/account-state";
import { forgetProjectFacts } from "../../auth/project-facts";
import type { Config } from "../../config";
import type { Bindings } from "../../env";
import { RegistryError } from "../../errors";
import { storageUsedBytes } from "../../lifecycle/quotas";
import { database } from "../../storage/db/client";
import { createProject as insertProject, findProject, listProjects as listAllProjects, listVisibleProjects, setMember, setProjectPublic } from "../../storage/db/queries/principals";
import { deleteEmptyProject } from "../../storage/db/queries/project-deletion";
import { setStorageLimit } from "../../storage/db/queries/quotas";
import { type Actor, isSystemAdmin, loginName } from "./actor";
import { audit } from "./audit-trail";
import { projectFor, requireSystem, requireSystemAdmin } from "./guard";
import type { NewProject, ProjectUpdate } from "./inputs";
import { type Page, pageOf, type ProjectView, projectView } from "./views";

export async function createProject(env: Bindings, config: Config, actor: Actor, project: NewProject): Promise<ProjectView> {
  await requireSystem(env, config, actor, "createProject", { action: "project.create", resource: project.name, project: null });
  // An upstream's name is its proxy project's, even before the first pull creates the row.
  const taken = () => new RegistryError("CONFLICT", `the project name "${project.name}" is taken`);
  if (config.upstreams.some((upstream) => upstream.name === project.name)) throw taken();
  if (!(await insertOwnedProject(env, actor, project))) throw taken();
  return projectView((await findProject(database(env.DB), project.name))!);
}

/**
 * The project a push creates (issue 4: "repositories appear on first push inside a project the
 * pusher may push to"; worker/auth/authorize.ts decided that the pusher may create it). Private:
 * nothing becomes public without someone choosing so. Another push creating it first is fine.
 */
export async function createPushedProject(env: Bindings, actor: Actor, name: string): Promise<void> {
  await insertOwnedProject(env, actor, { name, public: false });
}

/** Inserts a local project and makes a creator who is not a system admin its project admin; false when the name is taken. */
async function insertOwnedProject(env: Bindings, actor: Actor, project: NewProject): Promise<boolean> {
  const db = database(env.DB);
  if (!(await insertProject(db, { name: project.name, kind: "local", public: project.public, createdBy: loginName(actor) }))) return false;
  // A system admin needs no role: they may do everything in every project already.
  if (!isSystemAdmin(actor)) await setMember(db, project.name, loginName(actor), "projectAdmin", [], { keepAnAdmin: false });
  await audit(env, actor, { action: "project.create", resource: project.name, project: project.name });
  return true;
}

/** The projects the actor can see: public ones, ones they hold a role in, all for admins. */
export async function listProjects(env: Bindings, actor: Actor, limit: number, last: string | null): Promise<Page<ProjectView>> {
  const db = database(env.DB);
  const { principal } = actor;
  let rows;
  if (isSystemAdmin(actor)) rows = await listAllProjects(db, last, limit + 1);
  else if (principal.kind === "user") rows = await listVisibleProjects(db, { member: principal.name }, last, limit + 1);
  else {
    // A robot sees what it may pull (the permission table's visibility rule), nothing more.
    const pulls = principal.grants.filter((grant) => grant.action === "pull").map((grant) => grant.project);
    rows = await listVisibleProjects(db, { projects: pulls }, last, limit + 1);
  }
  return pageOf(rows, limit, (row) => projectView(row), (row) => row.name);
}

/** The project, with the bytes it holds counted now (worker/lifecycle/quotas.ts). */
export async function getProject(env: Bindings, actor: Actor, name: string): Promise<ProjectView> {
  const project = await projectFor(env, actor, name, "pull", { action: "project.read", resource: name });
  return projectView(project, await storageUsedBytes(env, name));
}

/**
 * Makes the project public or private (also a proxy project: issue 4's switch), and sets a
 * local project's storage limit: system admins only, as in Harbor (a project admin must not
 * lift the bound set on them). Nothing changes unless all of it may.
 */
export async function updateProject(env: Bindings, actor: Actor, name: string, change: ProjectUpdate): Promise<ProjectView> {
  const entry = { action: "project.update", resource: name };
  const project = await projectFor(env, actor, name, "manageProject", entry);
  const db = database(env.DB);
  if (change.storageLimitBytes !== undefined) {
    await requireSystemAdmin(env, actor, { ...entry, project: name }, `set the storage limit of project "${name}"`);
    if (project.kind === "proxy") throw new RegistryError("INVALID_REQUEST", `"${name}" is the project of an upstream; a pull-through cache has no storage limit`);
  }
  // Two independent settings, each written whole: a concurrent delete of the project makes either a no-op.
  if (change.public !== undefined) await setProjectPublic(db, name, change.public);
  if (change.storageLimitBytes !== undefined) await setStorageLimit(db, name, change.storageLimitBytes);
  forgetProjectFacts(env, name);
  await audit(env, actor, { ...entry, project: name });
  return projectView({ ...project, ...change }, await storageUsedBytes(env, name));
}

/**
 * Deletes a local project without manifests (project admins), with its members and project
 * robots. Images are deleted first through the registry API: a project that still holds a
 * manifest is a CONFLICT, so nothing is lost by accident. A proxy project follows
 * PIER_UPSTREAMS instead.
 */
export async function deleteProject(env: Bindings, actor: Actor, name: string): Promise<void> {
  const entry = { action: "project.delete", resource: name };
  const project = await projectFor(env, actor, name, "manageProject", entry);
  if (project.kind === "proxy") {
    throw new RegistryError("INVALID_REQUEST", `"${name}" is the project of an upstream; remove the upstream from PIER_UPSTREAMS instead`);
  }
  const deletion = await deleteEmptyProject(database(env.DB), name);
  if (!deletion.deleted) {
    if (deletion.reason === "missing") return; // deleted meanwhile: the outcome asked for
    throw new RegistryError("CONFLICT", `project "${name}" still holds images; delete their manifests first (DELETE /v2/<name>/manifests/<digest>)`);
  }
  forgetProjectFacts(env, name);
  for (const account of deletion.affected) forgetAccount(env, account);
  await audit(env, actor, { ...entry, project: name });
}
