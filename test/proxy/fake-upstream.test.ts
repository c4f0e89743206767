// The fake upstream registries behave as the pull-through-cache tests assume: plain fetch from
// inside workerd straight at them (no Pier in between), one behaviour per test.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  release,
  removeTag,
  seedBlob,
  seedImage,
  seedIndex,
  seedManifest,
  setBehaviour,
  uniqueRepo,
  upstreamLog,
  upstreamUrls,
} from "../helpers/fake-upstream";
import { bodyBytes, digestOf, errorCode, OCI_INDEX, OCI_MANIFEST } from "../helpers/registry";

const upstream = upstreamUrls();
const BASIC = `Basic ${btoa("puller:secret")}`;

/** The parameters of a `Bearer realm="…",service="…",scope="…"` challenge. */
function challenge(response: Response): Record<string, string> {
  const header = response.headers.get("WWW-Authenticate") ?? "";
  expect(header).toMatch(/^Bearer /);
  return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1]!, match[2]!]));
}

async function tokenFor(base: string, repo: string, headers: HeadersInit = {}): Promise<string> {
  const response = await fetch(`${base}/token?service=fake-registry&scope=repository:${repo}:pull`, { headers });
  expect(response.status).toBe(200);
  return ((await response.json()) as { token: string }).token;
}

describe("auth modes", () => {
  it("fake: 401 with a Bearer challenge, an anonymous token, then 200", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "v1");
    const url = `${upstream.fake}/v2/${repo}/manifests/v1`;
    const refused = await fetch(url);
    expect(refused.status).toBe(401);
    expect(await errorCode(refused)).toBe("UNAUTHORIZED");
    const params = challenge(refused);
    expect(params).toEqual({ realm: `${upstream.fake}/token`, service: "fake-registry", scope: `repository:${repo}:pull` });

    const issued = await fetch(`${params.realm}?service=${params.service}&scope=${params.scope}`);
    const body = (await issued.json()) as { token: string; access_token: string; expires_in: number; issued_at: string };
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBe(300);
    const answer = await fetch(url, { headers: { Authorization: `Bearer ${body.token}` } });
    expect(answer.status).toBe(200);
    expect(await bodyBytes(answer)).toEqual(image.manifestBytes);
  });

  it("fake: the version check challenges without a scope", async () => {
    const refused = await fetch(`${upstream.fake}/v2/`);
    expect(refused.status).toBe(401);
    expect(challenge(refused)).toEqual({ realm: `${upstream.fake}/token`, service: "fake-registry" });
  });

  it("fake: a token opens only the repository of its scope", async () => {
    const [mine, other] = [uniqueRepo(), uniqueRepo()];
    await seedImage(other, "v1");
    const token = await tokenFor(upstream.fake, mine);
    const response = await fetch(`${upstream.fake}/v2/${other}/manifests/v1`, { headers: { Authorization: `Bearer ${token}` } });
    expect(response.status).toBe(401);
  });

  it("hub: the same flow, as service registry.docker.io", async () => {
    const refused = await fetch(`${upstream.hub}/v2/library/alpine/manifests/latest`);
    expect(challenge(refused).service).toBe("registry.docker.io");
  });

  it("private: the token endpoint wants Basic puller:secret", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "v1");
    const anonymous = await fetch(`${upstream.private}/token?service=fake-registry&scope=repository:${repo}:pull`);
    expect(anonymous.status).toBe(401);
    const token = await tokenFor(upstream.private, repo, { Authorization: BASIC });
    const response = await fetch(`${upstream.private}/v2/${repo}/manifests/v1`, { headers: { Authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
  });

  it("basic: every request wants Basic puller:secret", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "v1");
    const url = `${upstream.basic}/v2/${repo}/manifests/v1`;
    const refused = await fetch(url, { headers: { Authorization: `Basic ${btoa("puller:wrong")}` } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("WWW-Authenticate")).toBe('Basic realm="fake"');
    expect((await fetch(url, { headers: { Authorization: BASIC } })).status).toBe(200);
  });
});

describe("content", () => {
  it("serves a seeded manifest's exact bytes, media type and digest (GET and HEAD)", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "v1");
    expect(image.manifestDigest).toBe(await digestOf(image.manifestBytes));
    for (const method of ["GET", "HEAD"]) {
      const response = await fetch(`${upstream.fresh}/v2/${repo}/manifests/v1`, { method });
      expect(response.headers.get("Content-Type")).toBe(OCI_MANIFEST);
      expect(response.headers.get("Docker-Content-Digest")).toBe(image.manifestDigest);
      expect(response.headers.get("Content-Length")).toBe(String(image.manifestBytes.byteLength));
      if (method === "GET") expect(await bodyBytes(response)).toEqual(image.manifestBytes);
    }
    const byDigest = await fetch(`${upstream.fresh}/v2/${repo}/manifests/${image.manifestDigest}`);
    expect(await bodyBytes(byDigest)).toEqual(image.manifestBytes);
  });

  it("serves blobs by digest, sha512 included", async () => {
    const repo = uniqueRepo();
    const bytes = new TextEncoder().encode("sha512 blob");
    const digest = await seedBlob(repo, bytes, "sha512");
    expect(digest).toBe(await digestOf(bytes, "sha512"));
    const response = await fetch(`${upstream.fresh}/v2/${repo}/blobs/${digest}`);
    expect(response.headers.get("Docker-Content-Digest")).toBe(digest);
    expect(await bodyBytes(response)).toEqual(bytes);
  });

  it("seeds an index whose children are reachable by digest only", async () => {
    const repo = uniqueRepo();
    const index = await seedIndex(repo, "multi", [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64", variant: "v8" }]);
    const listed = await fetch(`${upstream.fresh}/v2/${repo}/manifests/multi`);
    expect(listed.headers.get("Content-Type")).toBe(OCI_INDEX);
    expect(listed.headers.get("Docker-Content-Digest")).toBe(index.indexDigest);
    const child = index.children[1]!;
    const body = JSON.parse(new TextDecoder().decode(await bodyBytes(listed))) as { manifests: { digest: string; platform: unknown }[] };
    expect(body.manifests[1]).toMatchObject({ digest: child.image.manifestDigest, platform: child.platform });
    expect((await fetch(`${upstream.fresh}/v2/${repo}/manifests/${child.image.manifestDigest}`)).status).toBe(200);
    await expect((await fetch(`${upstream.fresh}/v2/${repo}/tags/list`)).json()).resolves.toEqual({ name: repo, tags: ["multi"] });
  });

  it("answers 404 MANIFEST_UNKNOWN and BLOB_UNKNOWN for what it does not hold", async () => {
    const repo = uniqueRepo();
    const manifest = await fetch(`${upstream.fresh}/v2/${repo}/manifests/nope`);
    expect(manifest.status).toBe(404);
    expect(await errorCode(manifest)).toBe("MANIFEST_UNKNOWN");
    const blob = await fetch(`${upstream.fresh}/v2/${repo}/blobs/${await digestOf(new Uint8Array(1))}`);
    expect(blob.status).toBe(404);
    expect(await errorCode(blob)).toBe("BLOB_UNKNOWN");
  });

  it("forgets a removed tag", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "gone");
    await removeTag(repo, "gone");
    expect((await fetch(`${upstream.fresh}/v2/${repo}/manifests/gone`)).status).toBe(404);
  });

  it("pages tag lists with n, last and a Link header", async () => {
    const repo = uniqueRepo();
    const bytes = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [] }));
    for (const tag of ["c", "a", "b"]) await seedManifest(repo, tag, bytes, OCI_MANIFEST);
    const first = await fetch(`${upstream.fresh}/v2/${repo}/tags/list?n=2`);
    expect(await first.json()).toEqual({ name: repo, tags: ["a", "b"] });
    expect(first.headers.get("Link")).toBe(`</v2/${repo}/tags/list?n=2&last=b>; rel="next"`);
    const rest = await fetch(`${upstream.fresh}/v2/${repo}/tags/list?n=2&last=b`);
    expect(await rest.json()).toEqual({ name: repo, tags: ["c"] });
    expect(rest.headers.get("Link")).toBeNull();
  });

  it("parses names containing a keyword segment by its last occurrence", async () => {
    const repo = uniqueRepo("deep/blobs/manifests");
    const image = await seedImage(repo, "v1");
    const response = await fetch(`${upstream.fresh}/v2/${repo}/blobs/${image.config.digest}`);
    expect(await bodyBytes(response)).toEqual(image.config.bytes);
  });
});

describe("behaviours", () => {
  it("forces a status with Retry-After for the next statusTimes requests only", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "v1");
    await setBehaviour(repo, { status: 429, retryAfter: "7", statusTimes: 1 });
    const limited = await fetch(`${upstream.fresh}/v2/${repo}/manifests/v1`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("Retry-After")).toBe("7");
    expect(await errorCode(limited)).toBe("TOOMANYREQUESTS");
    expect((await fetch(`${upstream.fresh}/v2/${repo}/manifests/v1`)).status).toBe(200);
  });

  it("omits Docker-Content-Digest on manifests when told to", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "v1");
    await setBehaviour(repo, { omitDigestHeader: true });
    const response = await fetch(`${upstream.fresh}/v2/${repo}/manifests/v1`);
    expect(response.status).toBe(200);
    expect(response.headers.get("Docker-Content-Digest")).toBeNull();
  });

  it("delays headers past a client's timeout", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "v1");
    await setBehaviour(repo, { delayMs: 60_000 });
    await expect(fetch(`${upstream.slow}/v2/${repo}/manifests/v1`, { signal: AbortSignal.timeout(100) })).rejects.toThrow();
  });

  it("redirects blob GETs to the cdn, which logs the Authorization it receives", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "v1");
    await setBehaviour(repo, { redirectBlobs: true });
    const redirect = await fetch(`${upstream.fresh}/v2/${repo}/blobs/${image.config.digest}`, { redirect: "manual" });
    expect(redirect.status).toBe(307);
    const location = redirect.headers.get("Location")!;
    expect(location).toBe(`${env.FAKE_UPSTREAM_CDN}/cdn/${repo}/${image.config.digest}`);
    expect(await bodyBytes(await fetch(location))).toEqual(image.config.bytes);
    await fetch(location, { headers: { Authorization: "Bearer leaked" } }).then((response) => response.arrayBuffer());
    const cdn = (await upstreamLog(repo)).filter((entry) => entry.server === "cdn");
    expect(cdn.map((entry) => entry.authorization)).toEqual([null, "Bearer leaked"]);
  });

  it("corrupts blob bytes but keeps their length", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "v1");
    await setBehaviour(repo, { corruptBlobs: true });
    const response = await fetch(`${upstream.fresh}/v2/${repo}/blobs/${image.layers[0]!.digest}`);
    const bytes = await bodyBytes(response);
    expect(bytes.byteLength).toBe(image.layers[0]!.bytes.byteLength);
    expect(bytes).not.toEqual(image.layers[0]!.bytes);
  });

  it("cuts a blob body short of its Content-Length", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "v1");
    await setBehaviour(repo, { cutBlobsAfter: 100 });
    const response = await fetch(`${upstream.fresh}/v2/${repo}/blobs/${image.layers[0]!.digest}`);
    expect(response.headers.get("Content-Length")).toBe("1024");
    await expect(response.arrayBuffer()).rejects.toThrow();
  });

  it("holds a blob body after n bytes until released", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "v1");
    await setBehaviour(repo, { holdBlobsAfter: 100 });
    const response = await fetch(`${upstream.fresh}/v2/${repo}/blobs/${image.layers[0]!.digest}`);
    const reader = response.body!.getReader();
    const received: Uint8Array[] = [];
    let length = 0;
    while (length < 100) {
      const { value } = await reader.read();
      received.push(value!);
      length += value!.byteLength;
    }
    expect(length).toBe(100);
    expect(await release(repo)).toBe(1);
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) received.push(chunk.value);
    expect(await bodyBytes(new Response(new Blob(received)))).toEqual(image.layers[0]!.bytes);
  });
});

describe("request log", () => {
  it("records every request for one repo only, with server, path and authorization", async () => {
    const [repo, other] = [uniqueRepo(), uniqueRepo()];
    await fetch(`${upstream.fake}/v2/${repo}/manifests/v1`);
    const token = await tokenFor(upstream.fake, repo);
    await fetch(`${upstream.fake}/v2/${repo}/manifests/v1`, { headers: { Authorization: `Bearer ${token}` } });
    await fetch(`${upstream.fresh}/v2/${other}/manifests/v1`);
    const log = await upstreamLog(repo);
    expect(log.map(({ server, method, path, authorization, repo }) => ({ server, method, path, authorization, repo }))).toEqual([
      { server: "fake", method: "GET", path: `/v2/${repo}/manifests/v1`, authorization: null, repo },
      { server: "fake", method: "GET", path: `/token?service=fake-registry&scope=repository:${repo}:pull`, authorization: null, repo },
      { server: "fake", method: "GET", path: `/v2/${repo}/manifests/v1`, authorization: `Bearer ${token}`, repo },
    ]);
    expect(log.every((entry) => typeof entry.at === "number")).toBe(true);
  });
});
