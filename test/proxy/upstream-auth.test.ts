// How Pier authenticates to upstreams (worker/proxy/upstream-client.ts), read from what the
// fake upstreams logged (test/helpers/fake-upstream-server.mjs):
//   fake     Bearer tokens from GET /token, anonymous
//   private  Bearer tokens; /token wants Basic puller:secret (FAKE_USER / FAKE_PASSWORD)
//   basic    Basic puller:secret on every /v2/ request
//   cdn      where redirectBlobs sends blob GETs; credentials must never reach it
// The challenge an upstream sent is remembered per isolate, so only the first request to an
// upstream in an isolate meets a 401; the first test below is that request for "fake".
import { describe, expect, it } from "vitest";
import { type LogEntry, seedImage, setBehaviour, uniqueRepo, upstreamLog } from "../helpers/fake-upstream";
import { bodyBytes, request } from "../helpers/registry";

const BASIC = `Basic ${btoa("puller:secret")}`;

/** GETs through Pier and checks for a 200; the body is read. */
async function pull(path: string): Promise<Uint8Array> {
  const response = await request(path);
  if (response.status !== 200) expect.fail(`GET ${path}: ${response.status} ${await response.text()}`);
  return bodyBytes(response);
}

const isToken = (entry: LogEntry) => entry.path.startsWith("/token");
const isRegistry = (entry: LogEntry) => entry.path.startsWith("/v2/");
const scheme = (entry: LogEntry) => entry.authorization?.split(" ")[0] ?? null;

/** The last request of the log that Pier sent to the registry API (the one that succeeded). */
function lastRegistryRequest(log: LogEntry[]): LogEntry {
  const entries = log.filter(isRegistry);
  expect(entries.length).toBeGreaterThan(0);
  return entries[entries.length - 1]!;
}

describe("the Bearer token flow (fake)", () => {
  it("answers the first 401 by asking the realm for a token, then retries with it", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "v1");
    await pull(`/v2/fake/${repo}/manifests/v1`);
    const log = await upstreamLog(repo);
    expect(log.map((entry) => [entry.server, entry.method, entry.path.split("?")[0], scheme(entry)])).toEqual([
      ["fake", "GET", `/v2/${repo}/manifests/v1`, null],
      ["fake", "GET", "/token", null],
      ["fake", "GET", `/v2/${repo}/manifests/v1`, "Bearer"],
    ]);
  });

  it("asks for the service the challenge named and a pull scope on the repository", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "v1");
    await pull(`/v2/fake/${repo}/manifests/v1`);
    const tokens = (await upstreamLog(repo)).filter(isToken);
    expect(tokens).toHaveLength(1);
    const query = new URL(tokens[0]!.path, "http://x").searchParams;
    expect(query.get("service")).toBe("fake-registry");
    expect(query.getAll("scope")).toEqual([`repository:${repo}:pull`]);
  });

  it("remembers the challenge: a new repository's first request already carries a token", async () => {
    const [first, second] = [uniqueRepo(), uniqueRepo()];
    await seedImage(first, "v1");
    await seedImage(second, "v1");
    await pull(`/v2/fake/${first}/manifests/v1`);
    await pull(`/v2/fake/${second}/manifests/v1`);
    const log = await upstreamLog(second);
    expect(log.map((entry) => [entry.path.split("?")[0], scheme(entry)])).toEqual([
      ["/token", null],
      [`/v2/${second}/manifests/v1`, "Bearer"],
    ]);
  });

  it("reuses the token for the same repository: a second tag costs no /token request", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "v1");
    await seedImage(repo, "v2");
    await pull(`/v2/fake/${repo}/manifests/v1`);
    const before = lastRegistryRequest(await upstreamLog(repo));
    await pull(`/v2/fake/${repo}/manifests/v2`);
    const log = await upstreamLog(repo);
    expect(log.filter(isToken)).toHaveLength(1);
    const after = lastRegistryRequest(log);
    expect(after.path).toBe(`/v2/${repo}/manifests/v2`);
    expect(after.authorization).toBe(before.authorization);
  });

  it("gets a separate token, scoped to it, for another repository", async () => {
    const [first, second] = [uniqueRepo(), uniqueRepo()];
    await seedImage(first, "v1");
    await seedImage(second, "v1");
    await pull(`/v2/fake/${first}/manifests/v1`);
    await pull(`/v2/fake/${second}/manifests/v1`);
    const tokens = (await upstreamLog(second)).filter(isToken);
    expect(tokens.map((entry) => new URL(entry.path, "http://x").searchParams.get("scope"))).toEqual([`repository:${second}:pull`]);
    const firstPull = lastRegistryRequest(await upstreamLog(first));
    const secondPull = lastRegistryRequest(await upstreamLog(second));
    expect(secondPull.authorization).toMatch(/^Bearer /);
    expect(secondPull.authorization).not.toBe(firstPull.authorization);
  });

  it("authenticates blob GETs too", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "v1");
    const layer = image.layers[0]!;
    expect(await pull(`/v2/fake/${repo}/blobs/${layer.digest}`)).toEqual(layer.bytes);
    const blobGets = (await upstreamLog(repo)).filter((entry) => entry.path === `/v2/${repo}/blobs/${layer.digest}` && entry.method === "GET");
    expect(blobGets.map(scheme)).toContain("Bearer");
  });
});

describe("credentials for the token endpoint (private)", () => {
  it("sends the upstream's credentials as Basic to the token endpoint", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "v1");
    expect(await pull(`/v2/private/${repo}/manifests/v1`)).toEqual(image.manifestBytes);
    const tokens = (await upstreamLog(repo)).filter(isToken);
    expect(tokens).toHaveLength(1);
    expect(tokens[0]!.server).toBe("private");
    expect(tokens[0]!.authorization).toBe(BASIC);
  });

  it("sends only the token to /v2/, never the credentials", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "v1");
    await pull(`/v2/private/${repo}/manifests/v1`);
    const registry = (await upstreamLog(repo)).filter(isRegistry);
    expect(registry.length).toBeGreaterThan(0);
    expect(registry.every((entry) => entry.authorization === null || entry.authorization.startsWith("Bearer "))).toBe(true);
    expect(scheme(lastRegistryRequest(registry))).toBe("Bearer");
  });
});

describe("Basic auth (basic)", () => {
  it("authenticates /v2/ requests with the upstream's credentials", async () => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "v1");
    expect(await pull(`/v2/basic/${repo}/manifests/v1`)).toEqual(image.manifestBytes);
    expect(lastRegistryRequest(await upstreamLog(repo)).authorization).toBe(BASIC);
  });

  it("asks no token endpoint", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "v1");
    await pull(`/v2/basic/${repo}/manifests/v1`);
    expect((await upstreamLog(repo)).filter(isToken)).toEqual([]);
  });
});

describe("redirects to a CDN", () => {
  it.each(["fake", "private", "basic"])("follows a blob redirect from %s without sending it any Authorization", async (upstream) => {
    const repo = uniqueRepo();
    const image = await seedImage(repo, "v1");
    const layer = image.layers[0]!;
    await setBehaviour(repo, { redirectBlobs: true });
    expect(await pull(`/v2/${upstream}/${repo}/blobs/${layer.digest}`)).toEqual(layer.bytes);
    const log = await upstreamLog(repo);
    const cdn = log.filter((entry) => entry.server === "cdn");
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.map((entry) => entry.authorization)).toEqual(cdn.map(() => null));
    // The redirect itself was answered to an authenticated request.
    const redirected = log.filter((entry) => entry.server === upstream && entry.path === `/v2/${repo}/blobs/${layer.digest}`);
    expect(redirected.map(scheme)).toContain(upstream === "basic" ? "Basic" : "Bearer");
  });
});
