// A garbage collection's state between steps, kept in the RegistryLock object's storage: what
// was asked, how far it got (phase and cursors), and what it has counted.

export interface GcOptions {
  /** Count what would go; delete nothing. */
  dryRun: boolean;
  /** Also collect manifests no tag reaches (not only referrers whose subject is gone). */
  deleteUntagged: boolean;
}

/**
 * The phases, in order:
 *   backfill      record references of manifests stored before they were recorded
 *   repositories  per local repository: collectable manifests, then unreferenced links
 *   tombstones    finish blobs an interrupted step tombstoned
 *   blobs         tombstone, delete the objects of, and forget blobs nothing needs
 *   objects       delete R2 objects no blob row names (interrupted writes)
 *   cleanup       forget a dry run's candidates
 */
export type GcPhase = "backfill" | "repositories" | "tombstones" | "blobs" | "objects" | "cleanup" | "done";

export interface GcCounters {
  manifestsDeleted: number;
  linksDeleted: number;
  /** Blob rows with their objects, and orphaned objects. */
  blobsDeleted: number;
  bytesFreed: number;
  steps: number;
  /** The most D1 and R2 calls one step made, and its wall time (ms): what the limits bound. */
  largestStepCalls: number;
  largestStepMs: number;
}

export interface GcState {
  id: string;
  options: GcOptions;
  /** ms: anything written or linked at or after it is kept (the run's start minus the grace window). */
  cutoff: number;
  /** Upstream names: their caches are evicted, not collected. */
  upstreams: string[];
  phase: GcPhase;
  /** Repositories phase: repositories still to visit, fetched a page ahead, and the last one fetched. */
  queue: string[];
  lastQueued: string;
  /** The repository being collected, and how far. */
  current: { repository: string; stage: "manifests" | "links"; after: string } | null;
  /** Blobs phase: the last digest examined. */
  blobsAfter: string;
  /** Objects phase: which prefix (keys.ts OBJECT_PREFIXES) and R2's list cursor. */
  objectPrefix: number;
  objectCursor: string | null;
  counters: GcCounters;
  stopRequested: boolean;
}

export function initialState(id: string, options: GcOptions, cutoff: number, upstreams: string[]): GcState {
  return {
    id,
    options,
    cutoff,
    upstreams,
    phase: "backfill",
    queue: [],
    lastQueued: "",
    current: null,
    blobsAfter: "",
    objectPrefix: 0,
    objectCursor: null,
    counters: { manifestsDeleted: 0, linksDeleted: 0, blobsDeleted: 0, bytesFreed: 0, steps: 0, largestStepCalls: 0, largestStepMs: 0 },
    stopRequested: false,
  };
}
