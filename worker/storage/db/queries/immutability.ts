// Tag immutability (worker/lifecycle/immutability.ts): a project's rules, stored as JSON on its
// row, and the tags a push or delete would move or remove.
import { and, eq } from "drizzle-orm";
import type { Digest } from "../../../oci/digest";
import type { RepoName } from "../../../oci/names";
import { type Database, statement } from "../client";
import { projects, tags } from "../schema";

/** Replaces the project's rules (JSON, checked by the caller); false when there is no such project. */
export async function setImmutableTagRules(db: Database, project: string, rules: string): Promise<boolean> {
  const updated = await db.update(projects).set({ immutableTagRules: rules }).where(eq(projects.name, project)).returning({ name: projects.name });
  return updated.length > 0;
}

/** Which of `names` exist in the repository, and the digest each points at (one bound list: D1's 100-parameter limit). */
export async function tagDigests(db: Database, repository: RepoName, names: string[]): Promise<Map<string, Digest>> {
  const { results } = await statement(db, "SELECT name, digest FROM tags WHERE repository = ?1 AND name IN (SELECT value FROM json_each(?2))", repository, JSON.stringify(names)).all<{
    name: string;
    digest: Digest;
  }>();
  return new Map(results.map((row) => [row.name, row.digest]));
}

/** The tags pointing at `digest` in the repository (the tags_digest index serves it). */
export async function tagsOn(db: Database, repository: RepoName, digest: Digest): Promise<string[]> {
  const rows = await db
    .select({ name: tags.name })
    .from(tags)
    .where(and(eq(tags.repository, repository), eq(tags.digest, digest)));
  return rows.map((row) => row.name);
}
