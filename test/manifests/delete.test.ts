// Deleting manifests and tags (OCI distribution spec v1.1, "Deleting tags", "Deleting
// Manifests"): 202 on success, 404 MANIFEST_UNKNOWN for what is not there.
import { describe, expect, it } from "vitest";
import { digestOf, errorCode, pushImage, pushManifest, randomBytes, request, uniqueRepo } from "../helpers/registry";

function del(repository: string, reference: string): Promise<Response> {
  return request(`/v2/${repository}/manifests/${reference}`, { method: "DELETE" });
}

async function expectUnknown(response: Response): Promise<void> {
  expect(response.status).toBe(404);
  expect(await errorCode(response)).toBe("MANIFEST_UNKNOWN");
}

async function tagsOf(repository: string): Promise<string[]> {
  const response = await request(`/v2/${repository}/tags/list`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { tags: string[] }).tags;
}

describe("DELETE by digest", () => {
  it("answers 202", async () => {
    const repository = uniqueRepo("delete/digest");
    const { digest } = await pushImage(repository, "v1");
    expect((await del(repository, digest)).status).toBe(202);
  });

  it("removes the manifest", async () => {
    const repository = uniqueRepo("delete/gone");
    const { digest } = await pushImage(repository, "v1");
    await del(repository, digest);
    await expectUnknown(await request(`/v2/${repository}/manifests/${digest}`));
  });

  it("removes every tag pointing at the manifest", async () => {
    const repository = uniqueRepo("delete/alltags");
    const { digest, bytes } = await pushImage(repository, "v1");
    await pushManifest(repository, "v1.0", bytes);
    await pushManifest(repository, "latest", bytes);
    await del(repository, digest);
    for (const tag of ["v1", "v1.0", "latest"]) await expectUnknown(await request(`/v2/${repository}/manifests/${tag}`));
    expect(await tagsOf(repository)).toEqual([]);
  });

  it("keeps tags pointing at other manifests", async () => {
    const repository = uniqueRepo("delete/othertags");
    const first = await pushImage(repository, "one", { seed: 1 });
    const second = await pushImage(repository, "two", { seed: 2 });
    await del(repository, first.digest);
    expect(await tagsOf(repository)).toEqual(["two"]);
    expect((await request(`/v2/${repository}/manifests/two`)).headers.get("Docker-Content-Digest")).toBe(second.digest);
  });

  it("answers 404 MANIFEST_UNKNOWN the second time", async () => {
    const repository = uniqueRepo("delete/twice");
    const { digest } = await pushImage(repository, "v1");
    expect((await del(repository, digest)).status).toBe(202);
    await expectUnknown(await del(repository, digest));
  });

  it("lets the same manifest be pushed again afterwards", async () => {
    const repository = uniqueRepo("delete/repush");
    const { digest, bytes } = await pushImage(repository, "v1");
    await del(repository, digest);
    expect(await pushManifest(repository, "v1", bytes)).toBe(digest);
    const response = await request(`/v2/${repository}/manifests/v1`);
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
  });
});

describe("DELETE by tag", () => {
  it("answers 202", async () => {
    const repository = uniqueRepo("delete/tag");
    await pushImage(repository, "v1");
    expect((await del(repository, "v1")).status).toBe(202);
  });

  it("removes only the tag: the manifest stays reachable by digest", async () => {
    const repository = uniqueRepo("delete/tagonly");
    const { digest, bytes } = await pushImage(repository, "v1");
    await del(repository, "v1");
    await expectUnknown(await request(`/v2/${repository}/manifests/v1`));
    const response = await request(`/v2/${repository}/manifests/${digest}`);
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
  });

  it("leaves the manifest's other tags in place", async () => {
    const repository = uniqueRepo("delete/sibling");
    const { bytes, digest } = await pushImage(repository, "v1");
    await pushManifest(repository, "stable", bytes);
    await del(repository, "v1");
    expect(await tagsOf(repository)).toEqual(["stable"]);
    expect((await request(`/v2/${repository}/manifests/stable`)).headers.get("Docker-Content-Digest")).toBe(digest);
  });
});

describe("DELETE of what is not there", () => {
  it("answers an unknown tag with 404 MANIFEST_UNKNOWN", async () => {
    const repository = uniqueRepo("delete/unknowntag");
    await pushImage(repository, "v1");
    await expectUnknown(await del(repository, "nope"));
  });

  it("answers an unknown digest with 404 MANIFEST_UNKNOWN", async () => {
    const repository = uniqueRepo("delete/unknowndigest");
    await pushImage(repository, "v1");
    await expectUnknown(await del(repository, await digestOf(randomBytes(10, 42))));
  });

  it("answers a repository that does not exist with 404", async () => {
    const response = await del(uniqueRepo("delete/norepo"), "latest");
    expect(response.status).toBe(404);
    expect(["MANIFEST_UNKNOWN", "NAME_UNKNOWN"]).toContain(await errorCode(response));
  });

  it("answers 404 MANIFEST_UNKNOWN for an invalid digest reference: it names no manifest", async () => {
    const response = await del(uniqueRepo("delete/baddigest"), "sha256:123");
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("MANIFEST_UNKNOWN");
  });
});

describe("repositories are independent", () => {
  it("deleting a manifest in one repository leaves the same manifest in another", async () => {
    const a = uniqueRepo("delete/repoa");
    const b = uniqueRepo("delete/repob");
    const inA = await pushImage(a, "v1", { seed: 3 });
    const inB = await pushImage(b, "v1", { seed: 3 });
    expect(inB.digest).toBe(inA.digest);
    expect((await del(a, inA.digest)).status).toBe(202);
    await expectUnknown(await request(`/v2/${a}/manifests/v1`));
    const response = await request(`/v2/${b}/manifests/v1`);
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(inB.bytes);
    expect((await request(`/v2/${b}/manifests/${inB.digest}`)).status).toBe(200);
  });

  it("deleting a tag in one repository leaves the same tag in another", async () => {
    const a = uniqueRepo("delete/taga");
    const b = uniqueRepo("delete/tagb");
    await pushImage(a, "v1");
    await pushImage(b, "v1");
    await del(a, "v1");
    expect((await request(`/v2/${b}/manifests/v1`)).status).toBe(200);
  });
});
