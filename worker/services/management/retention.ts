// A project's retention policy and runs as the management API shows and changes them
// (worker/lifecycle/retention.ts runs them). Reading needs the project visible; changing the
// policy and starting runs needs manageProject (project admins, system admins). Changes and runs
// are audited as `retention.set`, `retention.delete` and `retention.run`.
// - A project without a policy shows the empty policy ({"rules": [], "schedule": null}): a
//   policy without rules, which removes nothing. DELETE returns a project to it.
// - Proxy projects are refused: their content is an upstream's, pruned by cache eviction.
import type { Bindings } from "../../env";
import { RegistryError } from "../../errors";
import { retentionScheduleName, runRetention } from "../../lifecycle/retention";
import { parseRules, type RetentionRule } from "../../lifecycle/retention-rules";
import { MAX_RECORDED_ITEMS, type RunItem } from "../../lifecycle/retention-scan";
import { database } from "../../storage/db/client";
import type { ProjectRow } from "../../storage/db/queries/principals";
import { deletePolicy, findPolicy, findRun, listRunItems, listRuns, type RetentionRunRow, savePolicy } from "../../storage/db/queries/retention";
import type { Actor } from "./actor";
import { audit } from "./audit-trail";
import { projectFor } from "./guard";
import { type Body, invalid, optionalFlag } from "./inputs";
import { parseCron } from "./schedules";
import { isoOrNull } from "./views";

export interface RetentionPolicyView {
  project: string;
  rules: RetentionRule[];
  /** "hourly", "daily", "weekly", five cron fields (UTC), or null: runs only on request. */
  schedule: string | null;
  /** null for the empty policy of a project that never had one. */
  updatedAt: string | null;
}

export interface RetentionItemView {
  repository: string;
  digest: string;
  tags: string[];
  pushedAt: string;
  lastPulledAt: string | null;
}

export interface RetentionRunView {
  id: string;
  project: string;
  dryRun: boolean;
  trigger: string;
  status: RetentionRunRow["status"];
  /** Artifacts (top-level manifests) judged. */
  examined: number;
  /** Manifests removed (or, dry, that would be): artifacts with their children and referrers. */
  removed: number;
  /** Why a failed run failed. */
  error: string | null;
  /** What a succeeded run left out: repositories after where it stopped, or too large to judge. */
  note: string | null;
  startedAt: string;
  finishedAt: string | null;
}

export interface RetentionRunDetail extends RetentionRunView {
  /** What it removed, by repository and digest: the first MAX_RECORDED_ITEMS (see itemsTruncated). */
  items: RetentionItemView[];
  /** Whether it removed more than `items` lists. */
  itemsTruncated: boolean;
}

const BODY_FIELDS = new Set(["rules", "schedule"]);

export async function getPolicy(env: Bindings, actor: Actor, project: string): Promise<RetentionPolicyView> {
  await projectFor(env, actor, project, "pull", { action: "retention.read", resource: project });
  const policy = await findPolicy(database(env.DB), project);
  if (policy === null) return { project, rules: [], schedule: null, updatedAt: null };
  return { project, rules: JSON.parse(policy.rules) as RetentionRule[], schedule: policy.schedule, updatedAt: new Date(policy.updatedAt).toISOString() };
}

/** Replaces the policy with a PUT body {"rules", "schedule"?}; its schedule follows in the same batch. */
export async function setPolicy(env: Bindings, actor: Actor, project: string, body: Body, now: number): Promise<RetentionPolicyView> {
  const entry = { action: "retention.set", resource: project };
  requireLocal(await projectFor(env, actor, project, "manageProject", entry));
  const unknown = Object.keys(body).find((key) => !BODY_FIELDS.has(key));
  if (unknown !== undefined) throw invalid(`the body has an unknown field "${unknown.slice(0, 50)}"; a policy has "rules" and "schedule"`);
  const rules = parseRules(body.rules);
  const schedule = parseScheduleField(body.schedule, now);
  const name = retentionScheduleName(project);
  // Options reset: a changed policy judges the project again from its first repository.
  const change = schedule === null ? null : { name, cron: schedule.cron, nextRunAt: schedule.nextRunAt, options: "{}" };
  await savePolicy(database(env.DB), { project, rules: JSON.stringify(rules), schedule: schedule?.cron ?? null, updatedAt: now }, name, change);
  await audit(env, actor, { ...entry, project });
  return { project, rules, schedule: schedule?.cron ?? null, updatedAt: new Date(now).toISOString() };
}

/** Removes the policy and its schedule (the project then has the empty policy); 204 either way. */
export async function removePolicy(env: Bindings, actor: Actor, project: string): Promise<void> {
  const entry = { action: "retention.delete", resource: project };
  await projectFor(env, actor, project, "manageProject", entry);
  if (await deletePolicy(database(env.DB), project, retentionScheduleName(project))) await audit(env, actor, { ...entry, project });
}

/** Runs the policy now, {"dryRun"?: false}: the run, finished, with what it removed. */
export async function startRun(env: Bindings, actor: Actor, project: string, body: Body): Promise<RetentionRunDetail> {
  const entry = { action: "retention.run", resource: project };
  const row = requireLocal(await projectFor(env, actor, project, "manageProject", entry));
  const dryRun = optionalFlag(body, "dryRun", false);
  const { run, items } = await runRetention(env, row, { dryRun, trigger: "manual", after: null }, Date.now());
  await audit(env, actor, { ...entry, resource: `retention/${run.id}`, project });
  return runDetail(run, sorted(items));
}

export async function getRuns(env: Bindings, actor: Actor, project: string, limit: number): Promise<{ items: RetentionRunView[] }> {
  await projectFor(env, actor, project, "pull", { action: "retention.read", resource: project });
  return { items: (await listRuns(database(env.DB), project, limit)).map(runView) };
}

export async function getRun(env: Bindings, actor: Actor, project: string, id: string): Promise<RetentionRunDetail> {
  await projectFor(env, actor, project, "pull", { action: "retention.read", resource: project });
  const db = database(env.DB);
  const run = await findRun(db, project, id);
  if (run === null) throw new RegistryError("NAME_UNKNOWN", `project "${project}" has no retention run "${id.slice(0, 100)}"`);
  const items = (await listRunItems(db, run.id, MAX_RECORDED_ITEMS)).map((item) => ({ ...item, tags: JSON.parse(item.tags) as string[] }));
  return runDetail(run, items);
}

function requireLocal(project: ProjectRow): ProjectRow {
  if (project.kind !== "local") throw invalid(`"${project.name}" is a proxy project: its content mirrors an upstream and is pruned by cache eviction, not retention`);
  return project;
}

/** null or absent: the policy runs only on request. */
function parseScheduleField(value: unknown, now: number): { cron: string; nextRunAt: number } | null {
  return value === undefined || value === null ? null : parseCron(value, now, "schedule");
}

function runView(run: RetentionRunRow): RetentionRunView {
  const failed = run.status === "failed";
  return {
    id: run.id,
    project: run.project,
    dryRun: run.dryRun,
    trigger: run.trigger,
    status: run.status,
    examined: run.examined,
    removed: run.removed,
    error: failed ? run.error : null,
    note: failed ? null : run.error,
    startedAt: new Date(run.startedAt).toISOString(),
    finishedAt: isoOrNull(run.finishedAt),
  };
}

/** `items`: what the run recorded, at most MAX_RECORDED_ITEMS of its `removed`. */
function runDetail(run: RetentionRunRow, items: RunItem[]): RetentionRunDetail {
  return { ...runView(run), items: items.map(itemView), itemsTruncated: items.length < run.removed };
}

function itemView(item: RunItem): RetentionItemView {
  return {
    repository: item.repository,
    digest: item.digest,
    tags: item.tags,
    pushedAt: new Date(item.pushedAt).toISOString(),
    lastPulledAt: isoOrNull(item.lastPulledAt),
  };
}

/** By repository and digest, as GET lists a run's items. */
function sorted(items: RunItem[]): RunItem[] {
  const key = (item: RunItem) => `${item.repository}\u0000${item.digest}`;
  return [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
