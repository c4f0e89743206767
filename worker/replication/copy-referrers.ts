// Referrers travel with their subject (OCI distribution spec v1.1, "Listing Referrers"), so a
// signed image stays verifiable after the copy: once the subject is at the destination, every
// manifest the source lists as referring to it is copied by digest (with its blobs), then the
// referrers of those (a signature on an SBOM), breadth first.
//
// Bounds, so that a source with a pathological graph cannot hold a consumer forever: referrers
// are followed MAX_REFERRER_DEPTH levels from the subject (signature of an SBOM of an image is
// level 2) and at most MAX_REFERRERS of them per artifact copy; beyond either, the rest is left
// out and the copy logs what it left. Referrers are copied whatever the policy's artifactTypes
// filter says: the filter chooses artifacts, their referrers come with them.
import type { Digest } from "../oci/digest";
import { copyByDigest, type CopyRun } from "./copy-content";

export const MAX_REFERRER_DEPTH = 4;
export const MAX_REFERRERS = 1000;

/**
 * Copies the referrers of `subjects` the destination lacks. One already there is not put again,
 * but its own referrers are still looked at: a signature may have been added to an SBOM since.
 */
export async function copyReferrers(run: CopyRun, subjects: Digest[]): Promise<void> {
  const seen = new Set<string>(subjects);
  let visited = 0;
  let level = subjects;
  for (let depth = 1; depth <= MAX_REFERRER_DEPTH && level.length > 0; depth++) {
    const next: Digest[] = [];
    for (const subject of level) {
      for (const referrer of await run.source.listReferrers(run.from, subject)) {
        if (seen.has(referrer.digest)) continue;
        if (visited >= MAX_REFERRERS) {
          console.warn(`replication of ${run.from} to ${run.destination.name}: more than ${MAX_REFERRERS} referrers; the rest were not copied`);
          return;
        }
        seen.add(referrer.digest);
        visited += 1;
        // Listed, then deleted at the source before we read it: nothing to copy, and nothing refers to it.
        if ((await copyByDigest(run, referrer.digest, 0)) !== "absent") next.push(referrer.digest);
      }
    }
    if (depth === MAX_REFERRER_DEPTH && next.length > 0) {
      console.warn(`replication of ${run.from} to ${run.destination.name}: referrers deeper than ${MAX_REFERRER_DEPTH} levels were not looked for`);
    }
    level = next;
  }
}
