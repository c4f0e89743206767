// Pull statistics of local manifests (manifests.pull_count, last_pulled_at; worker/storage/
// pull-records.ts): a GET of a manifest, by tag or digest, is a pull of the digest served; a
// HEAD or a failed GET is not. Pulls are written in deferred batches; the tests flush them
// (flushPulls) instead of waiting the second the Worker waits.
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Digest } from "../../worker/oci/digest";
import type { RepoName } from "../../worker/oci/names";
import { flushPulls, MAX_PENDING_PULLS, recordPull } from "../../worker/storage/pull-records";
import { bodyBytes, pushImage, request, uniqueRepo } from "../helpers/registry";

interface PullRow {
  pull_count: number;
  last_pulled_at: number | null;
}

/** The manifest's pull statistics as D1 holds them, after this isolate's pending pulls are written. */
async function pullsOf(repository: string, digest: string): Promise<PullRow | null> {
  await flushPulls(env);
  return env.DB.prepare("SELECT pull_count, last_pulled_at FROM manifests WHERE repository = ? AND digest = ?").bind(repository, digest).first<PullRow>();
}

async function get(repository: string, reference: string, method = "GET"): Promise<Response> {
  const response = await request(`/v2/${repository}/manifests/${reference}`, { method });
  await bodyBytes(response);
  return response;
}

/** For recordPull called directly: the write it schedules a second later needs no request kept alive. */
const waitUntil = () => {};

afterEach(async () => {
  vi.restoreAllMocks();
  await flushPulls(env);
});

describe("pull statistics of local manifests", () => {
  it("start at zero pulls and no last pull when a manifest is pushed", async () => {
    const repository = uniqueRepo("pulls/fresh");
    const { digest } = await pushImage(repository, "v1");
    expect(await pullsOf(repository, digest)).toEqual({ pull_count: 0, last_pulled_at: null });
  });

  it("count a GET by tag against the digest served, with its time", async () => {
    const repository = uniqueRepo("pulls/tag");
    const { digest } = await pushImage(repository, "v1");
    const before = Date.now();
    expect((await get(repository, "v1")).status).toBe(200);
    const row = await pullsOf(repository, digest);
    expect(row?.pull_count).toBe(1);
    expect(row?.last_pulled_at).toBeGreaterThanOrEqual(before);
    expect(row?.last_pulled_at).toBeLessThanOrEqual(Date.now());
  });

  it("count a GET by digest", async () => {
    const repository = uniqueRepo("pulls/digest");
    const { digest } = await pushImage(repository, "v1");
    expect((await get(repository, digest)).status).toBe(200);
    expect((await pullsOf(repository, digest))?.pull_count).toBe(1);
  });

  it("do not count a HEAD", async () => {
    const repository = uniqueRepo("pulls/head");
    const { digest } = await pushImage(repository, "v1");
    expect((await get(repository, "v1", "HEAD")).status).toBe(200);
    expect((await get(repository, digest, "HEAD")).status).toBe(200);
    expect(await pullsOf(repository, digest)).toEqual({ pull_count: 0, last_pulled_at: null });
  });

  it("do not count a GET of an unknown manifest", async () => {
    const repository = uniqueRepo("pulls/unknown");
    const { digest } = await pushImage(repository, "v1");
    expect((await get(repository, "missing")).status).toBe(404);
    expect((await get(repository, digest.replace(/.$/, (last) => (last === "0" ? "1" : "0")))).status).toBe(404);
    expect(await pullsOf(repository, digest)).toEqual({ pull_count: 0, last_pulled_at: null });
  });

  it("add up every pull of a manifest, by tag and by digest, across writes", async () => {
    const repository = uniqueRepo("pulls/many");
    const { digest } = await pushImage(repository, "v1");
    for (let i = 0; i < 5; i++) await get(repository, i % 2 === 0 ? "v1" : digest);
    expect((await pullsOf(repository, digest))?.pull_count).toBe(5);
    const first = (await pullsOf(repository, digest))!.last_pulled_at!;
    await get(repository, "v1");
    const row = await pullsOf(repository, digest);
    expect(row?.pull_count).toBe(6);
    expect(row?.last_pulled_at).toBeGreaterThanOrEqual(first);
  });

  it("keep the pulls of each repository apart for the same digest", async () => {
    const first = uniqueRepo("pulls/apart");
    const second = uniqueRepo("pulls/apart");
    const { digest } = await pushImage(first, "v1");
    await pushImage(second, "v1");
    await get(first, "v1");
    await get(first, "v1");
    await get(second, digest);
    expect((await pullsOf(first, digest))?.pull_count).toBe(2);
    expect((await pullsOf(second, digest))?.pull_count).toBe(1);
  });
});

/**
 * The test environment with a D1 binding object of its own (so pulls recorded against it are
 * collected apart from the Worker's), whose batches pass `through` first.
 */
function envWithBatches(through: (statements: D1PreparedStatement[]) => Promise<void>): typeof env {
  const DB = new Proxy(env.DB, {
    get(target, key) {
      if (key === "batch") return async (statements: D1PreparedStatement[]) => (await through(statements), target.batch(statements));
      const value: unknown = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { ...env, DB };
}

/** Lets `n` rounds of already-settled promise callbacks run. */
async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe("recording pulls", () => {
  it("writes many pulls of one manifest within a second as one statement", async () => {
    const repository = uniqueRepo("pulls/burst");
    const { digest } = await pushImage(repository, "v1");
    const batches: number[] = [];
    const counted = envWithBatches(async (statements) => void batches.push(statements.length));
    for (let i = 0; i < 50; i++) recordPull(counted, waitUntil, repository as RepoName, digest as Digest);
    await flushPulls(counted);
    expect(batches).toEqual([1]);
    expect(await pullsOf(repository, digest)).toMatchObject({ pull_count: 50 });
  });

  it("has a flush wait for a write already under way, so a reader sees what it held", async () => {
    const repository = uniqueRepo("pulls/under-way");
    const { digest } = await pushImage(repository, "v1");
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const gated = envWithBatches(() => gate);
    recordPull(gated, waitUntil, repository as RepoName, digest as Digest);
    const first = flushPulls(gated); // as the timer does: takes the pulls, then writes them
    const second = flushPulls(gated).then(() => "flushed");
    expect(await Promise.race([second, ticks(20).then(() => "waiting")])).toBe("waiting");
    release();
    await Promise.all([first, second]);
    expect(await env.DB.prepare("SELECT pull_count FROM manifests WHERE repository = ? AND digest = ?").bind(repository, digest).first()).toEqual({ pull_count: 1 });
  });

  it("never moves last_pulled_at back", async () => {
    const repository = uniqueRepo("pulls/order");
    const { digest } = await pushImage(repository, "v1");
    await get(repository, "v1");
    const latest = (await pullsOf(repository, digest))!.last_pulled_at!;
    vi.spyOn(Date, "now").mockReturnValue(latest - 60_000);
    recordPull(env, waitUntil, repository as RepoName, digest as Digest);
    expect(await pullsOf(repository, digest)).toEqual({ pull_count: 2, last_pulled_at: latest });
  });

  it(`collects at most ${MAX_PENDING_PULLS} distinct manifests between writes, and says so once`, async () => {
    const repository = uniqueRepo("pulls/bound");
    const { digest } = await pushImage(repository, "v1");
    const late = uniqueRepo("pulls/bound");
    const { digest: lateDigest } = await pushImage(late, "v1");
    await flushPulls(env);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    recordPull(env, waitUntil, repository as RepoName, digest as Digest);
    // Digests no manifest has: they fill the collection, and their updates match no row.
    for (let i = 1; i < MAX_PENDING_PULLS; i++) recordPull(env, waitUntil, repository as RepoName, `sha256:${i.toString(16).padStart(64, "0")}` as Digest);
    recordPull(env, waitUntil, late as RepoName, lateDigest as Digest);
    recordPull(env, waitUntil, late as RepoName, lateDigest as Digest);
    // A manifest already collected keeps counting when the collection is full.
    recordPull(env, waitUntil, repository as RepoName, digest as Digest);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(await pullsOf(repository, digest)).toMatchObject({ pull_count: 2 });
    expect(await pullsOf(late, lateDigest)).toEqual({ pull_count: 0, last_pulled_at: null });
    // The next collection starts empty.
    recordPull(env, waitUntil, late as RepoName, lateDigest as Digest);
    expect(await pullsOf(late, lateDigest)).toMatchObject({ pull_count: 1 });
  });
});
