// Replication policies as the management API shows and changes them, for system admins only: a
// policy reads and writes any project, and names remote registries with their credentials.
// Changes are audited as `replication-policy.create|set|delete`. Executions are in
// replication-executions.ts beside this file.
// - PUT replaces a policy whole (the POST body; absent fields take their defaults), keeping
//   its name and creation time; a scheduled policy's schedule ("replication:<policy>") is
//   written in the same batch, enabled as the policy is, and removed with it.
// - DELETE removes the policy and its schedule and stops its running executions (tasks already
//   copying finish); the executions stay readable.
import type { Bindings } from "../../env";
import { RegistryError } from "../../errors";
import { nextRunAfter, parseSchedule } from "../../lifecycle/cron";
import { isLiteral, parsePolicy, type PolicySpec, policyRow, policySpec } from "../../replication/policies";
import { database } from "../../storage/db/client";
import { findProject } from "../../storage/db/queries/principals";
import { findRemoteRegistry } from "../../storage/db/queries/remote-registries";
import { createPolicy, deletePolicy, findPolicy, listPolicies, type PolicyRow, type PolicySchedule, replacePolicy } from "../../storage/db/queries/replication-policies";
import type { Actor } from "./actor";
import { audit } from "./audit-trail";
import { requireSystemAdmin } from "./guard";
import { type Body, invalid } from "./inputs";

export interface PolicyView extends PolicySpec {
  createdAt: string;
  updatedAt: string;
}

export async function listReplicationPolicies(env: Bindings, actor: Actor): Promise<{ items: PolicyView[] }> {
  await admin(env, actor, "replication-policy.read", "replication", "read replication policies");
  return { items: (await listPolicies(database(env.DB))).map(policyView) };
}

export async function getReplicationPolicy(env: Bindings, actor: Actor, name: string): Promise<PolicyView> {
  await admin(env, actor, "replication-policy.read", name, "read replication policies");
  return policyView(await requirePolicy(env, name));
}

/** POST: 201 the policy; 409 when the name is taken. */
export async function createReplicationPolicy(env: Bindings, actor: Actor, body: Body, now: number): Promise<PolicyView> {
  const name = typeof body.name === "string" ? body.name.slice(0, 64) : "(unnamed)";
  await admin(env, actor, "replication-policy.create", name, "create replication policies");
  const spec = parsePolicy(body);
  await checkReferences(env, spec);
  const row = policyRow(spec, now, now);
  if (!(await createPolicy(database(env.DB), row, scheduleOf(spec, now)))) throw new RegistryError("CONFLICT", `a replication policy is already named "${spec.name}"`);
  await audit(env, actor, { action: "replication-policy.create", resource: spec.name, project: null });
  return policyView(row);
}

/** PUT: replaces the policy whole; 404 when there is none. */
export async function replaceReplicationPolicy(env: Bindings, actor: Actor, name: string, body: Body, now: number): Promise<PolicyView> {
  await admin(env, actor, "replication-policy.set", name, "change replication policies");
  const existing = await requirePolicy(env, name);
  const spec = parsePolicy(body, name);
  await checkReferences(env, spec);
  const row = policyRow(spec, existing.createdAt, now);
  if (!(await replacePolicy(database(env.DB), row, scheduleOf(spec, now)))) throw policyUnknown(name);
  await audit(env, actor, { action: "replication-policy.set", resource: name, project: null });
  return policyView(row);
}

export async function deleteReplicationPolicy(env: Bindings, actor: Actor, name: string, now: number): Promise<void> {
  await admin(env, actor, "replication-policy.delete", name, "delete replication policies");
  if (!(await deletePolicy(database(env.DB), name, now))) throw policyUnknown(name);
  await audit(env, actor, { action: "replication-policy.delete", resource: name, project: null });
}

export async function requirePolicy(env: Bindings, name: string): Promise<PolicyRow> {
  const policy = await findPolicy(database(env.DB), name);
  if (policy === null) throw policyUnknown(name);
  return policy;
}

export function policyUnknown(name: string): RegistryError {
  return new RegistryError("NAME_UNKNOWN", `no replication policy is named "${name.slice(0, 100)}"`);
}

/** Passes for system admins; 403, audited as `action` on `resource`, for anyone else. */
export function admin(env: Bindings, actor: Actor, action: string, resource: string, what: string): Promise<void> {
  return requireSystemAdmin(env, actor, { action, resource, project: null }, what);
}

/**
 * What the body names must exist: the remote registry; for a source without a catalog, a
 * literal repository filter; for pull mode with a namespace, a local project to land in (without
 * one, each copy checks its own repository's project).
 */
async function checkReferences(env: Bindings, spec: PolicySpec): Promise<void> {
  const db = database(env.DB);
  const field = spec.source === null ? "destination" : "source";
  const remote = (spec.source ?? spec.destination)!;
  const type = (await findRemoteRegistry(db, remote))?.type ?? null;
  if (type === null) throw invalid(`"${field}": no remote registry is named "${remote.slice(0, 100)}" (add it with POST /api/v1/registries)`);
  if (spec.source !== null && type === "dockerhub" && !isLiteral(spec.filters.repositories)) {
    throw invalid(
      `"filters.repositories" must name one repository (such as "library/nginx"), not the pattern "${spec.filters.repositories}": Docker Hub serves no catalog (/v2/_catalog), so Pier cannot list what a pattern matches there`,
    );
  }
  if (spec.source !== null && spec.destinationNamespace !== null) {
    const project = spec.destinationNamespace.split("/")[0]!;
    const row = await findProject(db, project);
    if (row === null) throw invalid(`"destinationNamespace": copies would land in project "${project}", which does not exist; create it first`);
    if (row.kind !== "local") throw invalid(`"destinationNamespace": "${project}" is a proxy project, whose content mirrors its upstream; pick a local project`);
  }
}

function scheduleOf(spec: PolicySpec, now: number): PolicySchedule | null {
  if (spec.trigger.type !== "scheduled") return null;
  const cron = spec.trigger.cron!;
  return { cron, nextRunAt: nextRunAfter(parseSchedule(cron), now), enabled: spec.enabled };
}

function policyView(row: PolicyRow): PolicyView {
  return { ...policySpec(row), createdAt: new Date(row.createdAt).toISOString(), updatedAt: new Date(row.updatedAt).toISOString() };
}
