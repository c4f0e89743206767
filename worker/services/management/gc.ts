// Garbage collection as the management API starts, shows and stops it (system admins only):
// the RegistryLock object runs it (durable-objects/registry-lock.ts), gc_runs records it.
import type { Config } from "../../config";
import type { Bindings } from "../../env";
import { RegistryError } from "../../errors";
import { registryLock, requestGc } from "../../lifecycle/gc-start";
import { database } from "../../storage/db/client";
import { findRun, type GcRunRow, listRuns } from "../../storage/db/queries/gc-runs";
import { type Actor, loginName } from "./actor";
import { audit } from "./audit-trail";
import { requireSystemAdmin } from "./guard";
import { type Body, invalid, optionalFlag } from "./inputs";

export interface GcRunView {
  id: string;
  status: GcRunRow["status"];
  dryRun: boolean;
  deleteUntagged: boolean;
  trigger: string;
  /** The phase running now, or the last one run (worker/lifecycle/gc-state.ts). */
  phase: string;
  steps: number;
  manifestsDeleted: number;
  linksDeleted: number;
  blobsDeleted: number;
  bytesFreed: number;
  /** The most D1 and R2 calls one step made, and its wall time: what the Workers limits bound. */
  largestStep: { calls: number; ms: number };
  error: string | null;
  requestedBy: string | null;
  startedAt: string;
  finishedAt: string | null;
}

/** Starts a collection; 409 CONFLICT while another runs (one at a time). */
export async function startGc(env: Bindings, config: Config, actor: Actor, body: Body): Promise<{ id: string }> {
  const entry = { action: "gc.start", resource: "gc", project: null };
  await requireSystemAdmin(env, actor, entry, "run garbage collection");
  const options = { dryRun: optionalFlag(body, "dryRun", false), deleteUntagged: optionalFlag(body, "deleteUntagged", false) };
  const started = await requestGc(env, config, options, "manual", loginName(actor));
  if (!started.started) throw new RegistryError("CONFLICT", `garbage collection ${started.running} is running; stop it or wait for it to finish`);
  await audit(env, actor, { ...entry, resource: `gc/${started.id}` });
  return { id: started.id };
}

export async function gcRun(env: Bindings, actor: Actor, id: string): Promise<GcRunView> {
  await requireSystemAdmin(env, actor, { action: "gc.read", resource: `gc/${id}`, project: null }, "read garbage collection runs");
  return runView(await requireRun(env, id));
}

export async function gcRuns(env: Bindings, actor: Actor, limit: number): Promise<{ items: GcRunView[] }> {
  await requireSystemAdmin(env, actor, { action: "gc.read", resource: "gc", project: null }, "read garbage collection runs");
  return { items: (await listRuns(database(env.DB), limit)).map(runView) };
}

/** Stops a running collection before its next step; the run as it stands (still "running" until the lock object ends it). */
export async function stopGc(env: Bindings, actor: Actor, id: string): Promise<GcRunView> {
  const entry = { action: "gc.stop", resource: `gc/${id}`, project: null };
  await requireSystemAdmin(env, actor, entry, "stop garbage collection");
  const run = await requireRun(env, id);
  if (run.status !== "running") throw invalid(`garbage collection ${id} is not running: it ${run.status}`);
  await registryLock(env).stop(id);
  await audit(env, actor, entry);
  return runView(run);
}

async function requireRun(env: Bindings, id: string): Promise<GcRunRow> {
  const run = await findRun(database(env.DB), id);
  if (run === null) throw new RegistryError("NAME_UNKNOWN", `no garbage collection run has the id "${id.slice(0, 100)}"`);
  return run;
}

function runView(run: GcRunRow): GcRunView {
  return {
    id: run.id,
    status: run.status,
    dryRun: run.dryRun,
    deleteUntagged: run.deleteUntagged,
    trigger: run.trigger,
    phase: run.phase,
    steps: run.steps,
    manifestsDeleted: run.manifestsDeleted,
    linksDeleted: run.linksDeleted,
    blobsDeleted: run.blobsDeleted,
    bytesFreed: run.bytesFreed,
    largestStep: { calls: run.largestStepCalls, ms: run.largestStepMs },
    error: run.error,
    requestedBy: run.requestedBy,
    startedAt: new Date(run.startedAt).toISOString(),
    finishedAt: run.finishedAt === null ? null : new Date(run.finishedAt).toISOString(),
  };
}
