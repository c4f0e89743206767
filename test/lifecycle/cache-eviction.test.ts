// Pull-through cache eviction (worker/lifecycle/cache-eviction.ts): what goes for being idle or
// for the upstream being over its maxBytes, in which order, in bounded pages, what the
// statistics count, and the scheduled job. What pulls see afterwards is in
// cache-eviction-pulls.test.ts.
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { cacheEvictionJob } from "../../worker/lifecycle/cache-eviction";
import { DEFAULT_SCHEDULES, jobFor, type JobRun } from "../../worker/lifecycle/scheduled-jobs";
import { runDueSchedules } from "../../worker/lifecycle/scheduler";
import { database } from "../../worker/storage/db/client";
import { evictArtifacts, idleArtifacts } from "../../worker/storage/db/queries/cache-eviction";
import { putSchedule } from "../../worker/storage/db/queries/schedules";
import { cachedDigests, cachedImage, cacheRows, DAY, evict, flushPulls, lastPulled, upstream } from "../helpers/cache-eviction";
import { finishGc, objectKeyOf } from "../helpers/gc";
import { unique } from "../helpers/identities";
import { apiJson } from "../helpers/management";

const MINUTE = 60_000;
const db = database(env.DB);

// Tests age rows of their own; none stays idle for the next test's eviction to find.
afterEach(async () => {
  await flushPulls();
  await env.DB.prepare("UPDATE cached_artifacts SET last_pulled_at = ?").bind(Date.now()).run();
});

const digest = (char: string) => `sha256:${char.repeat(64)}`;

/** A cached_artifacts row only (no cached content), for an upstream name of the test's own. */
async function artifact(upstreamName: string, fields: { digest: string; size: number; lastPulledAt: number; cachedAt?: number; repository?: string }): Promise<void> {
  const { repository = "order/app", cachedAt = fields.lastPulledAt } = fields;
  await env.DB.prepare("INSERT INTO cached_artifacts (upstream, repository, digest, kind, size, pull_count, last_pulled_at, cached_at) VALUES (?, ?, ?, 'blob', ?, 1, ?, ?)")
    .bind(upstreamName, repository, fields.digest, fields.size, fields.lastPulledAt, cachedAt)
    .run();
}

async function digestsLeft(upstreamName: string): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT digest FROM cached_artifacts WHERE upstream = ? ORDER BY digest").bind(upstreamName).all<{ digest: string }>();
  return results.map((row) => row.digest);
}

describe("idle eviction", () => {
  it("evicts what was not pulled for maxIdleDays, from every table of its cache name, and keeps what was", async () => {
    const old = await cachedImage("fake");
    const recent = await cachedImage("fake");
    await lastPulled("fake", old.repo, Date.now() - 31 * DAY);
    await lastPulled("fake", recent.repo, Date.now() - 29 * DAY);
    const { upstreams } = await evict([upstream("fake")]);
    expect(upstreams).toEqual([{ upstream: "fake", idle: { artifacts: 3, bytes: old.bytes }, overflow: { artifacts: 0, bytes: 0 } }]);
    expect(await cachedDigests("fake", old.repo)).toEqual([]);
    for (const table of ["repository_blobs", "manifests", "manifest_references", "cache_references"] as const) {
      expect(await cacheRows(table, `fake/${old.repo}`), table).toBe(0);
    }
    expect(await cachedDigests("fake", recent.repo)).toHaveLength(3);
    expect(await cacheRows("repository_blobs", `fake/${recent.repo}`)).toBe(2);
    expect(await cacheRows("manifests", `fake/${recent.repo}`)).toBe(1);
    expect(await cacheRows("manifest_references", `fake/${recent.repo}`)).toBe(2);
    expect(await cacheRows("cache_references", `fake/${recent.repo}`)).toBe(1);
  });

  it("follows the upstream's own maxIdleDays", async () => {
    const { repo } = await cachedImage("fake");
    await lastPulled("fake", repo, Date.now() - 3 * DAY);
    expect((await evict([upstream("fake", { maxIdleDays: 4 })])).upstreams[0]!.idle.artifacts).toBe(0);
    expect((await evict([upstream("fake", { maxIdleDays: 2 })])).upstreams[0]!.idle.artifacts).toBe(3);
    expect(await cachedDigests("fake", repo)).toEqual([]);
  });

  it("leaves an artifact pulled after it was chosen", async () => {
    const name = unique("guard");
    await artifact(name, { digest: digest("a"), size: 10, lastPulledAt: Date.now() - 40 * DAY });
    const chosen = await idleArtifacts(db, name, Date.now() - 30 * DAY, 10);
    expect(chosen.map((row) => row.digest)).toEqual([digest("a")]);
    await env.DB.prepare("UPDATE cached_artifacts SET last_pulled_at = ? WHERE upstream = ?").bind(Date.now(), name).run();
    expect(await evictArtifacts(db, name, chosen)).toEqual({ artifacts: 0, bytes: 0 });
    expect(await digestsLeft(name)).toEqual([digest("a")]);
  });
});

describe("the size bound", () => {
  it("evicts the least recently pulled first (ties: the oldest cached, then by digest) until the upstream fits", async () => {
    const name = unique("order");
    const base = Date.now() - DAY;
    await artifact(name, { digest: digest("5"), size: 300, lastPulledAt: base + 1, cachedAt: base });
    await artifact(name, { digest: digest("9"), size: 200, lastPulledAt: base + 2, cachedAt: base - 2 });
    await artifact(name, { digest: digest("1"), size: 200, lastPulledAt: base + 2, cachedAt: base - 1 });
    await artifact(name, { digest: digest("2"), size: 100, lastPulledAt: base + 3, cachedAt: base });
    await artifact(name, { digest: digest("3"), size: 100, lastPulledAt: base + 3, cachedAt: base });
    await artifact(name, { digest: digest("0"), size: 100, lastPulledAt: base + 4, cachedAt: base });
    // 1,000 bytes stored, 250 allowed: 5, 9, 1 leave 300 stored, still too many; 2 makes it fit.
    const { upstreams } = await evict([upstream("fake", { name, maxBytes: 250 })]);
    expect(upstreams[0]!.overflow).toEqual({ artifacts: 4, bytes: 800 });
    expect(await digestsLeft(name)).toEqual([digest("0"), digest("3")]);
  });

  it("evicts nothing while the upstream fits, or has no maxBytes", async () => {
    const name = unique("fits");
    await artifact(name, { digest: digest("a"), size: 600, lastPulledAt: Date.now() });
    await artifact(name, { digest: digest("b"), size: 400, lastPulledAt: Date.now() });
    expect((await evict([upstream("fake", { name, maxBytes: 1000 })])).upstreams[0]!.overflow.artifacts).toBe(0);
    expect((await evict([upstream("fake", { name, maxBytes: null })])).upstreams[0]!.overflow.artifacts).toBe(0);
    expect(await digestsLeft(name)).toHaveLength(2);
  });

  it("evicts the idle first, then the least recently pulled", async () => {
    const name = unique("both");
    await artifact(name, { digest: digest("a"), size: 100, lastPulledAt: Date.now() - 31 * DAY });
    await artifact(name, { digest: digest("b"), size: 100, lastPulledAt: Date.now() - 2 * DAY });
    await artifact(name, { digest: digest("c"), size: 100, lastPulledAt: Date.now() - DAY });
    const { upstreams } = await evict([upstream("fake", { name, maxBytes: 100 })]);
    expect(upstreams[0]).toMatchObject({ idle: { artifacts: 1, bytes: 100 }, overflow: { artifacts: 1, bytes: 100 } });
    expect(await digestsLeft(name)).toEqual([digest("c")]);
  });
});

describe("bounded work", () => {
  it("evicts in pages within its query budget, says when it stopped, and the next run goes on", async () => {
    const name = unique("pages");
    for (const char of "abcde") await artifact(name, { digest: digest(char), size: 10, lastPulledAt: Date.now() - 31 * DAY });
    const idleUpstream = upstream("fake", { name });
    // Two pages of two (a read and a batch each) fill a budget of four queries.
    const first = await evict([idleUpstream], { pageSize: 2, maxQueries: 4 });
    expect(first).toMatchObject({ complete: false, upstreams: [{ idle: { artifacts: 4 } }] });
    const second = await evict([idleUpstream], { pageSize: 2, maxQueries: 4 });
    expect(second).toMatchObject({ complete: true, upstreams: [{ idle: { artifacts: 1 } }] });
    expect(await digestsLeft(name)).toEqual([]);
  });
});

describe("GET /api/v1/cache/stats", () => {
  type Stats = { upstream: string; bytesStored: number; bytesEvicted: number; artifactsEvicted: number; maxBytes: number | null; maxIdleDays: number; hits: number };

  async function statsOf(name: string): Promise<Stats> {
    await flushPulls();
    const { upstreams } = await apiJson<{ upstreams: Stats[] }>("/cache/stats");
    return upstreams.find((entry) => entry.upstream === name)!;
  }

  it("shows per upstream the bytes stored, the bytes and artifacts evicted, and its eviction settings", async () => {
    const { repo, bytes } = await cachedImage("fake");
    const before = await statsOf("fake");
    await lastPulled("fake", repo, Date.now() - 31 * DAY);
    await evict([upstream("fake")]);
    const after = await statsOf("fake");
    expect(after.bytesEvicted - before.bytesEvicted).toBe(bytes);
    expect(after.artifactsEvicted - before.artifactsEvicted).toBe(3);
    expect(before.bytesStored - after.bytesStored).toBe(bytes);
    expect(after).toMatchObject({ maxBytes: null, maxIdleDays: 30, hits: expect.any(Number) });
  });

  it("does not count as evicted an artifact the cache no longer held", async () => {
    const before = await statsOf("fake");
    await artifact("fake", { digest: digest("f"), size: 500, lastPulledAt: Date.now() - 31 * DAY, repository: `phantom/${unique("app")}` });
    expect((await evict([upstream("fake")])).upstreams[0]!.idle).toEqual({ artifacts: 1, bytes: 500 });
    expect(await statsOf("fake")).toMatchObject({ bytesEvicted: before.bytesEvicted, artifactsEvicted: before.artifactsEvicted });
  });
});

describe("the cache-eviction job", () => {
  function jobRun(): JobRun & { again: boolean } {
    const run = { name: "cache-eviction", waitUntil: (promise: Promise<unknown>) => void promise, again: false, runAgain: () => void (run.again = true) };
    return run;
  }

  it("is registered, and scheduled hourly by default", () => {
    expect(jobFor("cache-eviction")).toBe(cacheEvictionJob);
    expect(DEFAULT_SCHEDULES).toContainEqual({ name: "cache-eviction", cron: "hourly", options: {} });
  });

  it("runs through the scheduler and starts a collection, which frees the evicted bytes", async () => {
    const { repo, image } = await cachedImage("fake");
    const layer = image.layers[0]!.digest;
    const key = await objectKeyOf(layer);
    expect(key).not.toBeNull();
    await lastPulled("fake", repo, Date.now() - 31 * DAY);
    const now = Math.floor(Date.now() / MINUTE) * MINUTE;
    await putSchedule(db, { name: "cache-eviction", cron: "hourly", nextRunAt: now - MINUTE });
    const outcomes = await runDueSchedules(env, now, (promise) => void promise);
    const result = outcomes.find((outcome) => outcome.name === "cache-eviction")?.result ?? "";
    expect(result).toMatch(/^ok: evicted fake: 3 artifacts \(\d+ bytes\) idle, 0 artifacts \(0 bytes\) over maxBytes; started garbage collection \S+$/);
    const run = await finishGc(result.split(" ").at(-1)!);
    expect(run.status, run.error ?? "").toBe("succeeded");
    expect(await objectKeyOf(layer)).toBeNull();
    expect(await env.BLOBS.head(key!)).toBeNull();
  });

  it("says when there was nothing to evict, and starts no collection", async () => {
    const run = jobRun();
    expect(await cacheEvictionJob(env, {}, Date.now(), run)).toBe("nothing to evict");
    expect(run.again).toBe(false);
  });

  it("asks to run again when it stopped at its bound", async () => {
    const run = jobRun();
    // Two queries: one upstream's idle read, and no room for the next upstream's.
    expect(await cacheEvictionJob(env, { maxQueries: 2 }, Date.now(), run)).toContain("continuing in a minute");
    expect(run.again).toBe(true);
  });

  it("refuses options it does not know or cannot use", async () => {
    await expect(cacheEvictionJob(env, { maxQueries: 1 }, Date.now(), jobRun())).rejects.toThrow(/"maxQueries" must be a whole number from 2/);
    await expect(cacheEvictionJob(env, { pageSize: 5 }, Date.now(), jobRun())).rejects.toThrow(/unknown option "pageSize"/);
  });
});
