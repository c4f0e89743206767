// Tag immutability per project (Harbor's "immutable tag rules"): a tag that a rule matches
// (its repository pattern the repository's name inside the project, worker/lifecycle/
// patterns.ts, and its tag pattern the tag) is fixed once it exists. A push may create it, and
// push the same digest to it again (clients re-push whole images), but not move it to another
// digest; nobody may delete it, nor the manifest it points at. Pushes and deletes are rare
// next to pulls, so the rules and the tags are read from D1 when they happen, never cached:
// a rule applies from the request after it was saved. Proxy projects mirror their upstream's
// tags, which move as upstream moves them: rules never apply to them.
//
// The check and the write are separate statements: two concurrent first pushes of one new
// immutable tag with different digests both pass, and the later write wins (as in Harbor).
// Retention asks `immutableTagsOf` which of an artifact's tags are immutable, and keeps it.
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import type { Digest } from "../oci/digest";
import type { Reference, RepoName } from "../oci/names";
import { database } from "../storage/db/client";
import { tagDigests, tagsOn } from "../storage/db/queries/immutability";
import { findProject, type ProjectRow } from "../storage/db/queries/principals";
import { checkPattern, matchesPattern, nameInProject, projectOf } from "./patterns";

export interface ImmutableTagRule {
  /** Matched against the repository's name inside the project ("app/api" of "team/app/api"). */
  repositories: string;
  tags: string;
}

/** Rules per project: each is checked against every tag a push sets, so a bound keeps that cheap. */
export const MAX_IMMUTABLE_RULES = 50;

/** The API's rule list, checked: 400 INVALID_REQUEST naming what is wrong. */
export function parseImmutableRules(value: unknown): ImmutableTagRule[] {
  if (!Array.isArray(value) || value.length > MAX_IMMUTABLE_RULES) {
    throw new RegistryError("INVALID_REQUEST", `"rules" must be a list of at most ${MAX_IMMUTABLE_RULES} {"repositories", "tags"} patterns`);
  }
  return value.map((entry: unknown, index) => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new RegistryError("INVALID_REQUEST", `rules[${index}] must be an object {"repositories", "tags"}`);
    }
    const rule = entry as Record<string, unknown>;
    return { repositories: checkPattern(rule.repositories, `rules[${index}].repositories`), tags: checkPattern(rule.tags, `rules[${index}].tags`) };
  });
}

/**
 * The rules stored on a project row. Only the API writes them, checked; anything else there was
 * written by hand, and fails loudly rather than leaving every tag mutable.
 */
export function storedRules(project: ProjectRow): ImmutableTagRule[] {
  try {
    return parseImmutableRules(JSON.parse(project.immutableTagRules));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RegistryError("UNKNOWN", `the immutable tag rules stored for project "${project.name}" are not valid (${reason}); set them again with PUT /api/v1/projects/${project.name}/immutable-tags`);
  }
}

/** The rules that apply to writes into the project: none for a missing or proxy project. */
export function rulesOf(project: ProjectRow | null): ImmutableTagRule[] {
  return project === null || project.kind !== "local" ? [] : storedRules(project);
}

/** The project's rules, read now (for deletes: retention has the project row already). */
async function projectImmutableRules(env: Bindings, project: string): Promise<ImmutableTagRule[]> {
  return rulesOf(await findProject(database(env.DB), project));
}

/** The first rule making `tag` of `repository` (its full name, "team/app") immutable, or null. */
export function immutableRuleFor(rules: ImmutableTagRule[], repository: string, tag: string): ImmutableTagRule | null {
  const name = nameInProject(repository);
  return rules.find((rule) => matchesPattern(rule.repositories, name) && matchesPattern(rule.tags, tag)) ?? null;
}

/** Which of `tags` of `repository` the rules make immutable: an artifact carrying one must stay. Pure. */
export function immutableTagsOf(rules: ImmutableTagRule[], repository: string, tags: string[]): string[] {
  return tags.filter((tag) => immutableRuleFor(rules, repository, tag) !== null);
}

/** A push setting `tags` to `digest`: 403 DENIED when one of them is immutable and points at another digest. */
export async function requireTagsMayMove(env: Bindings, rules: ImmutableTagRule[], repository: RepoName, tags: string[], digest: Digest): Promise<void> {
  const guarded = immutableTagsOf(rules, repository, tags);
  if (guarded.length === 0) return;
  const current = await tagDigests(database(env.DB), repository, guarded);
  const moved = guarded.find((tag) => current.has(tag) && current.get(tag) !== digest);
  if (moved !== undefined) throw immutable(rules, repository, moved, `tag ${moved} of ${repository}`, "push a new tag instead");
}

/** A DELETE by tag, or by digest (which removes every tag on it): 403 DENIED when an immutable tag would go. */
export async function requireDeletable(env: Bindings, repository: RepoName, reference: Reference): Promise<void> {
  const rules = await projectImmutableRules(env, projectOf(repository));
  const name = nameInProject(repository);
  if (!rules.some((rule) => matchesPattern(rule.repositories, name))) return;
  const db = database(env.DB);
  if (reference.kind === "tag") {
    // A tag that does not exist is not protected: the delete answers 404 as it would anyway.
    if (immutableRuleFor(rules, repository, reference.tag) === null || !(await tagDigests(db, repository, [reference.tag])).has(reference.tag)) return;
    throw immutable(rules, repository, reference.tag, `tag ${reference.tag} of ${repository}`, "it cannot be deleted");
  }
  const [tag] = immutableTagsOf(rules, repository, await tagsOn(db, repository, reference.digest));
  if (tag !== undefined) throw immutable(rules, repository, tag, `manifest ${reference.digest} carries tag ${tag} of ${repository}, which`, "it cannot be deleted");
}

function immutable(rules: ImmutableTagRule[], repository: string, tag: string, subject: string, advice: string): RegistryError {
  const rule = immutableRuleFor(rules, repository, tag)!;
  const shown = JSON.stringify({ repositories: rule.repositories, tags: rule.tags });
  return new RegistryError("DENIED", `${subject} is immutable (rule ${shown}); ${advice}`);
}
