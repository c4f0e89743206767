// A project's storage: its limit (on the project row) and its usage, which is never stored but
// computed from the rows that make content visible: the distinct digests its repositories hold,
// as blobs (`repository_blobs`) or manifests (`manifests`), each counted once at its size in
// `blobs`. Repositories of project "p" are named "p/…": the range "p/" ≤ name < "p0" ("0" is
// the character after "/") selects exactly them, and the (repository, digest) primary keys of
// both tables serve it.
import { eq } from "drizzle-orm";
import type { Digest } from "../../../oci/digest";
import { type Database, statement } from "../client";
import { projects } from "../schema";

/** ?1 and ?2: the project's range of repository names (projectRange). */
const PROJECT_DIGESTS = `SELECT digest FROM repository_blobs WHERE repository >= ?1 AND repository < ?2
  UNION SELECT digest FROM manifests WHERE repository >= ?1 AND repository < ?2`;

export interface ProjectUsage {
  /** Bytes of the distinct digests the project holds. */
  usedBytes: number;
  /** Whether the project holds `digest` already (a push of it adds nothing). */
  held: boolean;
  /** The stored size of `digest`, whichever repository holds it; null when not stored. */
  storedBytes: number | null;
}

/** The project's usage, and what it means for `digest` (null: no digest in question), in one statement. */
export async function projectUsage(db: Database, project: string, digest: Digest | null): Promise<ProjectUsage> {
  const [low, high] = projectRange(project);
  const row = await statement(
    db,
    `SELECT (SELECT coalesce(sum(size), 0) FROM blobs WHERE digest IN (${PROJECT_DIGESTS})) AS usedBytes,
       EXISTS (SELECT 1 FROM repository_blobs WHERE digest = ?3 AND repository >= ?1 AND repository < ?2)
         OR EXISTS (SELECT 1 FROM manifests WHERE digest = ?3 AND repository >= ?1 AND repository < ?2) AS held,
       (SELECT size FROM blobs WHERE digest = ?3) AS storedBytes`,
    low,
    high,
    digest,
  ).first<{ usedBytes: number; held: number; storedBytes: number | null }>();
  return { usedBytes: row?.usedBytes ?? 0, held: row?.held === 1, storedBytes: row?.storedBytes ?? null };
}

/** Sets the project's storage limit in bytes (-1: none); false when there is no such project. */
export async function setStorageLimit(db: Database, project: string, limitBytes: number): Promise<boolean> {
  const updated = await db.update(projects).set({ storageLimitBytes: limitBytes }).where(eq(projects.name, project)).returning({ name: projects.name });
  return updated.length > 0;
}

/** The bounds of the names "<project>/…" as a half-open range. */
function projectRange(project: string): [string, string] {
  return [`${project}/`, `${project}0`];
}
