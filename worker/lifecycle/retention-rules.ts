// A project's retention rules and what they keep, with Harbor's meanings (goharbor.io, "Create
// Tag Retention Rules"). Pure: no I/O; worker/lifecycle/retention.ts runs them against D1.
//
// - An artifact is a top-level manifest of a repository: no manifest of the repository lists it
//   as a child (manifest_references, kind 'manifest') and it refers to no subject. An index's
//   children and the referrers of an artifact (signatures, SBOMs) are not judged: they follow
//   their artifact (retention.ts removes them with it).
// - A rule sees an artifact when the rule's `repositories` selector selects the repository's name
//   inside the project ("app/api" of "team/app/api"), and the artifact has a tag the `tags`
//   selector selects, or it has no tag and the rule says `untagged: true`.
// - Within what it sees, per repository, a rule keeps:
//     latestPushed n        the n most recently pushed (pushed_at; equal times by digest, ascending)
//     latestPulled n        the n most recently pulled (never pulled counts as oldest; then by digest)
//     daysSinceLastPush n   those pushed within the last n days
//     daysSinceLastPull n   those pulled within the last n days (never pulled: not kept)
//     always                all of them
// - An artifact is kept when any rule keeps it. In a repository no rule selects, everything is
//   left alone; in a selected repository, whatever no rule keeps is removed, except an artifact
//   carrying an immutable tag (tag immutability rules), which is never removed.
import { RegistryError } from "../errors";
import { checkPattern, nameInProject, type Selector, selects } from "./patterns";

export const TEMPLATES = ["latestPushed", "latestPulled", "daysSinceLastPush", "daysSinceLastPull", "always"] as const;
export type Template = (typeof TEMPLATES)[number];

export interface RetentionRule {
  template: Template;
  /** A count or a number of days; null for "always". */
  n: number | null;
  repositories: Selector;
  tags: Selector;
  /** Whether the rule also sees artifacts without a tag. */
  untagged: boolean;
}

/** One top-level manifest of a repository, as the rules judge it. */
export interface Artifact {
  digest: string;
  tags: string[];
  /** ms since the epoch. */
  pushedAt: number;
  /** ms since the epoch; null when never pulled. */
  lastPulledAt: number | null;
}

/** Harbor allows 15 rules per policy; each rule costs a pass over every repository's artifacts. */
export const MAX_RULES = 15;
const MAX_PATTERNS = 20;
/** Counts and days up to this: a hundred thousand days is longer than any registry will live. */
const MAX_N = 100_000;
const DAY = 86_400_000;
const RULE_FIELDS = new Set(["template", "n", "repositories", "tags", "untagged"]);

function invalid(message: string): RegistryError {
  return new RegistryError("INVALID_REQUEST", message);
}

/**
 * Checks a policy's rules as the API receives them, filling in the defaults: `exclude` is empty
 * when left out, and `untagged` is true (Harbor's default: untagged artifacts are then judged by
 * the rule like the others, rather than removed for being outside every rule's view).
 */
export function parseRules(value: unknown): RetentionRule[] {
  if (!Array.isArray(value) || value.length > MAX_RULES) throw invalid(`"rules" must be a list of at most ${MAX_RULES} rules`);
  return value.map((rule: unknown, index) => parseRule(rule, `rules[${index}]`));
}

function parseRule(value: unknown, field: string): RetentionRule {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid(`${field} must be a JSON object`);
  const rule = value as Record<string, unknown>;
  const unknown = Object.keys(rule).find((key) => !RULE_FIELDS.has(key));
  if (unknown !== undefined) throw invalid(`${field} has an unknown field "${unknown.slice(0, 50)}"; a rule has ${[...RULE_FIELDS].join(", ")}`);
  const template = rule.template;
  if (typeof template !== "string" || !(TEMPLATES as readonly string[]).includes(template)) throw invalid(`${field}.template must be one of ${TEMPLATES.join(", ")}`);
  let n: number | null = null;
  if (template === "always") {
    if (rule.n !== undefined && rule.n !== null) throw invalid(`${field}.n: "always" keeps everything it sees and takes no n`);
  } else if (typeof rule.n !== "number" || !Number.isInteger(rule.n) || rule.n < 1 || rule.n > MAX_N) {
    throw invalid(`${field}.n must be a whole number from 1 to ${MAX_N} (${template.startsWith("days") ? "days" : "artifacts"})`);
  } else n = rule.n;
  if (rule.untagged !== undefined && typeof rule.untagged !== "boolean") throw invalid(`${field}.untagged must be true or false`);
  return {
    template: template as Template,
    n,
    repositories: parseSelector(rule.repositories, `${field}.repositories`),
    tags: parseSelector(rule.tags, `${field}.tags`),
    untagged: rule.untagged ?? true,
  };
}

function parseSelector(value: unknown, field: string): Selector {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid(`${field} must be {"include": [patterns], "exclude": [patterns]}`);
  const { include, exclude = [], ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw invalid(`${field} takes only "include" and "exclude"`);
  return { include: parsePatterns(include, `${field}.include`, 1), exclude: parsePatterns(exclude, `${field}.exclude`, 0) };
}

function parsePatterns(value: unknown, field: string, least: number): string[] {
  // An empty include would select nothing: a rule that can never keep anything is a mistake.
  if (!Array.isArray(value) || value.length < least || value.length > MAX_PATTERNS) throw invalid(`${field} must be a list of ${least} to ${MAX_PATTERNS} patterns`);
  return value.map((pattern: unknown, index) => checkPattern(pattern, `${field}[${index}]`));
}

/** Whether any rule looks at the repository: the others are left alone. */
export function repositorySelected(rules: readonly RetentionRule[], repository: string): boolean {
  const name = nameInProject(repository);
  return rules.some((rule) => selects(rule.repositories, name));
}

/** What the rules decide for one repository's artifacts (all of them, or the run cannot rank them). */
export interface Verdict<A extends Artifact> {
  kept: A[];
  removed: A[];
}

/**
 * Judges the artifacts of `repository` at `now` (ms). `immutable` says whether an artifact
 * carries an immutable tag; such an artifact is kept whatever the rules say.
 */
export function judgeRepository<A extends Artifact>(
  rules: readonly RetentionRule[],
  repository: string,
  artifacts: readonly A[],
  now: number,
  immutable: (artifact: A) => boolean = () => false,
): Verdict<A> {
  const name = nameInProject(repository);
  const applying = rules.filter((rule) => selects(rule.repositories, name));
  if (applying.length === 0) return { kept: [...artifacts], removed: [] };
  const keep = new Set<string>();
  for (const rule of applying) for (const artifact of keptBy(rule, artifacts, now)) keep.add(artifact.digest);
  const verdict: Verdict<A> = { kept: [], removed: [] };
  for (const artifact of artifacts) (keep.has(artifact.digest) || immutable(artifact) ? verdict.kept : verdict.removed).push(artifact);
  return verdict;
}

/** What one rule keeps among a repository's artifacts. */
export function keptBy<A extends Artifact>(rule: RetentionRule, artifacts: readonly A[], now: number): A[] {
  const seen = artifacts.filter((artifact) => (artifact.tags.length === 0 ? rule.untagged : artifact.tags.some((tag) => selects(rule.tags, tag))));
  const n = rule.n ?? 0;
  switch (rule.template) {
    case "latestPushed":
      return seen.sort((a, b) => b.pushedAt - a.pushedAt || byDigest(a, b)).slice(0, n);
    case "latestPulled":
      return seen.sort((a, b) => (b.lastPulledAt ?? -1) - (a.lastPulledAt ?? -1) || byDigest(a, b)).slice(0, n);
    case "daysSinceLastPush":
      return seen.filter((artifact) => artifact.pushedAt >= now - n * DAY);
    case "daysSinceLastPull":
      return seen.filter((artifact) => artifact.lastPulledAt !== null && artifact.lastPulledAt >= now - n * DAY);
    case "always":
      return seen;
  }
}

function byDigest(a: Artifact, b: Artifact): number {
  return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
}
