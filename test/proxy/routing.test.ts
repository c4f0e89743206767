// Which registry a read goes to (worker/proxy/routing.ts): containerd's `?ns=`, the Harbor-style
// `/v2/<upstream>/<repository>` prefix, local repositories, and dockerd's unprefixed mirror
// reads (PIER_MIRROR_DEFAULT = "hub", set for this file's requests by requestThroughMirror);
// and that prefixed upstream names are read-only.
// Upstreams (test/vitest.config.ts): fake (oci), hub (dockerhub, allow library/* and team/**).
import { describe, expect, it } from "vitest";
import { type LogEntry, requestThroughMirror as request, seedImage, uniqueRepo, upstreamLog, upstreamUrls } from "../helpers/fake-upstream";
import { bodyBytes, errorCode, OCI_MANIFEST, pushImage } from "../helpers/registry";

const urls = upstreamUrls();
const fakeHost = new URL(urls.fake).host;

/** The manifest requests (GET or HEAD) a log holds, whichever server received them. */
function manifestRequests(log: LogEntry[]): LogEntry[] {
  return log.filter((entry) => entry.path.includes("/manifests/"));
}

/** GETs a manifest and checks it came back whole; returns the response (body read). */
async function getManifest(path: string): Promise<{ response: Response; bytes: Uint8Array }> {
  const response = await request(path);
  if (response.status !== 200) expect.fail(`GET ${path}: ${response.status} ${await response.text()}`);
  return { response, bytes: await bodyBytes(response) };
}

describe("prefixed names: /v2/<upstream>/<repository>", () => {
  it("serves an upstream manifest on a miss, byte for byte, with its digest and media type", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "v1");
    const { response, bytes } = await getManifest(`/v2/fake/${repo}/manifests/v1`);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expect(response.headers.get("Docker-Content-Digest")).toBe(image.manifestDigest);
    expect(response.headers.get("Content-Type")).toBe(OCI_MANIFEST);
    expect(bytes).toEqual(image.manifestBytes);
  });

  it("asks the upstream for the repository without the prefix", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "v1");
    await getManifest(`/v2/fake/${repo}/manifests/v1`);
    const requests = manifestRequests(await upstreamLog(repo));
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.every((entry) => entry.server === "fake" && entry.path === `/v2/${repo}/manifests/v1`)).toBe(true);
  });

  it("puts a one-segment Docker Hub name under library/", async () => {
    const repo = uniqueRepo("library");
    const image = await seedImage(repo, "v1");
    const { bytes } = await getManifest(`/v2/hub/${repo.slice("library/".length)}/manifests/v1`);
    expect(bytes).toEqual(image.manifestBytes);
    expect(manifestRequests(await upstreamLog(repo)).map((entry) => entry.server)).toContain("hub");
  });

  it("lists an upstream repository's tags under the name the client asked for", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "v2");
    await seedImage(repo, "v1");
    const response = await request(`/v2/fake/${repo}/tags/list`);
    expect(response.status).toBe(200);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expect(await response.json()).toEqual({ name: `fake/${repo}`, tags: ["v1", "v2"] });
  });

  it.each([
    ["a manifest", (repo: string) => `/v2/hub/${repo.toUpperCase()}/manifests/v1`],
    ["a tag list", (repo: string) => `/v2/fake/${repo.toUpperCase()}/tags/list`],
    ["a blob", (repo: string) => `/v2/fake/${repo.toUpperCase()}/blobs/sha256:${"0".repeat(64)}`],
  ])("refuses an invalid name for %s with NAME_INVALID", async (_, path) => {
    const repo = uniqueRepo();
    const response = await request(path(repo));
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe("NAME_INVALID");
    expect(await upstreamLog(repo.toUpperCase())).toEqual([]);
  });
});

describe("unprefixed names: the mirror default", () => {
  it("sends a name no local repository owns to PIER_MIRROR_DEFAULT", async () => {
    const repo = uniqueRepo("library");
    const image = await seedImage(repo, "v1");
    const { response, bytes } = await getManifest(`/v2/${repo}/manifests/v1`);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expect(bytes).toEqual(image.manifestBytes);
    expect(manifestRequests(await upstreamLog(repo)).map((entry) => entry.server)).toEqual(["hub"]);
  });

  it("puts a one-segment name under library/ on a Docker Hub mirror", async () => {
    const repo = uniqueRepo("library");
    const image = await seedImage(repo, "v1");
    const { bytes } = await getManifest(`/v2/${repo.slice("library/".length)}/manifests/v1`);
    expect(bytes).toEqual(image.manifestBytes);
    expect(manifestRequests(await upstreamLog(repo)).map((entry) => entry.path)).toEqual([`/v2/${repo}/manifests/v1`]);
  });

  it("shares the cache with the prefixed name: a mirror pull makes the prefixed pull a hit", async () => {
    const repo = uniqueRepo("library");
    const image = await seedImage(repo, "v1");
    await getManifest(`/v2/${repo}/manifests/v1`);
    const { response, bytes } = await getManifest(`/v2/hub/${repo}/manifests/v1`);
    expect(response.headers.get("X-Pier-Cache")).toBe("hit");
    expect(bytes).toEqual(image.manifestBytes);
    expect(manifestRequests(await upstreamLog(repo))).toHaveLength(1);
  });

  it("shares the cache with the prefixed name: a prefixed pull makes the mirror pull a hit", async () => {
    const repo = uniqueRepo("library");
    await seedImage(repo, "v1");
    await getManifest(`/v2/hub/${repo}/manifests/v1`);
    const { response } = await getManifest(`/v2/${repo}/manifests/v1`);
    expect(response.headers.get("X-Pier-Cache")).toBe("hit");
    expect(manifestRequests(await upstreamLog(repo))).toHaveLength(1);
  });

  it("serves a local repository that exists, not the mirror's (no X-Pier-Cache, local bytes)", async () => {
    const repo = uniqueRepo("library");
    await seedImage(repo, "v1");
    const local = await pushImage(repo, "v1", { seed: 41 });
    const { response, bytes } = await getManifest(`/v2/${repo}/manifests/v1`);
    expect(response.headers.get("X-Pier-Cache")).toBeNull();
    expect(response.headers.get("Docker-Content-Digest")).toBe(local.digest);
    expect(bytes).toEqual(local.bytes);
    expect(await upstreamLog(repo)).toEqual([]);
  });

  it("lists a mirrored repository's tags from upstream", async () => {
    const repo = uniqueRepo("team/sub");
    await seedImage(repo, "latest");
    const response = await request(`/v2/${repo}/tags/list`);
    expect(response.status).toBe(200);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expect(await response.json()).toEqual({ name: repo, tags: ["latest"] });
  });
});

describe("the upstream's allow list", () => {
  it.each([
    ["a prefixed name outside it", (repo: string) => `/v2/hub/${repo}/manifests/v1`, "other"],
    ["a mirror name outside it", (repo: string) => `/v2/${repo}/manifests/v1`, "other"],
    ["a name deeper than library/*", (repo: string) => `/v2/hub/${repo}/manifests/v1`, "library/deep"],
  ])("answers %s with 404 NAME_UNKNOWN and asks nothing upstream", async (_, path, prefix) => {
    const repo = uniqueRepo(prefix);
    await seedImage(repo, "v1");
    const response = await request(path(repo));
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("NAME_UNKNOWN");
    expect(await upstreamLog(repo)).toEqual([]);
  });
});

describe("containerd's ?ns=", () => {
  it("selects the upstream whose host:port it names, for an unprefixed name", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "v1");
    const { response, bytes } = await getManifest(`/v2/${repo}/manifests/v1?ns=${fakeHost}`);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expect(bytes).toEqual(image.manifestBytes);
    expect(manifestRequests(await upstreamLog(repo)).map((entry) => entry.server)).toEqual(["fake"]);
  });

  it("selects the upstream even when a local repository has the same name", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "v1");
    await pushImage(repo, "v1", { seed: 42 });
    const { response, bytes } = await getManifest(`/v2/${repo}/manifests/v1?ns=${fakeHost}`);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expect(bytes).toEqual(image.manifestBytes);
  });

  it("accepts the host URL-encoded, as containerd sends it (127.0.0.1%3A<port>)", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "v1");
    const { bytes } = await getManifest(`/v2/${repo}/manifests/v1?ns=${encodeURIComponent(fakeHost)}`);
    expect(bytes).toEqual(image.manifestBytes);
    expect(manifestRequests(await upstreamLog(repo)).map((entry) => entry.server)).toEqual(["fake"]);
  });

  it.each(["docker.io", "index.docker.io", "registry-1.docker.io"])("%s selects the Docker Hub upstream over a local repository", async (ns) => {
    const repo = uniqueRepo("library");
    const image = await seedImage(repo, "v1");
    await pushImage(repo, "v1", { seed: 43 });
    const { response, bytes } = await getManifest(`/v2/${repo}/manifests/v1?ns=${ns}`);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expect(bytes).toEqual(image.manifestBytes);
    expect(manifestRequests(await upstreamLog(repo)).map((entry) => entry.server)).toEqual(["hub"]);
  });

  it("is ignored when it names no upstream: the prefix still decides", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "v1");
    const { bytes } = await getManifest(`/v2/fake/${repo}/manifests/v1?ns=ghcr.io`);
    expect(bytes).toEqual(image.manifestBytes);
    expect(manifestRequests(await upstreamLog(repo)).map((entry) => entry.server)).toEqual(["fake"]);
  });

  it("is ignored when it names no upstream: a local repository is still served locally", async () => {
    const repo = uniqueRepo("library");
    await seedImage(repo, "v1");
    const local = await pushImage(repo, "v1", { seed: 44 });
    const { response, bytes } = await getManifest(`/v2/${repo}/manifests/v1?ns=quay.io`);
    expect(response.headers.get("X-Pier-Cache")).toBeNull();
    expect(bytes).toEqual(local.bytes);
    expect(await upstreamLog(repo)).toEqual([]);
  });

  it("lists tags from the upstream it selects", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "v1");
    const response = await request(`/v2/${repo}/tags/list?ns=${fakeHost}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ name: repo, tags: ["v1"] });
  });
  it("keeps the upstream it selected on the next page of a tag list (the Link carries ns)", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "v1");
    await seedImage(repo, "v2");
    const first = await request(`/v2/${repo}/tags/list?ns=${encodeURIComponent(fakeHost)}&n=1`);
    expect(await first.json()).toEqual({ name: repo, tags: ["v1"] });
    const next = /^<([^>]+)>;\s*rel="next"$/.exec(first.headers.get("Link") ?? "")?.[1];
    expect(next).toBeDefined();
    const second = await request(next!);
    expect(second.status, await second.clone().text()).toBe(200);
    expect(await second.json()).toEqual({ name: repo, tags: ["v2"] });
  });
});

describe("blobs, through each style", () => {
  /** GETs a blob through Pier and checks it is the layer, whole; returns the response. */
  async function getBlob(path: string, bytes: Uint8Array): Promise<Response> {
    const response = await request(path);
    if (response.status !== 200) expect.fail(`GET ${path}: ${response.status} ${await response.text()}`);
    expect(await bodyBytes(response)).toEqual(bytes);
    return response;
  }

  /** The servers that received a GET for this blob. */
  async function blobGetServers(repo: string, digest: string): Promise<string[]> {
    const log = await upstreamLog(repo);
    return log.filter((entry) => entry.method === "GET" && entry.path === `/v2/${repo}/blobs/${digest}`).map((entry) => entry.server);
  }

  it("serves a blob by prefixed name on a miss, with its digest", async () => {
    const repo = uniqueRepo();
    const layer = (await seedImage(repo, "v1")).layers[0]!;
    const response = await getBlob(`/v2/fake/${repo}/blobs/${layer.digest}`, layer.bytes);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expect(response.headers.get("Docker-Content-Digest")).toBe(layer.digest);
    expect(await blobGetServers(repo, layer.digest)).toEqual(["fake"]);
  });

  it("serves a blob by unprefixed name from the mirror default", async () => {
    const repo = uniqueRepo("library");
    const layer = (await seedImage(repo, "v1")).layers[0]!;
    const response = await getBlob(`/v2/${repo.slice("library/".length)}/blobs/${layer.digest}`, layer.bytes);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expect(await blobGetServers(repo, layer.digest)).toEqual(["hub"]);
  });

  it("serves a blob from the upstream ?ns= selects", async () => {
    const repo = uniqueRepo();
    const layer = (await seedImage(repo, "v1")).layers[0]!;
    const response = await getBlob(`/v2/${repo}/blobs/${layer.digest}?ns=${encodeURIComponent(fakeHost)}`, layer.bytes);
    expect(response.headers.get("X-Pier-Cache")).toBe("miss");
    expect(await blobGetServers(repo, layer.digest)).toEqual(["fake"]);
  });

  it("shares the cache between the mirror and prefixed names: the second GET is a hit", async () => {
    const repo = uniqueRepo("library");
    const layer = (await seedImage(repo, "v1")).layers[0]!;
    await getBlob(`/v2/${repo}/blobs/${layer.digest}`, layer.bytes);
    const response = await getBlob(`/v2/hub/${repo}/blobs/${layer.digest}`, layer.bytes);
    expect(response.headers.get("X-Pier-Cache")).toBe("hit");
    expect(await blobGetServers(repo, layer.digest)).toEqual(["hub"]);
  });

  it("serves a local repository's blob locally, not the mirror's", async () => {
    const repo = uniqueRepo("library");
    await seedImage(repo, "v1");
    const local = await pushImage(repo, "v1", { seed: 45 });
    const response = await request(`/v2/${repo}/blobs/${local.layer.digest}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("X-Pier-Cache")).toBeNull();
    await response.arrayBuffer();
    expect(await upstreamLog(repo)).toEqual([]);
  });
});

describe("writes to prefixed upstream names", () => {
  const digest = `sha256:${"a".repeat(64)}`;
  it.each([
    ["a manifest PUT", "PUT", (repo: string) => `/v2/fake/${repo}/manifests/v1`, { body: '{"schemaVersion":2}', headers: { "Content-Type": OCI_MANIFEST } }],
    ["a blob upload POST", "POST", (repo: string) => `/v2/fake/${repo}/blobs/uploads/`, {}],
    ["a monolithic blob POST", "POST", (repo: string) => `/v2/hub/${repo}/blobs/uploads/?digest=${digest}`, { body: "x" }],
    ["a manifest DELETE", "DELETE", (repo: string) => `/v2/fake/${repo}/manifests/v1`, {}],
    ["a blob DELETE", "DELETE", (repo: string) => `/v2/fake/${repo}/blobs/${digest}`, {}],
  ])("refuses %s with 403 DENIED, and nothing reaches the upstream", async (_, method, path, init: RequestInit) => {
    const repo = uniqueRepo("library");
    await seedImage(repo, "v1");
    const response = await request(path(repo), { ...init, method });
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe("DENIED");
    expect(await upstreamLog(repo)).toEqual([]);
  });

  it("leaves the upstream's manifest readable after a refused PUT", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "v1");
    const refused = await request(`/v2/fake/${repo}/manifests/v1`, { method: "PUT", body: '{"schemaVersion":2}', headers: { "Content-Type": OCI_MANIFEST } });
    expect(refused.status).toBe(403);
    const { bytes } = await getManifest(`/v2/fake/${repo}/manifests/v1`);
    expect(bytes).toEqual(image.manifestBytes);
  });
});
