// Repository names, for the catalog and for telling "unknown repository" from "no tags".
import { and, asc, eq, gt, inArray, type SQL, sql } from "drizzle-orm";
import type { RepoName } from "../../../oci/names";
import type { Database } from "../client";
import { repositories } from "../schema";
import { type ProjectViewer, visibleProjectNames } from "./principals";

export async function repositoryExists(db: Database, repository: RepoName): Promise<boolean> {
  const rows = await db.select({ name: repositories.name }).from(repositories).where(eq(repositories.name, repository)).limit(1);
  return rows.length > 0;
}

/** Repository names in lexical order, after `last`. */
export async function listRepositories(db: Database, last: string | null, limit: number): Promise<string[]> {
  const rows = await db
    .select({ name: repositories.name })
    .from(repositories)
    .where(last === null ? undefined : gt(repositories.name, last))
    .orderBy(asc(repositories.name))
    .limit(limit);
  return rows.map((row) => row.name);
}

/**
 * Like listRepositories, only those whose project (the first segment) `viewer` sees: the
 * catalog of anyone but a system admin. One-segment names belong to no project.
 */
export async function listVisibleRepositories(db: Database, viewer: ProjectViewer, last: string | null, limit: number): Promise<string[]> {
  const project = sql`substr(${repositories.name}, 1, instr(${repositories.name}, '/') - 1)`;
  const conditions: SQL[] = [inArray(project, visibleProjectNames(db, viewer))];
  if (last !== null) conditions.push(gt(repositories.name, last));
  const rows = await db
    .select({ name: repositories.name })
    .from(repositories)
    .where(and(...conditions))
    .orderBy(asc(repositories.name))
    .limit(limit);
  return rows.map((row) => row.name);
}
