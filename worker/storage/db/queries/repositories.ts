// Repository names, for the catalog and for telling "unknown repository" from "no tags".
import { asc, eq, gt } from "drizzle-orm";
import type { RepoName } from "../../../oci/names";
import type { Database } from "../client";
import { repositories } from "../schema";

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
