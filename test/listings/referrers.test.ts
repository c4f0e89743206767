// The referrers API (OCI distribution spec v1.1, "Listing Referrers"): an OCI image index of
// the manifests whose subject is <digest>, filterable by artifactType, never a 404.
import { describe, expect, it } from "vitest";
import {
  type Descriptor,
  digestOf,
  errorCode,
  jsonBytes,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  pushManifest,
  pushReferrer,
  randomBytes,
  request,
  uniqueRepo,
} from "../helpers/registry";

interface ReferrersIndex {
  schemaVersion: number;
  mediaType: string;
  manifests: Descriptor[];
}

async function subjectIn(repository: string): Promise<Descriptor> {
  const image = await pushImage(repository, "subject");
  return { mediaType: OCI_MANIFEST, digest: image.digest, size: image.bytes.byteLength };
}

async function referrers(path: string): Promise<{ response: Response; index: ReferrersIndex }> {
  const response = await request(path);
  expect(response.status, await response.clone().text()).toBe(200);
  return { response, index: (await response.json()) as ReferrersIndex };
}

describe("GET /v2/<name>/referrers/<digest>", () => {
  it("answers an OCI image index with its Content-Type and schemaVersion 2", async () => {
    const repository = uniqueRepo("referrers/shape");
    const subject = await subjectIn(repository);
    await pushReferrer(repository, subject, { artifactType: "application/vnd.example.sbom" });
    const { response, index } = await referrers(`/v2/${repository}/referrers/${subject.digest}`);
    expect(response.headers.get("Content-Type")).toBe(OCI_INDEX);
    expect(index.schemaVersion).toBe(2);
    expect(index.mediaType).toBe(OCI_INDEX);
  });

  it("describes each referrer by mediaType, digest, size, artifactType and annotations", async () => {
    const repository = uniqueRepo("referrers/descriptor");
    const subject = await subjectIn(repository);
    const annotations = { "org.opencontainers.image.created": "2024-05-01T00:00:00Z", "com.example.kind": "sbom" };
    const referrer = await pushReferrer(repository, subject, { artifactType: "application/vnd.example.sbom", annotations });
    const { index } = await referrers(`/v2/${repository}/referrers/${subject.digest}`);
    expect(index.manifests).toEqual([
      { mediaType: OCI_MANIFEST, digest: referrer.digest, size: referrer.bytes.byteLength, artifactType: "application/vnd.example.sbom", annotations },
    ]);
  });

  it("uses the config media type as artifactType when the manifest has none", async () => {
    const repository = uniqueRepo("referrers/configtype");
    const subject = await subjectIn(repository);
    const config = await pushBlob(repository, jsonBytes({ kind: "signature" }), "application/vnd.example.signature.config+json");
    const referrer = await pushReferrer(repository, subject, { config });
    const { index } = await referrers(`/v2/${repository}/referrers/${subject.digest}`);
    expect(index.manifests).toEqual([
      { mediaType: OCI_MANIFEST, digest: referrer.digest, size: referrer.bytes.byteLength, artifactType: "application/vnd.example.signature.config+json" },
    ]);
  });

  it("lists an index whose subject is the digest", async () => {
    const repository = uniqueRepo("referrers/index");
    const subject = await subjectIn(repository);
    const bytes = jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, artifactType: "application/vnd.example.bundle", manifests: [], subject });
    const digest = await pushManifest(repository, await digestOf(bytes), bytes, OCI_INDEX);
    const { index } = await referrers(`/v2/${repository}/referrers/${subject.digest}`);
    expect(index.manifests).toEqual([{ mediaType: OCI_INDEX, digest, size: bytes.byteLength, artifactType: "application/vnd.example.bundle" }]);
  });

  it("lists referrers pushed before their subject exists", async () => {
    const repository = uniqueRepo("referrers/early");
    const missing = randomBytes(40, 77);
    const subject = { mediaType: OCI_MANIFEST, digest: await digestOf(missing), size: missing.byteLength };
    const referrer = await pushReferrer(repository, subject, { artifactType: "application/vnd.example.sig" });
    const { index } = await referrers(`/v2/${repository}/referrers/${subject.digest}`);
    expect(index.manifests.map((m) => m.digest)).toEqual([referrer.digest]);
  });

  it("lists only manifests whose subject is that digest", async () => {
    const repository = uniqueRepo("referrers/only");
    const subject = await subjectIn(repository);
    const other = await pushImage(repository, "other", { seed: 5 });
    const mine = await pushReferrer(repository, subject, { artifactType: "application/vnd.example.a", seed: 1 });
    await pushReferrer(repository, { mediaType: OCI_MANIFEST, digest: other.digest, size: other.bytes.byteLength }, { artifactType: "application/vnd.example.a", seed: 2 });
    const { index } = await referrers(`/v2/${repository}/referrers/${subject.digest}`);
    expect(index.manifests.map((m) => m.digest)).toEqual([mine.digest]);
  });

  it("does not list referrers held by another repository", async () => {
    const a = uniqueRepo("referrers/repoa");
    const b = uniqueRepo("referrers/repob");
    const subject = await subjectIn(a);
    await pushImage(b, "subject");
    await pushReferrer(b, subject, { artifactType: "application/vnd.example.a" });
    const { index } = await referrers(`/v2/${a}/referrers/${subject.digest}`);
    expect(index.manifests).toEqual([]);
  });

  it("answers 200 with an empty manifests list when nothing refers to the digest", async () => {
    const repository = uniqueRepo("referrers/none");
    const subject = await subjectIn(repository);
    const { response, index } = await referrers(`/v2/${repository}/referrers/${subject.digest}`);
    expect(response.headers.get("Content-Type")).toBe(OCI_INDEX);
    expect(index).toEqual({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
  });

  it("answers 200 with an empty list, not 404, for a repository that does not exist", async () => {
    const { index } = await referrers(`/v2/${uniqueRepo("referrers/norepo")}/referrers/${await digestOf(randomBytes(4, 4))}`);
    expect(index.manifests).toEqual([]);
  });

  it("refuses an invalid digest with 400 DIGEST_INVALID", async () => {
    const response = await request(`/v2/${uniqueRepo("referrers/bad")}/referrers/sha256:nope`);
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe("DIGEST_INVALID");
  });

  it("refuses a tag in place of the digest with 400", async () => {
    const response = await request(`/v2/${uniqueRepo("referrers/tag")}/referrers/latest`);
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe("DIGEST_INVALID");
  });
});

describe("the artifactType filter", () => {
  it("returns only referrers of that artifactType and says so in OCI-Filters-Applied", async () => {
    const repository = uniqueRepo("referrers/filter");
    const subject = await subjectIn(repository);
    const sbom = await pushReferrer(repository, subject, { artifactType: "application/vnd.example.sbom", seed: 1 });
    await pushReferrer(repository, subject, { artifactType: "application/vnd.example.sig", seed: 2 });
    const { response, index } = await referrers(`/v2/${repository}/referrers/${subject.digest}?artifactType=${encodeURIComponent("application/vnd.example.sbom")}`);
    expect(response.headers.get("OCI-Filters-Applied")).toBe("artifactType");
    expect(index.manifests.map((m) => m.digest)).toEqual([sbom.digest]);
  });

  it("matches the config media type of a manifest without artifactType", async () => {
    const repository = uniqueRepo("referrers/filterconfig");
    const subject = await subjectIn(repository);
    const config = await pushBlob(repository, jsonBytes({ v: 1 }), OCI_CONFIG);
    const plain = await pushReferrer(repository, subject, { config, seed: 3 });
    const { index } = await referrers(`/v2/${repository}/referrers/${subject.digest}?artifactType=${encodeURIComponent(OCI_CONFIG)}`);
    expect(index.manifests.map((m) => m.digest)).toEqual([plain.digest]);
  });

  it("answers an empty list when nothing matches the filter", async () => {
    const repository = uniqueRepo("referrers/nomatch");
    const subject = await subjectIn(repository);
    await pushReferrer(repository, subject, { artifactType: "application/vnd.example.sbom" });
    const { response, index } = await referrers(`/v2/${repository}/referrers/${subject.digest}?artifactType=application/vnd.example.other`);
    expect(response.headers.get("OCI-Filters-Applied")).toBe("artifactType");
    expect(index.manifests).toEqual([]);
  });

  it("sends no OCI-Filters-Applied header without a filter", async () => {
    const repository = uniqueRepo("referrers/nofilter");
    const subject = await subjectIn(repository);
    const { response } = await referrers(`/v2/${repository}/referrers/${subject.digest}`);
    expect(response.headers.has("OCI-Filters-Applied")).toBe(false);
  });
});
