// Replays content discovery in the OCI distribution-spec conformance suites, step by step:
//   - the legacy ginkgo suite's "Content Discovery" workflow (conformance/03_discovery_test.go
//     before the 2025 redesign; OCI_TEST_CONTENT_DISCOVERY=1): eight tags test0..3/TEST0..3,
//     sorted listing, `n` and `last`, five referrers of one subject (two by config media type,
//     two by artifactType, one index), the artifactType filter and OCI-Filters-Applied, a
//     referrer whose subject was never pushed, and the teardown in both orders;
//   - the current suite's tag listing with `last` and its referrers data sets (artifacts with
//     a subject, an index with a subject whose children carry it too, a missing subject).
import { beforeAll, describe, expect, it } from "vitest";
import {
  deleteDataSet,
  expectStatus,
  legacyDelete,
  legacySetupBlob,
  legacySetupManifest,
  listDataSet,
  pushDataSet,
  referrersList,
  sameReferrer,
  tagList,
} from "../helpers/conformance-api";
import { type Desc, type Fixture, type LegacyFixtures, legacyFixtures, MT_EXAMPLE1, MT_EXAMPLE2, MT_OCTET, TestData } from "../helpers/conformance-data";
import { bytesOf, digestOf, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, request, uniqueRepo } from "../helpers/registry";

const ANNOTATION = "org.opencontainers.conformance.test";
const TYPE_A = "application/vnd.conformance.peanut.butter";
const TYPE_B = "application/vnd.conformance.strawberry.jam";
const TYPE_INDEX = "application/vnd.conformance.food.stand";

/** Go's MarshalIndent of the legacy suite's structs: every descriptor has `newUnspecifiedField: null`. */
function legacyDoc(value: object): Uint8Array {
  return bytesOf(JSON.stringify(value, null, "\t"));
}
const d = (mediaType: string, f: Fixture) => ({ mediaType, digest: f.digest, size: f.bytes.byteLength, newUnspecifiedField: null });

describe.each([true, false])("legacy suite, Content Discovery workflow (OCI_DELETE_MANIFEST_BEFORE_BLOBS=%s)", (manifestsFirst) => {
  const repo = uniqueRepo("conformance/discovery");
  let fx: LegacyFixtures;
  let empty: Fixture, refA: Fixture, refB: Fixture;
  const refs: Record<"aConfig" | "aLayer" | "index" | "bConfig" | "bLayer" | "c", Fixture> = {} as never;
  const annotations = new Map<string, string>();
  let tags: string[] = [];
  let numTags = 0;

  beforeAll(async () => {
    fx = await legacyFixtures();
    const fixture = async (bytes: Uint8Array) => ({ bytes, digest: await digestOf(bytes) });
    empty = await fixture(bytesOf("{}"));
    refA = await fixture(bytesOf("peanut butter on a bagel"));
    refB = await fixture(bytesOf("strawberry jam on a croissant"));
    const subject = d(OCI_MANIFEST, fx.manifests[4]!);
    const artifact = async (name: keyof typeof refs, body: object, note?: string) => {
      const doc = note === undefined ? body : { ...body, annotations: { [ANNOTATION]: note } };
      refs[name] = await fixture(legacyDoc(doc));
      if (note !== undefined) annotations.set(refs[name].digest, note);
    };
    const base = { schemaVersion: 2, mediaType: OCI_MANIFEST };
    await artifact("aConfig", { ...base, config: d(TYPE_A, refA), layers: [d(OCI_EMPTY, empty)], subject }, "test config a");
    await artifact("bConfig", { ...base, config: d(TYPE_B, refB), layers: [d(OCI_EMPTY, empty)], subject }, "test config b");
    await artifact("aLayer", { ...base, artifactType: TYPE_A, config: d(OCI_EMPTY, empty), layers: [d(TYPE_A, refA)], subject }, "test layer a");
    await artifact("bLayer", { ...base, artifactType: TYPE_B, config: d(OCI_EMPTY, empty), layers: [d(TYPE_B, refB)], subject }, "test layer b");
    const missing = d(OCI_MANIFEST, fx.manifests[3]!);
    await artifact("c", { ...base, artifactType: TYPE_B, config: d(OCI_EMPTY, empty), layers: [d(TYPE_B, refB)], subject: missing });
    const children = [d(OCI_MANIFEST, refs.aConfig), d(OCI_MANIFEST, refs.aLayer)];
    await artifact("index", { schemaVersion: 2, mediaType: OCI_INDEX, artifactType: TYPE_INDEX, manifests: children, subject }, "test index");
  });

  it("setup: config[2] and the layer are pushed; manifest[2] is tagged test0..3 and TEST0..3 (2xx)", async () => {
    await legacySetupBlob(repo, fx.configs[2]!);
    await legacySetupBlob(repo, fx.layer);
    for (let i = 0; i < 4; i++) for (const tag of [`test${i}`, `TEST${i}`]) await legacySetupManifest(repo, tag, fx.manifests[2]!.bytes);
  });

  it("setup: `{}` has digest sha256:44136fa3…; referrers pushed before their subject answer OCI-Subject", async () => {
    expect(empty.digest).toBe("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    await legacySetupBlob(repo, empty);
    await legacySetupBlob(repo, refA);
    for (const [name, type] of [["aConfig", OCI_MANIFEST], ["aLayer", OCI_MANIFEST], ["index", OCI_INDEX]] as const) {
      const put = await legacySetupManifest(repo, refs[name].digest, refs[name].bytes, type);
      expect(put.headers.get("OCI-Subject"), name).toBe(fx.manifests[4]!.digest);
    }
  });

  it("setup: the subject (manifest[4], tag tagtest0), then referrers after it, answer OCI-Subject", async () => {
    await legacySetupBlob(repo, fx.configs[4]!);
    await legacySetupBlob(repo, fx.layer);
    await legacySetupManifest(repo, "tagtest0", fx.manifests[4]!.bytes);
    await legacySetupBlob(repo, refB);
    for (const name of ["bConfig", "bLayer"] as const) {
      const put = await legacySetupManifest(repo, refs[name].digest, refs[name].bytes);
      expect(put.headers.get("OCI-Subject"), name).toBe(fx.manifests[4]!.digest);
    }
    const put = await legacySetupManifest(repo, refs.c.digest, refs.c.bytes);
    expect(put.headers.get("OCI-Subject"), "subject never pushed").toBe(fx.manifests[3]!.digest);
  });

  it("GET tags/list answers 200, sorted case-insensitively or by bytes", async () => {
    tags = await tagList(repo);
    numTags = tags.length;
    const lexical = [...tags].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0));
    const bytewise = [...tags].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect([lexical, bytewise]).toContainEqual(tags);
    expect(numTags).toBe(9);
  });

  it("GET tags/list?n=<half> answers exactly that many tags", async () => {
    expect(await tagList(repo, { n: String(numTags >> 1) })).toHaveLength(numTags >> 1);
  });

  it("GET tags/list?n=<half>&last=<last of the first page> answers at most n tags, without `last`", async () => {
    const n = numTags >> 1;
    const first = await tagList(repo, { n: String(n) });
    const next = await tagList(repo, { n: String(n), last: first[n - 1]! });
    expect(next.length).toBeLessThanOrEqual(n);
    expect(next).not.toContain(first[n - 1]);
  });

  it("GET referrers of a digest nothing refers to answers 200, an OCI index with no manifests", async () => {
    expect((await referrersList(repo, await digestOf(bytesOf("hello world")))).manifests).toHaveLength(0);
  });

  it("GET referrers of manifest[4] lists the 5 referrers, each with exactly its one annotation", async () => {
    const { manifests } = await referrersList(repo, fx.manifests[4]!.digest);
    expect(manifests).toHaveLength(5);
    expect(manifests[0]!.digest).not.toBe(manifests[1]!.digest);
    for (const entry of manifests) expect(entry.annotations).toEqual({ [ANNOTATION]: annotations.get(entry.digest) });
  });

  it("GET referrers ?artifactType=<A> answers the 2 of type A and OCI-Filters-Applied: artifactType", async () => {
    const { manifests, filtersApplied } = await referrersList(repo, fx.manifests[4]!.digest, TYPE_A);
    expect(filtersApplied, "without the header the suite expects all 5 and warns").toBe(true);
    expect(manifests.map((m) => m.digest).sort()).toEqual([refs.aConfig.digest, refs.aLayer.digest].sort());
    for (const entry of manifests) expect(entry.annotations).toEqual({ [ANNOTATION]: annotations.get(entry.digest) });
  });

  it("GET referrers of manifest[3] (never pushed) answers 200 with the one referrer C", async () => {
    const { manifests } = await referrersList(repo, fx.manifests[3]!.digest);
    expect(manifests.map((m) => m.digest)).toEqual([refs.c.digest]);
  });

  it("teardown: manifests answer 2xx, 404 or 405; blobs 2xx, 404 or 405", async () => {
    const manifests = [refs.index, fx.manifests[2]!, fx.manifests[4]!, refs.aConfig, refs.aLayer, refs.bConfig, refs.bLayer, refs.c];
    const deleteManifests = async () => {
      for (const m of manifests) await legacyDelete(`/v2/${repo}/manifests/${m.digest}`, 404, 405);
    };
    if (manifestsFirst) await deleteManifests();
    for (const blob of [fx.configs[2]!, fx.layer, fx.configs[4]!, refA, refB, empty]) await legacyDelete(`/v2/${repo}/blobs/${blob.digest}`, 404, 405);
    if (!manifestsFirst) await deleteManifests();
  });
});

/** The suite's referrers check for one data set: every expected descriptor, then per artifactType. */
async function expectReferrers(repo: string, td: TestData): Promise<void> {
  expect(td.referrers.size).toBeGreaterThan(0);
  for (const [subject, goals] of td.referrers) {
    const { manifests } = await referrersList(repo, subject);
    for (const goal of goals) expect(manifests.some((m) => sameReferrer(m, goal)), `referrer ${JSON.stringify(goal)}`).toBe(true);
    for (const type of new Set(goals.map((g) => g.artifactType ?? ""))) {
      const filtered = await referrersList(repo, subject, type);
      expect(filtered.filtersApplied, `OCI-Filters-Applied for ${type} (else recorded as unsupported)`).toBe(true);
      for (const goal of goals.filter((g) => (g.artifactType ?? "") === type)) {
        expect(filtered.manifests.some((m) => sameReferrer(m, goal)), `filtered referrer ${goal.digest}`).toBe(true);
      }
      for (const entry of filtered.manifests) expect(entry.artifactType ?? "", "entry outside the filter").toBe(type);
    }
  }
}

const note = { "org.opencontainers.conformance": "hello conformance test" };
const artifactOf = (type: string, layerType: string) => ({
  artifactType: type,
  annotations: note,
  annotationUniq: true,
  configMediaType: OCI_EMPTY,
  configBytes: bytesOf("{}"),
  layerCount: 1,
  layerMediaType: layerType,
});

const DATA_SETS: [string, (td: TestData) => Promise<void>][] = [
  [
    "artifacts with subject",
    async (td) => {
      const subject = td.descriptor(await td.genManifestFull({ tag: "image" }));
      await td.genManifestFull({ subject });
      await td.genManifestFull({ ...artifactOf(MT_EXAMPLE1, MT_EXAMPLE1), subject, tag: "tagged-artifact1" });
      await td.genManifestFull({ ...artifactOf(MT_EXAMPLE2, MT_OCTET), subject, tag: "tagged-artifact2" });
    },
  ],
  [
    "index with subject (its child images carry the subject too)",
    async (td) => {
      const subject: Desc = td.descriptor(await td.genIndexFull({ tag: "index" }));
      await td.genIndexFull({ ...artifactOf(MT_EXAMPLE1, MT_EXAMPLE1), subject, tag: "tagged-artifact" });
    },
  ],
  [
    "missing subject",
    async (td) => {
      const subject = { mediaType: OCI_MANIFEST, size: 123, digest: await digestOf(bytesOf("missing content")) };
      await td.genManifestFull({ ...artifactOf(MT_EXAMPLE1, MT_EXAMPLE1), subject, tag: "tagged-artifact" });
    },
  ],
];

describe.each(DATA_SETS)("current suite: data set %s", (name, generate) => {
  const repo = uniqueRepo("conformance/referrers");
  const td = new TestData(name);

  beforeAll(() => generate(td));

  it("push: blobs, manifests by digest (OCI-Subject on each with a subject), tags", async () => {
    await pushDataSet(repo, td);
  });

  it("tag list holds every tag, and `last` pages after the middle tag", async () => {
    await listDataSet(repo, td);
  });

  it("referrers: every expected descriptor (mediaType, size, artifactType, annotations), filtered per artifactType", async () => {
    await expectReferrers(repo, td);
  });

  it("delete: tags, manifests, blobs, each gone at once", async () => {
    expect(await deleteDataSet(repo, td)).toBe("pass");
    await expectStatus(await request(`/v2/${repo}/tags/list`), "tags/list after delete", 200, 404);
  });
});

