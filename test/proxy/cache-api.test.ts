// The cache's management API: statistics (GET /api/v1/cache/stats) and pre-warming
// (POST /api/v1/cache/prefetch, run by the JOBS queue consumer), plus tag listing through
// the proxy.
import { createExecutionContext, createMessageBatch, env, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index";
import type { JobMessage } from "../../worker/jobs/messages";
import { flushCacheStats, type UpstreamStats } from "../../worker/proxy/cache-stats";
import { seedImage, seedIndex, setBehaviour, uniqueRepo, upstreamLog } from "../helpers/fake-upstream";
import { bodyBytes, errorCode, request } from "../helpers/registry";

async function statsOf(upstream: string): Promise<{ totals: UpstreamStats; artifacts: { repository: string; digest: string; pullCount: number }[] }> {
  const response = await request("/api/v1/cache/stats");
  expect(response.status).toBe(200);
  const body = (await response.json()) as { upstreams: UpstreamStats[]; artifacts: { upstream: string; repository: string; digest: string; pullCount: number }[] };
  return { totals: body.upstreams.find((entry) => entry.upstream === upstream)!, artifacts: body.artifacts.filter((entry) => entry.upstream === upstream) };
}

describe("GET /api/v1/cache/stats", () => {
  it("lists every configured upstream, with zeros before it served anything", async () => {
    const response = await request("/api/v1/cache/stats");
    const body = (await response.json()) as { upstreams: { upstream: string }[] };
    expect(body.upstreams.map((entry) => entry.upstream)).toEqual(expect.arrayContaining(["fake", "private", "basic", "hub", "fresh", "slow"]));
  });

  it("counts a miss, a hit, the bytes each moved, and the artifact's pulls", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "1.0");
    const before = (await statsOf("fake")).totals;
    await bodyBytes(await request(`/v2/fake/${repo}/manifests/1.0`));
    await bodyBytes(await request(`/v2/fake/${repo}/manifests/1.0`));
    const after = await statsOf("fake");
    const size = image.manifestBytes.byteLength;
    expect(after.totals.misses - before.misses).toBe(1);
    expect(after.totals.hits - before.hits).toBe(1);
    expect(after.totals.bytesServed - before.bytesServed).toBe(2 * size);
    expect(after.totals.bytesFetched - before.bytesFetched).toBe(size);
    const artifact = after.artifacts.find((entry) => entry.repository === repo);
    expect(artifact).toMatchObject({ digest: image.manifestDigest, pullCount: 2 });
  });

  it("counts upstream errors and stale serves", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "1.0");
    await request(`/v2/fresh/${repo}/manifests/1.0`);
    const before = (await statsOf("fresh")).totals;
    await setBehaviour(repo, { status: 503 });
    await request(`/v2/fresh/${repo}/manifests/1.0`);
    const after = (await statsOf("fresh")).totals;
    expect(after.upstreamErrors - before.upstreamErrors).toBe(1);
    expect(after.staleServes - before.staleServes).toBe(1);
  });
});

describe("cache statistics", () => {
  it("reach D1 about a second after a pull, without anyone reading them", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "1.0");
    await flushCacheStats(env); // nothing pending: the pull below schedules the next write
    const ctx = createExecutionContext();
    const response = await worker.fetch(new Request(`http://registry.test/v2/fake/${repo}/manifests/1.0`), env, ctx);
    await response.arrayBuffer();
    await waitOnExecutionContext(ctx);
    const rows = await env.DB.prepare("SELECT pull_count FROM cached_artifacts WHERE repository = ? AND digest = ?").bind(repo, image.manifestDigest).all();
    expect(rows.results).toEqual([{ pull_count: 1 }]);
  });
});

describe("POST /api/v1/cache/prefetch", () => {
  async function prefetch(body: unknown): Promise<Response> {
    return request("/api/v1/cache/prefetch", { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
  }

  /** Runs the queue consumer on the job's message, as the JOBS queue would deliver it. */
  async function runJob(jobId: string): Promise<void> {
    const batch = createMessageBatch<JobMessage>("pier-jobs", [{ id: jobId, timestamp: new Date(), attempts: 1, body: { kind: "prefetch", jobId } }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    await waitOnExecutionContext(ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual([jobId]);
  }

  async function job(id: string): Promise<{ status: string; progress: { blobsDone: number; blobsTotal: number; manifests: number }; error: string | null }> {
    return (await request(`/api/v1/cache/prefetch/${id}`)).json();
  }

  it("queues a job, and the consumer warms every blob of the image", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "1.0");
    const response = await prefetch({ upstream: "fake", repository: repo, reference: "1.0" });
    expect(response.status).toBe(202);
    const { id, status } = (await response.json()) as { id: string; status: string };
    expect(status).toBe("queued");
    await runJob(id);
    expect(await job(id)).toMatchObject({ status: "done", progress: { manifests: 1, blobsTotal: 2, blobsDone: 2 } });
    const blob = await request(`/v2/fake/${repo}/blobs/${image.layers[0]!.digest}`);
    expect(blob.headers.get("X-Pier-Cache")).toBe("hit");
    await bodyBytes(blob);
  });

  it("warms one platform of an index when asked to", async () => {
    const repo = uniqueRepo();
    const index = await seedIndex(repo, "multi", [
      { os: "linux", architecture: "amd64" },
      { os: "linux", architecture: "arm64" },
    ]);
    const { id } = (await (await prefetch({ upstream: "fake", repository: repo, reference: "multi", platform: "linux/arm64" })).json()) as { id: string };
    await runJob(id);
    expect(await job(id)).toMatchObject({ status: "done", progress: { manifests: 1 } });
    const amd64 = index.children[0]!.image.manifestDigest;
    const fetched = (await upstreamLog(repo)).filter((entry) => entry.path.includes(amd64));
    expect(fetched).toEqual([]);
  });

  it("records why a job failed", async () => {
    const repo = uniqueRepo();
    const { id } = (await (await prefetch({ upstream: "fake", repository: repo, reference: "missing" })).json()) as { id: string };
    await runJob(id);
    const failed = await job(id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/missing/);
  });

  it.each([
    [{ upstream: "nope", repository: "a/b", reference: "1" }, 404, "NAME_UNKNOWN"],
    [{ upstream: "fake", repository: "A/B", reference: "1" }, 400, "NAME_INVALID"],
    [{ upstream: "fake", repository: "a/b", reference: "-bad" }, 400, "TAG_INVALID"],
    [{ upstream: "fake", repository: "a/b", reference: "1", platform: "linux" }, 400, "INVALID_REQUEST"],
    [{ upstream: "hub", repository: "other/b", reference: "1" }, 404, "NAME_UNKNOWN"],
    [{ repository: "a/b" }, 400, "INVALID_REQUEST"],
    ["not an object", 400, "INVALID_REQUEST"],
  ])("refuses %j with %i %s", async (body, status, code) => {
    const response = await prefetch(body);
    expect(response.status).toBe(status);
    expect(await errorCode(response)).toBe(code);
  });

  it("answers 404 for a job id it does not know", async () => {
    expect((await request("/api/v1/cache/prefetch/no-such-job")).status).toBe(404);
  });
});

describe("tags listed through the proxy", () => {
  it("come from upstream, with Pier's own Link for the next page", async () => {
    const repo = uniqueRepo();
    for (const tag of ["a", "b", "c"]) await seedImage(repo, tag);
    const response = await request(`/v2/fake/${repo}/tags/list?n=2`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ name: `fake/${repo}`, tags: ["a", "b"] });
    expect(response.headers.get("Link")).toBe(`</v2/fake/${repo}/tags/list?n=2&last=b>; rel="next"`);
  });

  it("fall back to the tags Pier has resolved when upstream fails", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "1.0");
    await seedImage(repo, "2.0");
    await request(`/v2/fake/${repo}/manifests/2.0`);
    await setBehaviour(repo, { status: 503 });
    const response = await request(`/v2/fake/${repo}/tags/list`);
    expect(response.headers.get("X-Pier-Cache")).toBe("stale");
    expect(await response.json()).toEqual({ name: `fake/${repo}`, tags: ["2.0"] });
  });

  it("answer NAME_UNKNOWN when upstream does not know the repository", async () => {
    const response = await request(`/v2/fake/${uniqueRepo()}/tags/list`);
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("NAME_UNKNOWN");
  });
});
