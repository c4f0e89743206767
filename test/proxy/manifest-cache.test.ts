// Manifests through the pull-through cache: by digest cached forever, by tag fresh for the
// upstream's TTL then revalidated with a HEAD, stale answers when upstream fails, a short
// negative cache for upstream 404s, indexes stored whole.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { refreshReference } from "../../worker/proxy/manifest-fetch";
import { proxyTarget } from "../../worker/proxy/routing";
import type { UpstreamFailure } from "../../worker/proxy/upstream-client";
import { upstreamFailureToError } from "../../worker/proxy/upstream-errors";
import { parseUpstreams } from "../../worker/proxy/upstreams";
import { removeTag, seedImage, seedIndex, seedManifest, setBehaviour, uniqueRepo, upstreamLog, type LogEntry } from "../helpers/fake-upstream";
import { bodyBytes, digestOf, errorCode, expectSameBytes, jsonBytes, OCI_MANIFEST, request } from "../helpers/registry";

const manifestRequests = (log: LogEntry[]) => log.filter((entry) => entry.path.includes("/manifests/"));
const manifestGets = (log: LogEntry[]) => manifestRequests(log).filter((entry) => entry.method === "GET");

async function getManifest(path: string, init: RequestInit = {}): Promise<{ response: Response; bytes: Uint8Array }> {
  const response = await request(path, init);
  return { response, bytes: await bodyBytes(response) };
}

describe("a manifest pulled by tag", () => {
  it("is fetched once, then answered from the cache within the tag TTL", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "1.0");
    const first = await getManifest(`/v2/fake/${repo}/manifests/1.0`);
    expect(first.response.headers.get("X-Pier-Cache")).toBe("miss");
    const second = await getManifest(`/v2/fake/${repo}/manifests/1.0`);
    expect(second.response.status).toBe(200);
    expect(second.response.headers.get("X-Pier-Cache")).toBe("hit");
    expectSameBytes(second.bytes, image.manifestBytes);
    expect(second.response.headers.get("Docker-Content-Digest")).toBe(image.manifestDigest);
    expect(second.response.headers.get("Content-Type")).toBe(OCI_MANIFEST);
    // Requests with a token: the first one of this file may also have met a 401 challenge.
    expect(manifestRequests(await upstreamLog(repo)).filter((entry) => entry.authorization !== null)).toHaveLength(1);
  });

  it("is revalidated with a HEAD once the TTL has passed, without fetching it again", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "1.0");
    await request(`/v2/fresh/${repo}/manifests/1.0`);
    const again = await request(`/v2/fresh/${repo}/manifests/1.0`);
    expect(again.headers.get("X-Pier-Cache")).toBe("hit");
    const methods = manifestRequests(await upstreamLog(repo)).map((entry) => entry.method);
    expect(methods).toEqual(["GET", "HEAD"]);
  });

  it("is fetched again when upstream moved the tag to another manifest", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "latest");
    await request(`/v2/fresh/${repo}/manifests/latest`);
    const moved = await seedImage(repo, "latest");
    const { response, bytes } = await getManifest(`/v2/fresh/${repo}/manifests/latest`);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expect(response.headers.get("Docker-Content-Digest")).toBe(moved.manifestDigest);
    expectSameBytes(bytes, moved.manifestBytes);
  });

  it("is answered without a body for HEAD, and the following GET is a hit", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "1.0");
    const head = await request(`/v2/fake/${repo}/manifests/1.0`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("Content-Length")).toBe(String(image.manifestBytes.byteLength));
    expect(head.headers.get("Docker-Content-Digest")).toBe(image.manifestDigest);
    expect((await bodyBytes(head)).byteLength).toBe(0);
    expect((await request(`/v2/fake/${repo}/manifests/1.0`)).headers.get("X-Pier-Cache")).toBe("hit");
  });
});

describe("a manifest pulled by digest", () => {
  it("is served from the cache forever, with no upstream request", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "1.0");
    await request(`/v2/fresh/${repo}/manifests/1.0`);
    const before = (await upstreamLog(repo)).length;
    const { response, bytes } = await getManifest(`/v2/fresh/${repo}/manifests/${image.manifestDigest}`);
    expect(response.headers.get("X-Pier-Cache")).toBe("hit");
    expectSameBytes(bytes, image.manifestBytes);
    expect((await upstreamLog(repo)).length).toBe(before);
  });

  it("is refused with 502 and not stored when upstream's bytes do not match the digest", async () => {
    const repo = uniqueRepo();
    const bytes = jsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: {}, layers: [] });
    const wrong = await digestOf(jsonBytes({ something: "else" }));
    await seedManifest(repo, wrong, bytes, OCI_MANIFEST);
    const first = await request(`/v2/fake/${repo}/manifests/${wrong}`);
    expect(first.status).toBe(502);
    expect(await errorCode(first)).toBe("UNKNOWN");
    await request(`/v2/fake/${repo}/manifests/${wrong}`);
    expect(manifestGets(await upstreamLog(repo))).toHaveLength(2);
  });
});

describe("an index", () => {
  it("is stored whole and byte-identical, its children fetched only when asked for", async () => {
    const repo = uniqueRepo();
    const index = await seedIndex(repo, "multi", [
      { os: "linux", architecture: "amd64" },
      { os: "linux", architecture: "arm64", variant: "v8" },
    ]);
    const { response, bytes } = await getManifest(`/v2/fake/${repo}/manifests/multi`);
    expect(response.headers.get("Docker-Content-Digest")).toBe(index.indexDigest);
    expectSameBytes(bytes, index.indexBytes);
    expect(manifestRequests(await upstreamLog(repo))).toHaveLength(1);

    const arm = index.children[1]!.image;
    const child = await getManifest(`/v2/fake/${repo}/manifests/${arm.manifestDigest}`);
    expect(child.response.headers.get("X-Pier-Cache")).toBe("miss");
    expectSameBytes(child.bytes, arm.manifestBytes);
    expect(manifestRequests(await upstreamLog(repo))).toHaveLength(2);
  });
});

describe("when upstream fails", () => {
  it.each([
    [503, undefined],
    [429, "30"],
    [500, undefined],
  ])("serves the cached answer as stale when upstream answers %i", async (status, retryAfter) => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "1.0");
    await request(`/v2/fresh/${repo}/manifests/1.0`);
    await setBehaviour(repo, { status, retryAfter });
    const { response, bytes } = await getManifest(`/v2/fresh/${repo}/manifests/1.0`);
    expect(response.status).toBe(200);
    expect(response.headers.get("X-Pier-Cache")).toBe("stale");
    expectSameBytes(bytes, image.manifestBytes);
  });

  it("passes a 429 on as TOOMANYREQUESTS with its Retry-After when nothing is cached", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "1.0");
    await setBehaviour(repo, { status: 429, retryAfter: "42" });
    const response = await request(`/v2/fake/${repo}/manifests/1.0`);
    expect(response.status).toBe(429);
    expect(response.headers.get("Retry-After")).toBe("42");
    expect(await errorCode(response)).toBe("TOOMANYREQUESTS");
  });

  it("answers 502 when upstream answers 5xx and nothing is cached", async () => {
    const repo = uniqueRepo();
    await setBehaviour(repo, { status: 503 });
    const response = await request(`/v2/fake/${repo}/manifests/1.0`);
    expect(response.status).toBe(502);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expect(await errorCode(response)).toBe("UNKNOWN");
  });

  it("answers 504 within about twice the timeout when upstream does not answer", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "1.0");
    await setBehaviour(repo, { delayMs: 5_000 });
    const started = Date.now();
    const response = await request(`/v2/slow/${repo}/manifests/1.0`);
    expect(response.status).toBe(504);
    expect(await errorCode(response)).toBe("UNKNOWN");
    // timeoutMs is 300 for "slow": the whole exchange answers well before the upstream would.
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("answers 504 when upstream cannot be reached at all", async () => {
    // Nothing listens on port 1; the upstream is built here, as the configured ones all answer.
    const [upstream] = parseUpstreams([{ name: "gone", url: "http://127.0.0.1:1", timeoutMs: 2_000 }], undefined).upstreams;
    const result = await refreshReference(env, proxyTarget(upstream!, "some/app"), "1.0", null);
    expect(result).toMatchObject({ kind: "failed", failure: { kind: "unreachable" } });
    expect(upstreamFailureToError("gone", (result as { failure: UpstreamFailure }).failure).status).toBe(504);
  });
});

describe("concurrent misses", () => {
  it("of one tag make one upstream GET, and every client gets the manifest", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "rollout");
    const answers = await Promise.all(Array.from({ length: 16 }, () => getManifest(`/v2/fake/${repo}/manifests/rollout`)));
    for (const { response, bytes } of answers) {
      expect(response.status).toBe(200);
      expectSameBytes(bytes, image.manifestBytes);
    }
    expect(manifestGets(await upstreamLog(repo)).filter((entry) => entry.authorization !== null)).toHaveLength(1);
  });

  it("of one digest make one upstream GET", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "1.0");
    await Promise.all(Array.from({ length: 16 }, () => getManifest(`/v2/fresh/${repo}/manifests/${image.manifestDigest}`)));
    expect(manifestGets(await upstreamLog(repo))).toHaveLength(1);
  });
});

describe("upstream 404s", () => {
  it("are MANIFEST_UNKNOWN and remembered briefly, so a retry does not reach upstream", async () => {
    const repo = uniqueRepo();
    const first = await request(`/v2/fake/${repo}/manifests/nope`);
    expect(first.status).toBe(404);
    expect(first.headers.get("X-Pier-Cache")).toBe("miss");
    expect(await errorCode(first)).toBe("MANIFEST_UNKNOWN");
    await seedImage(repo, "nope");
    const remembered = await request(`/v2/fake/${repo}/manifests/nope`);
    expect(remembered.status).toBe(404);
    expect(remembered.headers.get("X-Pier-Cache")).toBe("hit");
    expect(manifestRequests(await upstreamLog(repo))).toHaveLength(1);
  });

  it("are not remembered longer than the tag TTL", async () => {
    const repo = uniqueRepo();
    expect((await request(`/v2/fresh/${repo}/manifests/soon`)).status).toBe(404);
    await seedImage(repo, "soon");
    expect((await request(`/v2/fresh/${repo}/manifests/soon`)).status).toBe(200);
  });

  it("make a tag that vanished upstream unknown once revalidated", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "gone");
    await request(`/v2/fresh/${repo}/manifests/gone`);
    await removeTag(repo, "gone");
    expect((await request(`/v2/fresh/${repo}/manifests/gone`)).status).toBe(404);
  });
});
