// Replays the pull side of the OCI distribution-spec conformance suites, step by step:
//   - the legacy ginkgo suite's "Pull" workflow (conformance/01_pull_test.go before the 2025
//     redesign; OCI_TEST_PULL=1), with both teardown orders (OCI_DELETE_MANIFEST_BEFORE_BLOBS);
//   - the current suite's ping, empty-repository, missing-content, invalid-digest, range and
//     head/get checks (conformance/run.go, api.go), for sha256 and sha512.
// Each `it` is one request (or one setup step) with the status codes and headers the suite
// accepts; names say what the suite expects.
import { beforeAll, describe, expect, it } from "vitest";
import {
  blobGetExistsFull,
  blobHeadExists,
  expectStatus,
  LEGACY_ERROR_CODES,
  legacyDelete,
  legacySetupBlob,
  legacySetupManifest,
  manifestExists,
  pushDataSet,
  pushBlobAny,
  referrersList,
  tagList,
  verifyDigest,
} from "../helpers/conformance-api";
import { type Algo, ALGOS, type LegacyFixtures, legacyFixtures, TestData } from "../helpers/conformance-data";
import { bytesOf, digestOf, OCI_MANIFEST, request, uniqueRepo } from "../helpers/registry";

/** The legacy suite's "nonexistent manifest": not a valid tag at all. */
const NONEXISTENT_MANIFEST = ".INVALID_MANIFEST_NAME";
const ACCEPT_IMAGE = { Accept: OCI_MANIFEST };

describe("GET /v2/ (ping, both suites)", () => {
  it("answers 200", async () => {
    await expectStatus(await request("/v2/"), "ping", 200);
  });
});

describe.each([true, false])("legacy suite, Pull workflow (OCI_DELETE_MANIFEST_BEFORE_BLOBS=%s)", (manifestsFirst) => {
  const repo = uniqueRepo("conformance/pull");
  const tag = "tagtest0";
  let fx: LegacyFixtures;
  let dummy: string;

  beforeAll(async () => {
    fx = await legacyFixtures();
    dummy = await digestOf(bytesOf("hello world"));
  });

  it("setup: POST+PUT of config[0], config[1] and the layer each answer 2xx", async () => {
    for (const blob of [fx.configs[0]!, fx.configs[1]!, fx.layer]) await legacySetupBlob(repo, blob);
  });

  it("setup: PUT of manifest[0] by tag and manifest[1] by digest answer 2xx", async () => {
    await legacySetupManifest(repo, tag, fx.manifests[0]!.bytes);
    await legacySetupManifest(repo, fx.manifests[1]!.digest, fx.manifests[1]!.bytes);
  });

  it("HEAD on a nonexistent blob answers 404", async () => {
    await expectStatus(await request(`/v2/${repo}/blobs/${dummy}`, { method: "HEAD" }), "HEAD", 404);
  });

  it("HEAD on an existing blob answers 200 (Docker-Content-Digest, if sent, is the digest)", async () => {
    const response = await request(`/v2/${repo}/blobs/${fx.configs[0]!.digest}`, { method: "HEAD" });
    await expectStatus(response, "HEAD", 200);
    verifyDigest(response, fx.configs[0]!.digest);
  });

  it("GET on a nonexistent blob answers 404", async () => {
    await expectStatus(await request(`/v2/${repo}/blobs/${dummy}`), "GET", 404);
  });

  it("GET on an existing blob answers 200", async () => {
    await expectStatus(await request(`/v2/${repo}/blobs/${fx.configs[0]!.digest}`), "GET", 200);
  });

  it(`HEAD on the nonexistent manifest "${NONEXISTENT_MANIFEST}" answers exactly 404`, async () => {
    const response = await request(`/v2/${repo}/manifests/${NONEXISTENT_MANIFEST}`, { method: "HEAD" });
    await expectStatus(response, "HEAD", 404);
  });

  it("HEAD on manifest[0] and manifest[1] by digest answers 200 with their digests", async () => {
    for (const manifest of [fx.manifests[0]!, fx.manifests[1]!]) {
      const response = await request(`/v2/${repo}/manifests/${manifest.digest}`, { method: "HEAD", headers: ACCEPT_IMAGE });
      await expectStatus(response, "HEAD", 200);
      verifyDigest(response, manifest.digest);
    }
  });

  it("HEAD on the manifest by tag answers 200 with manifest[0]'s digest", async () => {
    const response = await request(`/v2/${repo}/manifests/${tag}`, { method: "HEAD", headers: ACCEPT_IMAGE });
    await expectStatus(response, "HEAD", 200);
    verifyDigest(response, fx.manifests[0]!.digest);
  });

  it(`GET on the nonexistent manifest "${NONEXISTENT_MANIFEST}" answers exactly 404`, async () => {
    await expectStatus(await request(`/v2/${repo}/manifests/${NONEXISTENT_MANIFEST}`), "GET", 404);
  });

  it("GET on manifest[0] and manifest[1] by digest, and on the tag, answers 200", async () => {
    for (const reference of [fx.manifests[0]!.digest, fx.manifests[1]!.digest, tag]) {
      await expectStatus(await request(`/v2/${repo}/manifests/${reference}`, { headers: ACCEPT_IMAGE }), `GET ${reference}`, 200);
    }
  });

  it("GET on manifests/sha256:totallywrong answers 404, or 400 with a code the suite knows", async () => {
    // The suite also sends a body ("blablabla") with this GET; fetch cannot, and it changes nothing.
    const response = await request(`/v2/${repo}/manifests/sha256:totallywrong`, { headers: { "Content-Type": OCI_MANIFEST } });
    await expectStatus(response, "GET", 400, 404);
    if (response.status === 400) {
      const body = (await response.json()) as { errors: { code: string }[] };
      expect(LEGACY_ERROR_CODES).toContain(body.errors[0]!.code);
    }
  });

  it("teardown: DELETE of manifests answers 2xx or 405, of blobs 2xx, 404 or 405", async () => {
    const deleteManifests = async () => {
      for (const m of [fx.manifests[0]!, fx.manifests[1]!]) await legacyDelete(`/v2/${repo}/manifests/${m.digest}`, 405);
    };
    if (manifestsFirst) await deleteManifests();
    for (const blob of [fx.configs[0]!, fx.configs[1]!, fx.layer]) await legacyDelete(`/v2/${repo}/blobs/${blob.digest}`, 404, 405);
    if (!manifestsFirst) await deleteManifests();
  });
});

describe("current suite: the empty repository and missing content", () => {
  const repo = uniqueRepo("conformance/empty");

  it("tag list of a repository never pushed to answers 200 or 404", async () => {
    expect(await tagList(repo)).toEqual([]);
  });

  it("referrers of a random digest answer 200 with an empty OCI index", async () => {
    const answer = await referrersList(repo, await digestOf(bytesOf(crypto.randomUUID())));
    expect(answer.manifests).toEqual([]);
  });

  it("GET of a manifest by an unknown digest answers 404", async () => {
    const digest = await digestOf(crypto.getRandomValues(new Uint8Array(1024)));
    await expectStatus(await request(`/v2/${repo}/manifests/${digest}`), "GET", 404);
  });

  it("GET of a manifest by an unknown tag (missing-<20 chars>) answers 404", async () => {
    const response = await request(`/v2/${repo}/manifests/missing-${crypto.randomUUID().replace(/-/g, "").slice(0, 20)}`);
    await expectStatus(response, "GET", 404);
  });

  it("PUT of a manifest at manifests/sha256:baddigeststring answers 400", async () => {
    const td = new TestData("invalid-digest-format");
    const digest = await td.genManifestFull({ layerCount: 1 });
    for (const [blob, bytes] of td.blobs) await pushBlobAny(repo, blob, bytes);
    const body = td.manifests.get(digest)!;
    const response = await request(`/v2/${repo}/manifests/sha256:baddigeststring`, { method: "PUT", body, headers: { "Content-Type": OCI_MANIFEST } });
    await expectStatus(response, "PUT", 400);
  });

  it("GET of manifests/sha256:baddigeststring answers 400 or 404", async () => {
    await expectStatus(await request(`/v2/${repo}/manifests/sha256:baddigeststring`), "GET", 400, 404);
  });
});

describe.each(ALGOS)("current suite: blob range requests (%s)", (algo: Algo) => {
  const repo = uniqueRepo("conformance/range");
  const td = new TestData(`range-${algo}`);
  let digest: string;
  let bytes: Uint8Array;

  beforeAll(async () => {
    ({ digest, bytes } = await td.genBlob(2048, { algo }));
    await pushBlobAny(repo, digest, bytes);
  });

  const get = (range: string) => request(`/v2/${repo}/blobs/${digest}`, { headers: { Range: range } });

  it.each([
    ["bytes=500-1499", 500, 1499],
    ["bytes=500-", 500, 2047],
    ["bytes=-500", 1548, 2047],
    ["bytes=2000-5000", 2000, 2047],
  ])("%s answers 206 with Content-Length, Content-Range and the bytes", async (range, first, last) => {
    const response = await get(range);
    await expectStatus(response, range, 206);
    expect(response.headers.get("Content-Length")).toBe(String(last - first + 1));
    expect(response.headers.get("Content-Range")).toBeOneOf([`bytes ${first}-${last}/2048`, `bytes ${first}-${last}/*`]);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes.slice(first, last + 1));
  });

  it("bytes=5000-10000 answers 416", async () => {
    await expectStatus(await get("bytes=5000-10000"), "range past the end", 416);
  });

  it("bytes=500-0 answers 416 (a full 200 is recorded as 'range request unsupported', a Skip)", async () => {
    const response = await get("bytes=500-0");
    await expectStatus(response, "inverted range", 200, 416);
    if (response.status === 200) expect(new Uint8Array(await response.arrayBuffer()).byteLength).toBe(2048);
    expect(response.status, "the suite counts the fallback to 200 as unsupported").toBe(416);
  });
});

describe.each([
  ["image (sha256)", "sha256" as Algo],
  ["index of images (sha512, pushed by digest only)", "sha512" as Algo],
])("current suite: HEAD and GET on pushed content, %s", (_name, algo) => {
  const repo = uniqueRepo("conformance/pull-data");
  const td = new TestData(algo);

  beforeAll(async () => {
    if (algo === "sha256") await td.genManifestFull({ tag: "image" });
    else await td.genIndexFull({ algo });
    await pushDataSet(repo, td);
  });

  it("HEAD of each manifest by tag and by digest answers 200: Content-Type, Content-Length, digest, no body", async () => {
    for (const [tag, digest] of td.tags) await manifestExists("HEAD", repo, tag, digest, td.manifests.get(digest)!);
    for (const digest of td.manOrder) await manifestExists("HEAD", repo, digest, digest, td.manifests.get(digest)!);
  });

  it("GET of each manifest by tag and by digest answers 200 with the exact bytes", async () => {
    for (const [tag, digest] of td.tags) await manifestExists("GET", repo, tag, digest, td.manifests.get(digest)!);
    for (const digest of td.manOrder) await manifestExists("GET", repo, digest, digest, td.manifests.get(digest)!);
  });

  it("HEAD and GET of each blob answer 200 with Content-Length and Docker-Content-Digest", async () => {
    for (const [digest, bytes] of td.blobs) {
      await blobHeadExists(repo, digest, bytes);
      await blobGetExistsFull(repo, digest, bytes);
    }
  });

  it("Docker-Content-Digest is sent on GET and HEAD (required with OCI_VERSION=dev)", async () => {
    const digest = td.manOrder.at(-1)!;
    for (const method of ["GET", "HEAD"]) {
      verifyDigest(await request(`/v2/${repo}/manifests/${digest}`, { method }), digest, true);
      const blob = [...td.blobs.keys()][0]!;
      verifyDigest(await request(`/v2/${repo}/blobs/${blob}`, { method }), blob, true);
    }
  });
});
