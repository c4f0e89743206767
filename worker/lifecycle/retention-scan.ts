// One retention run's walk over a project (retention.ts starts and records it): the project's
// artifacts are listed from D1 in pages, in (repository, digest) order, gathered per repository,
// judged (retention-rules.ts) once a repository is complete, since "the n most recently pushed"
// needs all of them, and removed in slices, one D1 batch per slice.
//
// Bounds (DESIGN: subrequests and memory per invocation): every D1 call is taken from a
// StepBudget, and the walk stops at a repository boundary once it has judged `maxArtifacts`;
// it then says after which repository the next run continues. A repository holding more than
// `maxArtifacts` artifacts cannot be judged within one run and is skipped, with a note.
import type { Bindings } from "../env";
import type { RepoName } from "../oci/names";
import { removeArtifacts } from "../services/content-writes";
import type { Database } from "../storage/db/client";
import type { ManifestFacts } from "../storage/db/queries/retention";
import { type ArtifactCursor, type ArtifactRow, type FamilyMember, listFamilies, listProjectArtifacts, PAST_EVERY_DIGEST } from "../storage/db/queries/retention-artifacts";
import { recordItems } from "../storage/db/queries/retention";
import { judgeRepository, repositorySelected, type RetentionRule } from "./retention-rules";
import type { StepBudget } from "./step-budget";

/** Artifacts per listing query. */
const PAGE = 1_000;
/** Artifacts per removal batch (and family query): a repository of 10,000 costs 10 of each, inside a run's budget. */
const SLICE = 1_000;
/** Levels of children and referrers followed below an artifact (signatures of an SBOM of an index's child: 3). */
export const MAX_FAMILY_DEPTH = 8;
/** Items recorded per run; the counts stay exact past it. */
export const MAX_RECORDED_ITEMS = 1_000;

export interface RunItem extends ManifestFacts {
  repository: string;
}

export interface ScanSettings {
  project: string;
  run: string;
  dryRun: boolean;
  rules: readonly RetentionRule[];
  /** Which of an artifact's tags are immutable in its repository: an artifact carrying one stays. */
  immutableTags: (repository: string, tags: string[]) => string[];
  now: number;
  maxArtifacts: number;
}

/** Where a walk ended: complete, or stopped with the repositories after `resumeAfter` left (null: from the first). */
export type ScanEnd = { complete: true } | { complete: false; resumeAfter: string | null };

interface Group {
  repository: string;
  artifacts: ArtifactRow[];
  /** Left alone: no rule selects it, or it holds more than a run judges. */
  skipped: boolean;
  oversized: boolean;
}

export class RetentionScan {
  examined = 0;
  removed = 0;
  readonly items: RunItem[] = [];
  readonly notes: string[] = [];

  constructor(
    private readonly env: Bindings,
    private readonly db: Database,
    private readonly settings: ScanSettings,
    private readonly budget: StepBudget,
  ) {}

  /** Walks the project's repositories after `after` (null: all of them). */
  async walk(after: string | null): Promise<ScanEnd> {
    let cursor: ArtifactCursor | null = after === null ? null : { repository: after, digest: PAST_EVERY_DIGEST };
    let done = after;
    let group: Group | null = null;
    for (;;) {
      if (!this.budget.spend(1)) return { complete: false, resumeAfter: done };
      const page = await listProjectArtifacts(this.db, this.settings.project, cursor, PAGE);
      for (const row of page) {
        if (group !== null && row.repository !== group.repository) {
          if (!(await this.finish(group))) return { complete: false, resumeAfter: done };
          done = group.repository;
          group = null;
        }
        group ??= { repository: row.repository, artifacts: [], skipped: !repositorySelected(this.settings.rules, row.repository), oversized: false };
        this.add(group, row);
      }
      if (page.length < PAGE) return group === null || (await this.finish(group)) ? { complete: true } : { complete: false, resumeAfter: done };
      const last = page[page.length - 1]!;
      // A repository left alone is jumped over rather than listed to its end.
      cursor = group?.skipped ? { repository: group.repository, digest: PAST_EVERY_DIGEST } : { repository: last.repository, digest: last.digest };
    }
  }

  private add(group: Group, row: ArtifactRow): void {
    if (group.skipped) return;
    if (group.artifacts.length >= this.settings.maxArtifacts) {
      group.skipped = group.oversized = true;
      group.artifacts = [];
      return;
    }
    group.artifacts.push(row);
  }

  /** Judges a complete repository and removes what no rule keeps; false when the run stops before it. */
  private async finish(group: Group): Promise<boolean> {
    const { repository, artifacts } = group;
    if (group.oversized) this.notes.push(`${repository} holds more than ${this.settings.maxArtifacts} artifacts, more than one run judges: left alone`);
    if (group.skipped) return true;
    if (this.examined > 0 && this.examined + artifacts.length > this.settings.maxArtifacts) return false;
    this.examined += artifacts.length;
    const { rules, now, immutableTags } = this.settings;
    const { removed } = judgeRepository(rules, repository, artifacts, now, (artifact) => immutableTags(repository, artifact.tags).length > 0);
    const doomed = new Set(removed.map((artifact) => artifact.digest));
    const handled = new Set<string>();
    for (let start = 0; start < removed.length; start += SLICE) {
      if (!(await this.removeSlice(repository, removed.slice(start, start + SLICE), doomed, handled))) return false;
    }
    return true;
  }

  /**
   * Removes one slice of a repository's doomed artifacts with their families (a dry run lists
   * them). `doomed` is every artifact of the repository the rules remove; `handled`, the family
   * members removed (or listed) by earlier slices.
   */
  private async removeSlice(repository: string, slice: ArtifactRow[], doomed: Set<string>, handled: Set<string>): Promise<boolean> {
    if (!this.budget.spend(2)) return false;
    const family = decideFamily(
      await listFamilies(this.db, repository, slice.map((artifact) => artifact.digest), MAX_FAMILY_DEPTH),
      new Set([...doomed, ...handled]),
      (member) => this.settings.immutableTags(repository, member.tags).length > 0,
    ).filter((member) => !handled.has(member.digest));
    const candidates: ManifestFacts[] = [...slice, ...family];
    const room = MAX_RECORDED_ITEMS - this.items.length;
    const toRecord = candidates.slice(0, Math.max(room, 0)).map(({ digest, tags, pushedAt, lastPulledAt }) => ({ digest, tags, pushedAt, lastPulledAt }));
    let gone: Set<string>;
    if (this.settings.dryRun) {
      gone = new Set(candidates.map((candidate) => candidate.digest));
      if (toRecord.length > 0) await recordItems(this.db, this.settings.run, repository, toRecord);
    } else {
      gone = await removeArtifacts(this.env, repository as RepoName, {
        artifacts: slice,
        levels: levelsOf(family),
        record: toRecord.length > 0 ? { run: this.settings.run, items: toRecord } : null,
      });
    }
    for (const member of family) if (gone.has(member.digest)) handled.add(member.digest);
    this.removed += gone.size;
    for (const item of toRecord) if (gone.has(item.digest)) this.items.push({ repository, ...item });
    return true;
  }
}

/**
 * Which members of the artifacts' families go with them, given `gone` (what the run removes of
 * the repository so far): a child when it has no tag and every manifest listing it goes; a
 * referrer when its subject goes and it carries no immutable tag. Members are decided from the
 * top down, each once (at the deepest level it was reached), so a parent is decided before
 * what follows it. Pure.
 */
export function decideFamily(members: FamilyMember[], gone: ReadonlySet<string>, immutable: (member: FamilyMember) => boolean): FamilyMember[] {
  const deepest = new Map<string, FamilyMember>();
  for (const member of members) if ((deepest.get(member.digest)?.depth ?? 0) < member.depth) deepest.set(member.digest, member);
  const going = new Set(gone);
  const decided: FamilyMember[] = [];
  for (const member of [...deepest.values()].sort((a, b) => a.depth - b.depth)) {
    const goes =
      member.relation === "child"
        ? member.tags.length === 0 && member.parents.every((parent) => going.has(parent))
        : member.subject !== null && going.has(member.subject) && !immutable(member);
    if (!goes) continue;
    going.add(member.digest);
    decided.push(member);
  }
  return decided;
}

/** The family's members by level, children apart from referrers (each checked its own way as it is deleted). */
function levelsOf(family: FamilyMember[]): { children: string[]; referrers: string[] }[] {
  const levels: { children: string[]; referrers: string[] }[] = [];
  for (const member of family) {
    const level = (levels[member.depth - 1] ??= { children: [], referrers: [] });
    (member.relation === "child" ? level.children : level.referrers).push(member.digest);
  }
  // A level reached by nothing (a member whose parent was kept is not decided) is skipped.
  return levels.filter((level) => level !== undefined);
}
