// Blobs through the pull-through cache, as clients see them: HEAD and range requests, redirects
// to a CDN, upstream errors when nothing is cached, blobs Pier stores for another repository,
// and the prefetch entry point.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { configFrom } from "../../worker/config";
import type { Digest } from "../../worker/oci/digest";
import { ensureProxiedBlob } from "../../worker/proxy/blob-cache";
import { proxyTarget } from "../../worker/proxy/routing";
import { random, seedBlob, setBehaviour, uniqueRepo, upstreamLog } from "../helpers/fake-upstream";
import { blobRequests, proxiedBlob, seededBlob } from "../helpers/proxy-blobs";
import { bodyBytes, errorCode, expectSameBytes, pushBlob } from "../helpers/registry";

describe("HEAD of a proxied blob", () => {
  it("on a miss answers the upstream's size from a HEAD, without fetching the blob", async () => {
    const { repo, bytes, digest } = await seededBlob(10_000);
    const response = await proxiedBlob("fake", repo, digest, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Length")).toBe("10000");
    expect(response.headers.get("Docker-Content-Digest")).toBe(digest);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expect(await blobRequests(repo, digest, "HEAD")).toHaveLength(1);
    expect(await blobRequests(repo, digest, "GET")).toHaveLength(0);
  });

  it("on a hit answers from the cache, asking upstream nothing", async () => {
    const repo = uniqueRepo();
    const digest = await seedBlob(repo, random(10_000));
    await bodyBytes(await proxiedBlob("fake", repo, digest));
    const before = (await upstreamLog(repo)).length;
    const response = await proxiedBlob("fake", repo, digest, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Length")).toBe("10000");
    expect(response.headers.get("X-Pier-Cache")).toBe("hit");
    expect(await upstreamLog(repo)).toHaveLength(before);
  });

  it("of a blob upstream does not have answers 404 BLOB_UNKNOWN", async () => {
    const repo = uniqueRepo();
    await seedBlob(repo, random(10));
    const response = await proxiedBlob("fake", repo, `sha256:${"0".repeat(64)}`, { method: "HEAD" });
    expect(response.status).toBe(404);
  });
});

describe("range requests on proxied blobs", () => {
  it("on a cached blob answer 206 with the range, from the cache", async () => {
    const { repo, bytes, digest } = await seededBlob(50_000);
    await bodyBytes(await proxiedBlob("fake", repo, digest));
    const response = await proxiedBlob("fake", repo, digest, { headers: { Range: "bytes=1000-1999" } });
    expect(response.status).toBe(206);
    expect(response.headers.get("Content-Range")).toBe("bytes 1000-1999/50000");
    expect(response.headers.get("X-Pier-Cache")).toBe("hit");
    expectSameBytes(await bodyBytes(response), bytes.subarray(1000, 2000));
  });

  it("on a miss answer 206 with the range, and cache the whole blob", async () => {
    const { repo, bytes, digest } = await seededBlob(300_000);
    const response = await proxiedBlob("fake", repo, digest, { headers: { Range: "bytes=-5000" } });
    expect(response.status).toBe(206);
    expect(response.headers.get("Content-Range")).toBe("bytes 295000-299999/300000");
    expectSameBytes(await bodyBytes(response), bytes.subarray(295_000));

    const whole = await proxiedBlob("fake", repo, digest);
    expect(whole.headers.get("X-Pier-Cache")).toBe("hit");
    expectSameBytes(await bodyBytes(whole), bytes);
    expect(await blobRequests(repo, digest, "GET")).toHaveLength(1);
  });

  it("past the end of the blob answer 416 with its size", async () => {
    const repo = uniqueRepo();
    const digest = await seedBlob(repo, random(100));
    const response = await proxiedBlob("fake", repo, digest, { headers: { Range: "bytes=500-" } });
    expect(response.status).toBe(416);
    expect(response.headers.get("Content-Range")).toBe("bytes */100");
  });
});

describe("an upstream that redirects blob GETs to a CDN", () => {
  it("is followed, and the CDN never receives the upstream's credentials", async () => {
    const { repo, bytes, digest } = await seededBlob(20_000);
    await setBehaviour(repo, { redirectBlobs: true });
    const response = await proxiedBlob("fake", repo, digest);
    expect(response.status).toBe(200);
    expectSameBytes(await bodyBytes(response), bytes);

    const log = await upstreamLog(repo);
    const cdn = log.filter((entry) => entry.server === "cdn");
    expect(cdn).toHaveLength(1);
    expect(cdn[0]!.authorization).toBeNull();
    expect(log.some((entry) => entry.server === "fake" && entry.authorization?.startsWith("Bearer "))).toBe(true);
  });
});

describe("upstream failures with nothing cached", () => {
  it("pass a 429 on with its Retry-After", async () => {
    const repo = uniqueRepo();
    const digest = await seedBlob(repo, random(100));
    await setBehaviour(repo, { status: 429, retryAfter: "17" });
    const response = await proxiedBlob("fake", repo, digest);
    expect(response.status).toBe(429);
    expect(response.headers.get("Retry-After")).toBe("17");
    expect(await errorCode(response)).toBe("TOOMANYREQUESTS");
  });

  it("answer an upstream 5xx with 502", async () => {
    const repo = uniqueRepo();
    const digest = await seedBlob(repo, random(100));
    await setBehaviour(repo, { status: 503 });
    const response = await proxiedBlob("fake", repo, digest);
    expect(response.status).toBe(502);
    expect(await errorCode(response)).toBe("UNKNOWN");
  });

  it("answer an upstream that does not answer in time with 504", async () => {
    const repo = uniqueRepo();
    const digest = await seedBlob(repo, random(100));
    await setBehaviour(repo, { delayMs: 2000 });
    const response = await proxiedBlob("slow", repo, digest);
    expect(response.status).toBe(504);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expect(await errorCode(response)).toBe("UNKNOWN");
  });

  it("answer a blob upstream does not have with 404 BLOB_UNKNOWN", async () => {
    const repo = uniqueRepo();
    await seedBlob(repo, random(100));
    const response = await proxiedBlob("fake", repo, `sha256:${"1".repeat(64)}`);
    expect(response.status).toBe(404);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expect(await errorCode(response)).toBe("BLOB_UNKNOWN");
  });

  it("are not cached: the next request, once upstream recovers, succeeds", async () => {
    const { repo, bytes, digest } = await seededBlob(1000);
    await setBehaviour(repo, { status: 500, statusTimes: 1 });
    expect((await proxiedBlob("fresh", repo, digest)).status).toBe(502);
    const retry = await proxiedBlob("fresh", repo, digest);
    expect(retry.status).toBe(200);
    expectSameBytes(await bodyBytes(retry), bytes);
  });
});

describe("a blob Pier already stores for another repository", () => {
  it("is not served for a repository whose upstream does not have it", async () => {
    const bytes = random(5000);
    const owner = uniqueRepo();
    const digest = await seedBlob(owner, bytes);
    expectSameBytes(await bodyBytes(await proxiedBlob("fake", owner, digest)), bytes);

    const other = uniqueRepo();
    await seedBlob(other, random(10));
    const response = await proxiedBlob("fake", other, digest);
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("BLOB_UNKNOWN");
  });

  it("is linked and served once an upstream HEAD confirms the repository has it", async () => {
    const bytes = random(5000);
    const local = uniqueRepo("local");
    const { digest } = await pushBlob(local, bytes);
    const repo = uniqueRepo();
    await seedBlob(repo, bytes);

    const response = await proxiedBlob("fake", repo, digest);
    expect(response.status).toBe(200);
    expect(response.headers.get("X-Pier-Cache")).toBe("hit");
    expectSameBytes(await bodyBytes(response), bytes);
    expect(await blobRequests(repo, digest, "HEAD")).toHaveLength(1);
    expect(await blobRequests(repo, digest, "GET")).toHaveLength(0);
  });
});

describe("ensuring a blob is cached (prefetch)", () => {
  it("fills it once and reports the bytes fetched; a second call fetches nothing", async () => {
    const repo = uniqueRepo();
    const bytes = random(70_000);
    const digest = (await seedBlob(repo, bytes)) as Digest;
    const target = proxyTarget(configFrom(env).upstreams.find((upstream) => upstream.name === "fake")!, repo);
    const pending: Promise<unknown>[] = [];
    const waitUntil = (promise: Promise<unknown>) => void pending.push(promise);

    expect(await ensureProxiedBlob(env, waitUntil, target, digest)).toEqual({ fetched: 70_000 });
    expect(await ensureProxiedBlob(env, waitUntil, target, digest)).toEqual({ fetched: 0 });
    await Promise.all(pending);
    const hit = await proxiedBlob("fake", repo, digest);
    expect(hit.headers.get("X-Pier-Cache")).toBe("hit");
    expectSameBytes(await bodyBytes(hit), bytes);
    expect(await blobRequests(repo, digest, "GET")).toHaveLength(1);
  });
});
