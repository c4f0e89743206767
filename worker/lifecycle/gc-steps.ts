// One garbage collection step: as much of the current phase (gc-state.ts) as the step budget
// allows, then the state to continue from. Deletions go through statements that re-check, at
// the moment they delete, that nothing needs what they delete (worker/storage/db/queries/
// gc-marks.ts and gc-sweeps.ts); durable-objects/registry-lock.ts tells the whole protocol.
import type { Bindings } from "../env";
import type { RepoName } from "../oci/names";
import { database, type Database } from "../storage/db/client";
import {
  deleteCollectableManifests,
  deleteOrphanReferences,
  deleteUnreferencedLinks,
  localRepositoriesAfter,
  recordCollectableManifests,
  recordUnreferencedLinks,
} from "../storage/db/queries/gc-marks";
import { countUnneededBlobs, deleteCandidates, deleteTombstonedRows, type DoomedBlob, namedObjectKeys, tombstonedBlobs, tombstoneUnneededBlobs } from "../storage/db/queries/gc-sweeps";
import { OBJECT_PREFIXES } from "../storage/keys";
import type { GcState } from "./gc-state";
import { backfillReferences } from "./reference-backfill";
import { StepBudget } from "./step-budget";

/**
 * Rows per statement, objects per R2 call (R2 deletes and lists at most 1,000 keys per call).
 * Small enough that no one statement holds D1 for long: pushes and pulls queue behind it.
 */
const MANIFEST_PAGE = 100;
const LINK_PAGE = 250;
const BLOB_PAGE = 250;
const REPOSITORY_PAGE = 50;
const OBJECT_PAGE = 1000;

/** Runs one step; the state it returns says where the next one starts ("done" when finished). */
export async function runStep(env: Bindings, state: GcState, budget = new StepBudget()): Promise<GcState> {
  const next = structuredClone(state);
  const db = database(env.DB);
  while (next.phase !== "done" && (await advance(env, db, next, budget))) {
    // Each call did some work and left the phase's cursor where it stopped.
  }
  next.counters.steps += 1;
  next.counters.largestStepCalls = Math.max(next.counters.largestStepCalls, budget.spent);
  next.counters.largestStepMs = Math.max(next.counters.largestStepMs, budget.elapsedMs);
  return next;
}

/** Works on the current phase; false when the budget ran out. */
async function advance(env: Bindings, db: Database, state: GcState, budget: StepBudget): Promise<boolean> {
  switch (state.phase) {
    case "backfill":
      if (!(await backfillReferences(env, budget))) return false;
      state.phase = "repositories";
      return true;
    case "repositories":
      return collectRepositories(db, state, budget);
    case "tombstones":
      return finishTombstones(env, db, state, budget);
    case "blobs":
      return sweepBlobs(env, db, state, budget);
    case "objects":
      return sweepObjects(env, db, state, budget);
    case "cleanup":
      if (!budget.spend(1)) return false;
      if ((await deleteCandidates(db, 5_000)) < 5_000) state.phase = "done";
      return true;
    case "done":
      return false;
  }
}

async function collectRepositories(db: Database, state: GcState, budget: StepBudget): Promise<boolean> {
  const { cutoff, options } = state;
  if (state.current === null) {
    if (state.queue.length === 0) {
      if (!budget.spend(1)) return false;
      state.queue = await localRepositoriesAfter(db, state.lastQueued, state.upstreams, REPOSITORY_PAGE);
      if (state.queue.length === 0) {
        state.phase = options.dryRun ? "blobs" : "tombstones";
        return true;
      }
      state.lastQueued = state.queue.at(-1)!;
    }
    state.current = { repository: state.queue.shift()!, stage: "manifests", after: "" };
  }
  const current = state.current;
  const repository = current.repository as RepoName;
  if (current.stage === "manifests") {
    if (options.dryRun) {
      if (!budget.spend(1)) return false;
      state.counters.manifestsDeleted += await recordCollectableManifests(db, state.id, repository, cutoff, options.deleteUntagged);
    } else {
      // Repeated until a short page: deleting one manifest can make its children and referrers
      // collectable. Two calls: the delete, then the references of what it deleted.
      if (!budget.spend(2)) return false;
      const deleted = await deleteCollectableManifests(db, repository, cutoff, options.deleteUntagged, MANIFEST_PAGE);
      state.counters.manifestsDeleted += deleted.length;
      if (deleted.length > 0) return true;
      if (!budget.spend(1)) return false;
      await deleteOrphanReferences(db, repository);
    }
    current.stage = "links";
    return true;
  }
  if (!budget.spend(1)) return false;
  const page = options.dryRun
    ? await recordUnreferencedLinks(db, state.id, repository, current.after, cutoff, LINK_PAGE).then(({ recorded, next }) => ({ deleted: recorded, next }))
    : await deleteUnreferencedLinks(db, repository, current.after, cutoff, LINK_PAGE);
  state.counters.linksDeleted += page.deleted;
  if (page.next === null) state.current = null;
  else current.after = page.next;
  return true;
}

async function finishTombstones(env: Bindings, db: Database, state: GcState, budget: StepBudget): Promise<boolean> {
  if (!budget.spend(3)) return false;
  const doomed = await tombstonedBlobs(db, OBJECT_PAGE);
  if (doomed.length === 0) {
    state.phase = "blobs";
    return true;
  }
  await deleteDoomed(env, db, state, doomed);
  return true;
}

async function sweepBlobs(env: Bindings, db: Database, state: GcState, budget: StepBudget): Promise<boolean> {
  if (!budget.spend(3)) return false;
  let next: string | null;
  if (state.options.dryRun) {
    const page = await countUnneededBlobs(db, state.id, state.blobsAfter, state.cutoff, BLOB_PAGE);
    state.counters.blobsDeleted += page.count;
    state.counters.bytesFreed += page.bytes;
    next = page.next;
  } else {
    const page = await tombstoneUnneededBlobs(db, state.blobsAfter, state.cutoff, BLOB_PAGE);
    await deleteDoomed(env, db, state, page.doomed);
    next = page.next;
  }
  if (next === null) state.phase = "objects";
  else state.blobsAfter = next;
  return true;
}

/** Tombstoned blobs: objects first, then rows (a row a writer revived meanwhile stays). */
async function deleteDoomed(env: Bindings, db: Database, state: GcState, doomed: DoomedBlob[]): Promise<void> {
  if (doomed.length === 0) return;
  const keys = doomed.flatMap((blob) => (blob.objectKey === null ? [] : [blob.objectKey]));
  if (keys.length > 0) await env.BLOBS.delete(keys);
  await deleteTombstonedRows(db, doomed.map((blob) => blob.digest));
  state.counters.blobsDeleted += doomed.length;
  state.counters.bytesFreed += doomed.reduce((sum, blob) => sum + blob.size, 0);
}

/** Objects no row names (a writer that stopped between R2 and D1), written before the cutoff. */
async function sweepObjects(env: Bindings, db: Database, state: GcState, budget: StepBudget): Promise<boolean> {
  const prefix = OBJECT_PREFIXES[state.objectPrefix];
  if (prefix === undefined) {
    state.phase = "cleanup";
    return true;
  }
  if (!budget.spend(3)) return false;
  const listed = await env.BLOBS.list({ prefix, limit: OBJECT_PAGE, ...(state.objectCursor === null ? {} : { cursor: state.objectCursor }) });
  const named = listed.objects.length === 0 ? new Set<string>() : await namedObjectKeys(db, listed.objects.map((object) => object.key));
  const orphans = listed.objects.filter((object) => !named.has(object.key) && object.uploaded.getTime() < state.cutoff);
  if (orphans.length > 0 && !state.options.dryRun) await env.BLOBS.delete(orphans.map((object) => object.key));
  state.counters.blobsDeleted += orphans.length;
  state.counters.bytesFreed += orphans.reduce((sum, object) => sum + object.size, 0);
  if (listed.truncated) {
    state.objectCursor = listed.cursor;
  } else {
    state.objectPrefix += 1;
    state.objectCursor = null;
  }
  return true;
}
