// worker/lifecycle/retention-rules.ts and retention-scan.ts's decideFamily: what a retention
// policy keeps, with Harbor's meanings, judged without D1.
import { describe, expect, it } from "vitest";
import { type Artifact, judgeRepository, parseRules, repositorySelected, type RetentionRule } from "../../worker/lifecycle/retention-rules";
import { decideFamily } from "../../worker/lifecycle/retention-scan";
import type { FamilyMember } from "../../worker/storage/db/queries/retention-artifacts";
import { expectRegistryError } from "../helpers/registry";

const DAY = 86_400_000;
const NOW = 1_800_000_000_000;
const ALL = { include: ["**"], exclude: [] };

function rule(template: RetentionRule["template"], n: number | null, fields: Partial<RetentionRule> = {}): RetentionRule {
  return { template, n, repositories: ALL, tags: ALL, untagged: true, ...fields };
}

/** An artifact pushed `age` days ago (and pulled `pulled` days ago, if given). */
function artifact(digest: string, tags: string[], age: number, pulled: number | null = null): Artifact {
  return { digest, tags, pushedAt: NOW - age * DAY, lastPulledAt: pulled === null ? null : NOW - pulled * DAY };
}

function kept(rules: RetentionRule[], artifacts: Artifact[], repository = "team/app"): string[] {
  return judgeRepository(rules, repository, artifacts, NOW)
    .kept.map((a) => a.digest)
    .sort();
}

const images = [artifact("sha256:a", ["v1"], 5, 1), artifact("sha256:b", ["v2"], 4, null), artifact("sha256:c", ["v3"], 3, 10), artifact("sha256:d", ["latest"], 1, 2)];

describe("the templates", () => {
  it("latestPushed keeps the n most recently pushed", () => {
    expect(kept([rule("latestPushed", 2)], images)).toEqual(["sha256:c", "sha256:d"]);
  });

  it("latestPulled keeps the n most recently pulled, never pulled counting as oldest", () => {
    expect(kept([rule("latestPulled", 2)], images)).toEqual(["sha256:a", "sha256:d"]);
    expect(kept([rule("latestPulled", 4)], images)).toEqual(["sha256:a", "sha256:b", "sha256:c", "sha256:d"]);
  });

  it("daysSinceLastPush keeps those pushed within n days", () => {
    expect(kept([rule("daysSinceLastPush", 3)], images)).toEqual(["sha256:c", "sha256:d"]);
  });

  it("daysSinceLastPull keeps those pulled within n days, never those never pulled", () => {
    expect(kept([rule("daysSinceLastPull", 5)], images)).toEqual(["sha256:a", "sha256:d"]);
  });

  it("always keeps everything the rule sees", () => {
    expect(kept([rule("always", null, { tags: { include: ["v*"], exclude: [] } })], images)).toEqual(["sha256:a", "sha256:b", "sha256:c"]);
  });

  it("breaks equal push times by digest, and equal pull times too", () => {
    const same = [artifact("sha256:b2", [], 1, 1), artifact("sha256:a1", [], 1, 1), artifact("sha256:c3", [], 1, 1)];
    expect(kept([rule("latestPushed", 1)], same)).toEqual(["sha256:a1"]);
    expect(kept([rule("latestPulled", 2)], same)).toEqual(["sha256:a1", "sha256:b2"]);
  });
});

describe("what a rule sees", () => {
  it("selects tags by include and exclude patterns", () => {
    const tags = { include: ["v*", "latest"], exclude: ["v2"] };
    expect(kept([rule("always", null, { tags })], images)).toEqual(["sha256:a", "sha256:c", "sha256:d"]);
  });

  it("sees an artifact when any one of its tags is selected", () => {
    const both = [artifact("sha256:x", ["dev-1", "v9"], 30), artifact("sha256:y", ["dev-2"], 30)];
    expect(kept([rule("always", null, { tags: { include: ["v*"], exclude: [] } })], both)).toEqual(["sha256:x"]);
  });

  it("sees untagged artifacts only with untagged: true", () => {
    const mixed = [artifact("sha256:t", ["v1"], 9), artifact("sha256:u", [], 1)];
    expect(kept([rule("latestPushed", 1, { untagged: true })], mixed)).toEqual(["sha256:u"]);
    expect(kept([rule("latestPushed", 1, { untagged: false })], mixed)).toEqual(["sha256:t"]);
  });

  it("counts only what it sees: latestPushed 1 of the v* tags keeps the newest of those", () => {
    expect(kept([rule("latestPushed", 1, { tags: { include: ["v*"], exclude: [] } })], images)).toEqual(["sha256:c"]);
  });

  it("selects repositories by their name inside the project, with include and exclude", () => {
    const repositories = { include: ["app/**"], exclude: ["app/legacy"] };
    const rules = [rule("latestPushed", 1, { repositories })];
    expect(repositorySelected(rules, "team/app/api")).toBe(true);
    expect(repositorySelected(rules, "team/app/legacy")).toBe(false);
    expect(repositorySelected(rules, "team/web")).toBe(false);
    expect(repositorySelected(rules, "app/x")).toBe(false);
  });
});

describe("judging a repository", () => {
  it("keeps an artifact any rule keeps, and removes the rest", () => {
    const rules = [rule("latestPushed", 1), rule("daysSinceLastPull", 3)];
    const verdict = judgeRepository(rules, "team/app", images, NOW);
    expect(verdict.kept.map((a) => a.digest).sort()).toEqual(["sha256:a", "sha256:d"]);
    expect(verdict.removed.map((a) => a.digest).sort()).toEqual(["sha256:b", "sha256:c"]);
  });

  it("leaves a repository no rule selects alone", () => {
    const rules = [rule("latestPushed", 1, { repositories: { include: ["web"], exclude: [] } })];
    expect(judgeRepository(rules, "team/app", images, NOW).removed).toEqual([]);
  });

  it("counts per repository: latestPushed 1 keeps one in each", () => {
    const rules = [rule("latestPushed", 1)];
    expect(kept(rules, images, "team/app")).toEqual(["sha256:d"]);
    expect(kept(rules, images.slice(0, 2), "team/other")).toEqual(["sha256:b"]);
  });

  it("applies a rule only to the repositories it selects", () => {
    const rules = [rule("always", null, { repositories: { include: ["web"], exclude: [] } }), rule("latestPushed", 1, { repositories: { include: ["app"], exclude: [] } })];
    expect(kept(rules, images, "team/app")).toEqual(["sha256:d"]);
    expect(kept(rules, images, "team/web")).toEqual(["sha256:a", "sha256:b", "sha256:c", "sha256:d"]);
  });

  it("never removes an artifact carrying an immutable tag", () => {
    const verdict = judgeRepository([rule("latestPushed", 1)], "team/app", images, NOW, (a) => a.tags.includes("v1"));
    expect(verdict.removed.map((a) => a.digest).sort()).toEqual(["sha256:b", "sha256:c"]);
  });

  it("removes everything outside every rule's view in a selected repository", () => {
    expect(kept([rule("always", null, { tags: { include: ["nothing"], exclude: [] }, untagged: false })], images)).toEqual([]);
  });
});

function member(digest: string, depth: number, relation: FamilyMember["relation"], fields: Partial<FamilyMember> = {}): FamilyMember {
  return { digest, depth, relation, subject: null, parents: [], tags: [], pushedAt: NOW, lastPulledAt: null, ...fields };
}

describe("an artifact's family", () => {
  const decided = (members: FamilyMember[], gone: string[]) => decideFamily(members, new Set(gone), (m) => m.tags.includes("keep")).map((m) => m.digest);

  it("goes with it: untagged children no kept manifest lists, referrers, and theirs", () => {
    const members = [member("c1", 1, "child", { parents: ["idx"] }), member("sig", 2, "referrer", { subject: "c1" }), member("sbom", 1, "referrer", { subject: "idx" })];
    expect(decided(members, ["idx"]).sort()).toEqual(["c1", "sbom", "sig"]);
  });

  it("keeps a child that carries a tag, or that a kept index also lists", () => {
    const members = [member("tagged", 1, "child", { parents: ["idx"], tags: ["arm"] }), member("shared", 1, "child", { parents: ["idx", "kept-idx"] })];
    expect(decided(members, ["idx"])).toEqual([]);
  });

  it("keeps a referrer carrying an immutable tag, and what follows a kept member", () => {
    const members = [member("sig", 1, "referrer", { subject: "img", tags: ["keep"] }), member("sig-sig", 2, "referrer", { subject: "sig" })];
    expect(decided(members, ["img"])).toEqual([]);
  });

  it("decides a member reached on two paths once, at its deepest level", () => {
    const members = [member("c", 1, "child", { parents: ["idx", "c0"] }), member("c0", 1, "child", { parents: ["idx"] }), member("c", 2, "child", { parents: ["idx", "c0"] })];
    expect(decided(members, ["idx"])).toEqual(["c0", "c"]);
  });
});

describe("parsing rules", () => {
  it("fills in the defaults: no excludes, untagged true", () => {
    expect(parseRules([{ template: "latestPushed", n: 3, repositories: { include: ["**"] }, tags: { include: ["v*"] } }])).toEqual([
      { template: "latestPushed", n: 3, repositories: { include: ["**"], exclude: [] }, tags: { include: ["v*"], exclude: [] }, untagged: true },
    ]);
  });

  it("takes no n for always", () => {
    expect(parseRules([{ template: "always", repositories: ALL, tags: ALL, untagged: false }])[0]).toMatchObject({ n: null, untagged: false });
    expectRegistryError(() => parseRules([{ template: "always", n: 2, repositories: ALL, tags: ALL }]), "INVALID_REQUEST", 400);
  });

  for (const [what, rules] of [
    ["not a list", { template: "always" }],
    ["more than 15 rules", Array.from({ length: 16 }, () => ({ template: "always", repositories: ALL, tags: ALL }))],
    ["an unknown template", [{ template: "newest", n: 1, repositories: ALL, tags: ALL }]],
    ["a missing n", [{ template: "latestPushed", repositories: ALL, tags: ALL }]],
    ["n of 0", [{ template: "latestPushed", n: 0, repositories: ALL, tags: ALL }]],
    ["a fractional n", [{ template: "daysSinceLastPush", n: 1.5, repositories: ALL, tags: ALL }]],
    ["a missing selector", [{ template: "always", tags: ALL }]],
    ["an empty include", [{ template: "always", repositories: { include: [] }, tags: ALL }]],
    ["a pattern that is not one", [{ template: "always", repositories: { include: ["{a,b"] }, tags: ALL }]],
    ["an unknown field", [{ template: "always", repositories: ALL, tags: ALL, tag: ALL }]],
    ["a non-boolean untagged", [{ template: "always", repositories: ALL, tags: ALL, untagged: "yes" }]],
  ] as const) {
    it(`refuses ${what}`, () => {
      expectRegistryError(() => parseRules(rules), "INVALID_REQUEST", 400);
    });
  }
});
