// Manifests stored before references were recorded (manifests.references_recorded false): the
// backfill (worker/lifecycle/reference-backfill.ts) reads them a page at a time and records
// what they point at, as the content-write path does for new ones.
import type { Digest } from "../../../oci/digest";
import type { RepoName } from "../../../oci/names";
import { d1Batch, type Database, statement } from "../client";
import { referenceInserts } from "./manifests";

export interface UnrecordedManifest {
  repository: RepoName;
  digest: Digest;
  mediaType: string;
  objectKey: string | null;
  content: string | null;
}

export async function unrecordedManifests(db: Database, limit: number): Promise<UnrecordedManifest[]> {
  const { results } = await statement(
    db,
    `SELECT m.repository, m.digest, m.media_type AS mediaType, b.object_key AS objectKey, b.content
     FROM manifests m JOIN blobs b ON b.digest = m.digest
     WHERE m.references_recorded = 0 LIMIT ?1`,
    limit,
  ).all<UnrecordedManifest>();
  return results;
}

export interface BackfilledReferences {
  repository: RepoName;
  digest: Digest;
  blobs: Digest[];
  children: Digest[];
}

/** Records each manifest's references and marks it recorded, all in one batch. */
export async function recordBackfilledReferences(db: Database, manifests: BackfilledReferences[]): Promise<void> {
  if (manifests.length === 0) return;
  await d1Batch(
    db,
    manifests.flatMap((manifest) => [
      ...referenceInserts(db, manifest.repository, manifest.digest, manifest),
      statement(db, "UPDATE manifests SET references_recorded = 1 WHERE repository = ?1 AND digest = ?2", manifest.repository, manifest.digest),
    ]),
  );
}
