// Referrers pagination (OCI distribution spec v1.1, "Listing Referrers": a registry MAY page
// with a `Link` header, as for tags) and how deletes show in the list.
import { describe, expect, it } from "vitest";
import { type Descriptor, nextLinkOf, OCI_MANIFEST, pushImage, pushReferrer, request, uniqueRepo } from "../helpers/registry";

async function subjectWithReferrers(label: string, count: number, artifactType = "application/vnd.example.a"): Promise<{ repository: string; subject: Descriptor; digests: string[] }> {
  const repository = uniqueRepo(label);
  const image = await pushImage(repository, "subject");
  const subject = { mediaType: OCI_MANIFEST, digest: image.digest, size: image.bytes.byteLength };
  const digests: string[] = [];
  for (let seed = 1; seed <= count; seed++) digests.push((await pushReferrer(repository, subject, { artifactType, seed })).digest);
  return { repository, subject, digests };
}

async function page(path: string): Promise<{ response: Response; digests: string[] }> {
  const response = await request(path);
  expect(response.status, await response.clone().text()).toBe(200);
  return { response, digests: ((await response.json()) as { manifests: Descriptor[] }).manifests.map((m) => m.digest) };
}

describe("referrers pagination", () => {
  it("returns n referrers and a Link to the next page", async () => {
    const { repository, subject } = await subjectWithReferrers("refpage/first", 3);
    const { response, digests } = await page(`/v2/${repository}/referrers/${subject.digest}?n=2`);
    expect(digests).toHaveLength(2);
    const next = nextLinkOf(response);
    expect(next).not.toBeNull();
    expect(next!.startsWith(`/v2/${repository}/referrers/${subject.digest}?`)).toBe(true);
    const query = new URL(next!, "http://registry.test").searchParams;
    expect(query.get("n")).toBe("2");
    expect(query.get("last")).toBe(digests[1]);
  });

  it("follows Link headers through every referrer exactly once and sends none on the last page", async () => {
    const { repository, subject, digests } = await subjectWithReferrers("refpage/walk", 5);
    const seen: string[] = [];
    let next: string | null = `/v2/${repository}/referrers/${subject.digest}?n=2`;
    let pages = 0;
    while (next !== null) {
      const result = await page(next);
      seen.push(...result.digests);
      next = nextLinkOf(result.response);
      pages += 1;
      expect(pages).toBeLessThan(10);
    }
    expect(pages).toBe(3);
    expect([...seen].sort()).toEqual([...digests].sort());
  });

  it("keeps the artifactType filter in the Link", async () => {
    const { repository, subject } = await subjectWithReferrers("refpage/filter", 3, "application/vnd.example.sbom");
    await pushReferrer(repository, subject, { artifactType: "application/vnd.example.other", seed: 50 });
    const first = await page(`/v2/${repository}/referrers/${subject.digest}?n=2&artifactType=application/vnd.example.sbom`);
    const next = nextLinkOf(first.response);
    expect(new URL(next!, "http://registry.test").searchParams.get("artifactType")).toBe("application/vnd.example.sbom");
    const second = await page(next!);
    expect(second.response.headers.get("OCI-Filters-Applied")).toBe("artifactType");
    expect(second.digests).toHaveLength(1);
    expect(nextLinkOf(second.response)).toBeNull();
  });

  it("sends no Link when every referrer fits on the page", async () => {
    const { repository, subject } = await subjectWithReferrers("refpage/fits", 2);
    const { response, digests } = await page(`/v2/${repository}/referrers/${subject.digest}?n=2`);
    expect(digests).toHaveLength(2);
    expect(response.headers.has("Link")).toBe(false);
  });
});

describe("referrers and deletes", () => {
  it("no longer lists a referrer deleted by digest", async () => {
    const { repository, subject, digests } = await subjectWithReferrers("refdel/gone", 2);
    expect((await request(`/v2/${repository}/manifests/${digests[0]}`, { method: "DELETE" })).status).toBe(202);
    const { digests: listed } = await page(`/v2/${repository}/referrers/${subject.digest}`);
    expect(listed).toEqual([digests[1]]);
  });

  it("still lists a referrer whose tag was deleted", async () => {
    const repository = uniqueRepo("refdel/tag");
    const image = await pushImage(repository, "subject");
    const subject = { mediaType: OCI_MANIFEST, digest: image.digest, size: image.bytes.byteLength };
    const referrer = await pushReferrer(repository, subject, { artifactType: "application/vnd.example.a", reference: "sig" });
    expect((await request(`/v2/${repository}/manifests/sig`, { method: "DELETE" })).status).toBe(202);
    const { digests } = await page(`/v2/${repository}/referrers/${subject.digest}`);
    expect(digests).toEqual([referrer.digest]);
  });
});
