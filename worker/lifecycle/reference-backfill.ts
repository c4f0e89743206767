// The reference backfill: manifests stored before Pier recorded references (their bytes may be
// in R2, out of SQL's reach) are read and parsed a page at a time, and what they point at is
// recorded. Every garbage collection runs it first and does not mark anything until no
// manifest is left unrecorded, since a missing reference would make a needed blob look unused.
import type { Bindings } from "../env";
import { parseManifest } from "../oci/manifest";
import { registryBlobs } from "../services/manifests";
import { readStoredBytes } from "../storage/blob-store";
import { database } from "../storage/db/client";
import { type BackfilledReferences, recordBackfilledReferences, unrecordedManifests, type UnrecordedManifest } from "../storage/db/queries/reference-backfill";
import type { StepBudget } from "./step-budget";

/** Manifests read per page: each may be one R2 read, and a step's subrequests are bounded. */
const PAGE = 20;

/** Backfills pages while the budget lasts; true once no manifest is left unrecorded. */
export async function backfillReferences(env: Bindings, budget: StepBudget): Promise<boolean> {
  const db = database(env.DB);
  while (budget.spend(1)) {
    const page = await unrecordedManifests(db, PAGE);
    if (page.length === 0) return true;
    const recorded: BackfilledReferences[] = [];
    for (const manifest of page) {
      if (manifest.objectKey !== null && !budget.spend(1)) break;
      recorded.push(await referencesOf(env, manifest));
    }
    if (!budget.spend(1)) return false;
    await recordBackfilledReferences(db, recorded);
  }
  return false;
}

async function referencesOf(env: Bindings, manifest: UnrecordedManifest): Promise<BackfilledReferences> {
  const none = { repository: manifest.repository, digest: manifest.digest, blobs: [], children: [] };
  const body = await readStoredBytes(env.BLOBS, manifest, null);
  if (body === null) {
    console.error(`reference backfill: the bytes of ${manifest.repository}@${manifest.digest} are missing; it references nothing`);
    return none;
  }
  try {
    const parsed = parseManifest(new Uint8Array(await new Response(body).arrayBuffer()), manifest.mediaType);
    return { ...none, blobs: registryBlobs(parsed), children: parsed.children.map((child) => child.digest) };
  } catch {
    // A cached upstream manifest of a shape Pier does not index: served as bytes, points at nothing Pier knows.
    return none;
  }
}
