// What pulls see after cache eviction (worker/lifecycle/cache-eviction.ts): an evicted blob or
// manifest is fetched from upstream again (a miss, never a 500), also when an isolate still
// remembers an evicted manifest or a lookup was revalidating it meanwhile; and bytes a local
// repository also links survive eviction and the collection after it.
import { createExecutionContext, env } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import worker from "../../worker/index";
import { recallManifest } from "../../worker/proxy/manifest-memo";
import { cachedDigests, cachedImage, cacheRows, DAY, evict, flushPulls, lastPulled, upstream } from "../helpers/cache-eviction";
import { random, seedBlob, seedImage, setBehaviour, uniqueRepo, upstreamLog } from "../helpers/fake-upstream";
import { collect, objectKeyOf } from "../helpers/gc";
import { blobRequests, proxiedBlob } from "../helpers/proxy-blobs";
import {
  ADMIN,
  bodyBytes,
  expectSameBytes,
  imageManifest,
  jsonBytes,
  OCI_CONFIG,
  pushBlob,
  pushManifest,
  request,
  signedIn,
  uniqueRepo as uniqueLocalRepo,
} from "../helpers/registry";

// Tests age rows of their own; none stays idle for the next test's eviction to find.
afterEach(async () => {
  await flushPulls();
  await env.DB.prepare("UPDATE cached_artifacts SET last_pulled_at = ?").bind(Date.now()).run();
});

/** Ages the repository's cached artifacts past the default 30 idle days and evicts them. */
async function evictRepo(upstreamName: string, repo: string): Promise<void> {
  await lastPulled(upstreamName, repo, Date.now() - 31 * DAY);
  await evict([upstream(upstreamName)]);
  expect(await cachedDigests(upstreamName, repo)).toEqual([]);
}

describe("an evicted blob", () => {
  it("once collected, is fetched from upstream again: a miss, not an error", async () => {
    const { repo, image } = await cachedImage("fake");
    const layer = image.layers[0]!;
    const key = await objectKeyOf(layer.digest);
    await evictRepo("fake", repo);
    await collect();
    expect(await env.BLOBS.head(key!)).toBeNull();
    const response = await proxiedBlob("fake", repo, layer.digest);
    expect(response.status).toBe(200);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expectSameBytes(await bodyBytes(response), layer.bytes);
    expect(await blobRequests(repo, layer.digest, "GET")).toHaveLength(2);
  });

  it("still stored (not yet collected), is linked again after an upstream HEAD, without fetching it", async () => {
    const { repo, image } = await cachedImage("fake");
    const layer = image.layers[0]!;
    await evictRepo("fake", repo);
    const response = await proxiedBlob("fake", repo, layer.digest);
    expect(response.status).toBe(200);
    expectSameBytes(await bodyBytes(response), layer.bytes);
    expect(await blobRequests(repo, layer.digest, "GET")).toHaveLength(1);
    expect(await blobRequests(repo, layer.digest, "HEAD")).toHaveLength(1);
    expect(await cacheRows("repository_blobs", `fake/${repo}`)).toBe(1);
  });
});

describe("an evicted manifest", () => {
  it("is fetched from upstream again, its tag asked again", async () => {
    // "fresh" revalidates tags on every pull, so no isolate serves the tag from memory.
    const { repo, image } = await cachedImage("fresh");
    await evictRepo("fresh", repo);
    const response = await request(`/v2/fresh/${repo}/manifests/1.0`);
    expect(response.status).toBe(200);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expectSameBytes(await bodyBytes(response), image.manifestBytes);
    const gets = (await upstreamLog(repo)).filter((entry) => entry.method === "GET" && entry.path === `/v2/${repo}/manifests/1.0`);
    expect(gets).toHaveLength(2);
  });

  it("is fetched again when upstream confirmed the copy that eviction removed meanwhile", async () => {
    const { repo, image } = await cachedImage("fresh");
    const manifestPath = `/v2/${repo}/manifests/1.0`;
    // The revalidating HEAD is held at upstream long enough for the eviction to land first.
    await setBehaviour(repo, { delayMs: 800 });
    const pending = request(`/v2/fresh/${repo}/manifests/1.0`);
    const deadline = Date.now() + 5_000;
    while (!(await upstreamLog(repo)).some((entry) => entry.method === "HEAD" && entry.path === manifestPath)) {
      expect(Date.now(), "the revalidating HEAD never reached upstream").toBeLessThan(deadline);
      await scheduler.wait(10);
    }
    await evictRepo("fresh", repo);
    const response = await pending;
    expect(response.status).toBe(200);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expectSameBytes(await bodyBytes(response), image.manifestBytes);
    expect(await cacheRows("manifests", `fresh/${repo}`)).toBe(1);
  });

  it("still in an isolate's memory is served from there, and its blobs are fetched again", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "1.0");
    // Through the Worker with this test's bindings, whose memo (keyed by them) the test can read.
    const pull = (path: string) => worker.fetch(new Request(`http://registry.test${path}`, signedIn({}, ADMIN)), env, createExecutionContext());
    await bodyBytes(await pull(`/v2/fake/${repo}/manifests/1.0`));
    for (const blob of [image.config, ...image.layers]) await bodyBytes(await pull(`/v2/fake/${repo}/blobs/${blob.digest}`));
    await evictRepo("fake", repo);
    await collect();
    expect(recallManifest(env.DB, `fake/${repo}`, "1.0", Date.now())).not.toBeNull();

    const manifest = await pull(`/v2/fake/${repo}/manifests/1.0`);
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get("X-Pier-Cache")).toBe("hit");
    expectSameBytes(await bodyBytes(manifest), image.manifestBytes);
    for (const blob of [image.config, ...image.layers]) {
      const response = await pull(`/v2/fake/${repo}/blobs/${blob.digest}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("X-Pier-Cache")).toBe("miss");
      expectSameBytes(await bodyBytes(response), blob.bytes);
    }
  });
});

describe("a blob a local image also has", () => {
  it("keeps its bytes through eviction and collection, and the local repository still serves it", async () => {
    const repo = uniqueRepo();
    const bytes = random(4096);
    const digest = await seedBlob(repo, bytes);
    // Tagged, so that collection keeps the local link (an unreferenced one it would take).
    const local = uniqueLocalRepo("local");
    const config = await pushBlob(local, jsonBytes({ architecture: "amd64", os: "linux" }), OCI_CONFIG);
    await pushManifest(local, "v1", imageManifest(config, [await pushBlob(local, bytes)]));
    await bodyBytes(await proxiedBlob("fake", repo, digest));
    await flushPulls();
    expect(await cachedDigests("fake", repo)).toEqual([digest]);
    const key = await objectKeyOf(digest);

    await evictRepo("fake", repo);
    await collect();

    expect(await cacheRows("repository_blobs", `fake/${repo}`)).toBe(0);
    expect(await env.BLOBS.head(key!)).not.toBeNull();
    const response = await request(`/v2/${local}/blobs/${digest}`);
    expect(response.status).toBe(200);
    expectSameBytes(await bodyBytes(response), bytes);
  });
});
