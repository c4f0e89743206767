// The artifacts retention judges (worker/lifecycle/retention.ts), and their removal. An artifact
// is a top-level manifest: no manifest of its repository lists it as a child, and it has no
// subject. Its family is what follows it: an index's children, and referrers, recursively.
//
// Removal is set-based (a bound JSON list per statement, not a statement per manifest: D1 binds
// at most 100 parameters, and each statement is a step of the batch) and re-checks, in the
// statement that deletes, what the run decided from:
//   - an artifact goes only while its push time and its tags are what the run judged and it is
//     still nobody's child: a tag pushed or moved onto it meanwhile keeps it;
//   - a child goes only when it has no tag and no manifest of the repository lists it any more;
//   - a referrer goes only when its subject is gone.
// Each level's tags and references go with the manifests that went, in the same batch (one
// transaction), as deleteManifest (manifests.ts) does for one.
import { type Database, d1Batch, statement } from "../client";
import { type ManifestFacts, recordItemsStatement } from "./retention";

export interface ArtifactRow extends ManifestFacts {
  repository: string;
}

/** Where a listing continues: after this repository and digest (`PAST_EVERY_DIGEST`: after the whole repository). */
export interface ArtifactCursor {
  repository: string;
  digest: string;
}

/** Sorts after every digest ("algorithm:hex" is lowercase letters, digits and ":"). */
export const PAST_EVERY_DIGEST = "~";

interface FactsRow {
  pushedAt: number;
  lastPulledAt: number | null;
  /** JSON list, from json_group_array. */
  tags: string;
}

const TAGS_OF = "(SELECT json_group_array(t.name) FROM tags t WHERE t.repository = m.repository AND t.digest = m.digest)";

/**
 * A page of the project's artifacts, in (repository, digest) order, after `after`. The range
 * ('<project>/', '<project>0') is exactly the names starting with "<project>/" ("0" follows "/"),
 * so the primary key serves it.
 */
export async function listProjectArtifacts(db: Database, project: string, after: ArtifactCursor | null, limit: number): Promise<ArtifactRow[]> {
  const { results } = await statement(
    db,
    `SELECT m.repository, m.digest, m.pushed_at AS pushedAt, m.last_pulled_at AS lastPulledAt, ${TAGS_OF} AS tags
     FROM manifests m
     WHERE m.repository > ?1 AND m.repository < ?2 AND (m.repository, m.digest) > (?3, ?4)
       AND m.subject IS NULL
       AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.repository = m.repository AND r.target = m.digest AND r.kind = 'manifest')
     ORDER BY m.repository, m.digest
     LIMIT ?5`,
    `${project}/`,
    `${project}0`,
    after?.repository ?? `${project}/`,
    after?.digest ?? "",
    limit,
  ).all<FactsRow & { repository: string; digest: string }>();
  return results.map((row) => ({ ...facts(row), repository: row.repository, digest: row.digest }));
}

export interface FamilyMember extends ManifestFacts {
  /** 1 for a direct child or referrer of one of the artifacts asked about, 2 for theirs… */
  depth: number;
  relation: "child" | "referrer";
  subject: string | null;
  /** The manifests of the repository listing it as a child. */
  parents: string[];
}

/**
 * Everything that follows `artifacts` (digests of one repository), to `maxDepth` levels: a
 * member reached on several paths comes once per path (the caller keeps the deepest).
 */
export async function listFamilies(db: Database, repository: string, artifacts: string[], maxDepth: number): Promise<FamilyMember[]> {
  const { results } = await statement(
    db,
    `WITH RECURSIVE family(digest, depth, relation) AS (
       SELECT value, 0, 'artifact' FROM json_each(?2)
       UNION
       SELECT r.target, f.depth + 1, 'child' FROM family f
         JOIN manifest_references r ON r.repository = ?1 AND r.manifest = f.digest AND r.kind = 'manifest' WHERE f.depth < ?3
       UNION
       SELECT m.digest, f.depth + 1, 'referrer' FROM family f
         JOIN manifests m ON m.repository = ?1 AND m.subject = f.digest WHERE f.depth < ?3
     )
     SELECT f.digest, f.depth, f.relation, m.subject, m.pushed_at AS pushedAt, m.last_pulled_at AS lastPulledAt, ${TAGS_OF} AS tags,
       (SELECT json_group_array(r.manifest) FROM manifest_references r WHERE r.repository = ?1 AND r.target = f.digest AND r.kind = 'manifest') AS parents
     FROM family f JOIN manifests m ON m.repository = ?1 AND m.digest = f.digest
     WHERE f.depth > 0`,
    repository,
    JSON.stringify(artifacts),
    maxDepth,
  ).all<FactsRow & { digest: string; depth: number; relation: "child" | "referrer"; subject: string | null; parents: string }>();
  return results.map((row) => ({
    ...facts(row),
    digest: row.digest,
    depth: row.depth,
    relation: row.relation,
    subject: row.subject,
    parents: JSON.parse(row.parents) as string[],
  }));
}

/** One repository's removal: artifacts as judged, then their families level by level (parents before what follows them). */
export interface Removal {
  artifacts: ManifestFacts[];
  levels: { children: string[]; referrers: string[] }[];
  /** Recorded in retention_run_items when removed: at most what the run still records. */
  record: { run: string; items: ManifestFacts[] } | null;
}

/** What a family member must still be, as it is deleted, to go with its artifact. */
const STILL_FOLLOWS = {
  // Untagged, and listed by no manifest left in the repository.
  children: `NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository = ?1 AND t.digest = m.digest)
    AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.repository = ?1 AND r.target = m.digest AND r.kind = 'manifest')`,
  // Its subject gone.
  referrers: "m.subject IS NOT NULL AND NOT EXISTS (SELECT 1 FROM manifests s WHERE s.repository = ?1 AND s.digest = m.subject)",
} as const;

/** Runs one removal in one batch; the digests it removed. */
export async function deleteArtifacts(db: Database, repository: string, removal: Removal): Promise<Set<string>> {
  const expected = Object.fromEntries(removal.artifacts.map(({ digest, pushedAt, tags }) => [digest, { pushedAt, tags }]));
  // json_each over the object's keys; '$."<digest>"' reads one artifact's expectations.
  const entry = `'$."' || m.digest || '"`;
  const statements = [
    statement(
      db,
      `DELETE FROM manifests AS m
       WHERE m.repository = ?1 AND m.digest IN (SELECT key FROM json_each(?2))
         AND m.pushed_at = json_extract(?2, ${entry}.pushedAt')
         AND (SELECT count(*) FROM tags t WHERE t.repository = ?1 AND t.digest = m.digest) = json_array_length(?2, ${entry}.tags')
         AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository = ?1 AND t.digest = m.digest AND t.name NOT IN (SELECT value FROM json_each(?2, ${entry}.tags')))
         AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.repository = ?1 AND r.target = m.digest AND r.kind = 'manifest')
       RETURNING digest`,
      repository,
      JSON.stringify(expected),
    ),
    ...leftovers(db, repository, Object.keys(expected)),
  ];
  for (const level of removal.levels) {
    for (const relation of ["children", "referrers"] as const) {
      const digests = level[relation];
      if (digests.length === 0) continue;
      statements.push(
        statement(db, `DELETE FROM manifests AS m WHERE m.repository = ?1 AND m.digest IN (SELECT value FROM json_each(?2)) AND ${STILL_FOLLOWS[relation]} RETURNING digest`, repository, JSON.stringify(digests)),
      );
    }
    statements.push(...leftovers(db, repository, [...level.children, ...level.referrers]));
  }
  if (removal.record !== null && removal.record.items.length > 0) statements.push(recordItemsStatement(db, removal.record.run, repository, removal.record.items, true));
  const results = await d1Batch(db, statements);
  return new Set(results.flat().flatMap((row) => (typeof row.digest === "string" ? [row.digest] : [])));
}

/** The tags and references of those of `digests` that are no longer held. */
function leftovers(db: Database, repository: string, digests: string[]): D1PreparedStatement[] {
  const list = JSON.stringify(digests);
  // A tag names its manifest in `digest`, a reference in `manifest`.
  return (["tags.digest", "manifest_references.manifest"] as const).map((owner) => {
    const [table, column] = owner.split(".") as [string, string];
    return statement(
      db,
      `DELETE FROM ${table} WHERE repository = ?1 AND ${column} IN (SELECT value FROM json_each(?2))
         AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repository = ?1 AND m.digest = ${owner})`,
      repository,
      list,
    );
  });
}

function facts(row: FactsRow): Omit<ManifestFacts, "digest"> {
  return { tags: (JSON.parse(row.tags) as string[]).sort(), pushedAt: row.pushedAt, lastPulledAt: row.lastPulledAt };
}
