// This Pier as a replication endpoint (worker/replication/local-endpoint.ts): reads and writes
// through the same services a client's pull and push use, so what replication writes obeys the
// same checks (references present, quota, digests verified) and leaves nothing when refused.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Digest } from "../../worker/oci/digest";
import type { BlobBody, Endpoint } from "../../worker/replication/endpoint";
import { localEndpoint } from "../../worker/replication/local-endpoint";
import { rowCount } from "../helpers/gc";
import { newProject, refusal } from "../helpers/identities";
import { apiJson } from "../helpers/management";
import { bodyBytes, digestOf, expectBlob, expectSameBytes, imageManifest, OCI_MANIFEST, pushImage, pushReferrer, randomBytes, request } from "../helpers/registry";

function local(pageSize?: number): Endpoint {
  return localEndpoint(env, () => {}, "admin", { pageSize });
}

/** A body for putBlob that records whether it was asked for. */
function source(bytes: Uint8Array): { read: () => Promise<BlobBody>; asked: () => boolean } {
  let asked = false;
  return {
    read: async () => {
      asked = true;
      return { size: bytes.byteLength, body: new Blob([bytes]).stream() };
    },
    asked: () => asked,
  };
}

async function expectNothingStored(repository: string, digest: string): Promise<void> {
  expect(await local().hasBlob(repository, digest as Digest)).toBe(false);
  expect(await rowCount("blobs", "digest = ?", digest)).toBe(0);
  expect((await env.BLOBS.list({ prefix: `blobs/sha256/${digest.slice(7)}/` })).objects).toEqual([]);
}

describe("listing", () => {
  it("lists every repository of the registry, page after page", async () => {
    const project = await newProject();
    const names = [`${project}/a`, `${project}/b`, `${project}/c`];
    for (const [i, name] of names.entries()) await pushImage(name, "v1", { seed: 100 + i });
    const listed = await local(2).listRepositories();
    expect(listed!.filter((name) => name.startsWith(`${project}/`))).toEqual(names);
  });

  it("lists every tag of a repository, page after page, and none for an unknown repository", async () => {
    const repository = `${await newProject()}/app`;
    for (const tag of ["v1", "v2", "v3"]) await pushImage(repository, tag, { seed: 110 });
    expect(await local(2).listTags(repository)).toEqual(["v1", "v2", "v3"]);
    expect(await local().listTags(`${await newProject()}/nothing`)).toEqual([]);
  });

  it("refuses an invalid repository name with NAME_INVALID", async () => {
    expect((await refusal(local().listTags("Upper/Case"))).code).toBe("NAME_INVALID");
    expect((await refusal(local().hasBlob("a//b", `sha256:${"0".repeat(64)}` as Digest))).code).toBe("NAME_INVALID");
  });

  it("lists every referrer of a manifest, page after page", async () => {
    const repository = `${await newProject()}/app`;
    const image = await pushImage(repository, "v1", { seed: 120 });
    const subject = { mediaType: OCI_MANIFEST, digest: image.digest, size: image.bytes.byteLength };
    const digests: string[] = [];
    for (const seed of [121, 122, 123]) digests.push((await pushReferrer(repository, subject, { artifactType: "application/vnd.example.sig", seed })).digest);
    const referrers = await local(2).listReferrers(repository, image.digest as Digest);
    expect(referrers.map((r) => r.digest).sort()).toEqual(digests.sort());
    expect(referrers.every((r) => r.artifactType === "application/vnd.example.sig" && r.mediaType === OCI_MANIFEST)).toBe(true);
  });
});

describe("manifests", () => {
  it("reads a manifest by tag or digest with its exact bytes and media type; null when absent", async () => {
    const repository = `${await newProject()}/app`;
    const image = await pushImage(repository, "v1", { seed: 130 });
    for (const reference of ["v1", image.digest]) {
      const read = await local().getManifest(repository, reference);
      expect(read).toMatchObject({ digest: image.digest, mediaType: OCI_MANIFEST });
      expectSameBytes(read!.bytes, image.bytes);
    }
    expect(await local().getManifest(repository, "v2")).toBeNull();
    expect(await local().getManifest(`${await newProject()}/none`, "v1")).toBeNull();
  });

  it("resolves a tag or digest to its digest without reading it; null when absent", async () => {
    const repository = `${await newProject()}/app`;
    const image = await pushImage(repository, "v1", { seed: 131 });
    expect(await local().manifestDigest(repository, "v1")).toBe(image.digest);
    expect(await local().manifestDigest(repository, image.digest)).toBe(image.digest);
    expect(await local().manifestDigest(repository, "v2")).toBeNull();
  });

  it("puts a manifest through the push checks: what it references must be in the repository", async () => {
    const from = `${await newProject()}/app`;
    const to = `${await newProject()}/app`;
    const image = await pushImage(from, "v1", { seed: 132 });
    const manifest = (await local().getManifest(from, "v1"))!;
    expect((await refusal(local().putManifest(to, "v1", manifest))).code).toBe("MANIFEST_BLOB_UNKNOWN");
    expect(await local().manifestDigest(to, "v1")).toBeNull();

    for (const blob of [image.config, image.layer]) await local().putBlob(to, blob.digest as Digest, () => Promise.reject(new Error("mounted, not read")), null);
    await local().putManifest(to, "v1", manifest);
    const served = await request(`/v2/${to}/manifests/v1`);
    expectSameBytes(await bodyBytes(served), image.bytes);
  });

  it("refuses manifest bytes that are not the digest named, storing nothing", async () => {
    const to = `${await newProject()}/app`;
    const image = await pushImage(`${await newProject()}/app`, "v1", { seed: 133 });
    const other = imageManifest(image.config, [image.layer], { annotations: { other: "bytes" } });
    const error = await refusal(local().putManifest(to, "v1", { digest: image.digest as Digest, mediaType: OCI_MANIFEST, bytes: other }));
    expect(error.code).toBe("DIGEST_INVALID");
    expect(await local().manifestDigest(to, "v1")).toBeNull();
  });

  it("deletes a tag or a manifest; false when it was not there", async () => {
    const repository = `${await newProject()}/app`;
    const image = await pushImage(repository, "v1", { seed: 134 });
    expect(await local().deleteManifest(repository, "v1")).toBe(true);
    expect(await local().deleteManifest(repository, "v1")).toBe(false);
    expect(await local().manifestDigest(repository, image.digest)).toBe(image.digest);
    expect(await local().deleteManifest(repository, image.digest)).toBe(true);
    expect(await local().manifestDigest(repository, image.digest)).toBeNull();
    expect(await local().deleteManifest(repository, image.digest)).toBe(false);
  });
});

describe("blobs", () => {
  it("tells whether the repository holds a blob, and streams its bytes", async () => {
    const repository = `${await newProject()}/app`;
    const image = await pushImage(repository, "v1", { seed: 140 });
    expect(await local().hasBlob(repository, image.layer.digest as Digest)).toBe(true);
    expect(await local().hasBlob(`${await newProject()}/other`, image.layer.digest as Digest)).toBe(false);
    const blob = (await local().getBlob(repository, image.layer.digest as Digest))!;
    expect(blob.size).toBe(1024);
    expectSameBytes(new Uint8Array(await new Response(blob.body).arrayBuffer()), randomBytes(1024, 140));
    expect(await local().getBlob(`${await newProject()}/other`, image.layer.digest as Digest)).toBeNull();
  });

  it("links bytes stored anywhere in the registry without reading the source (a mount)", async () => {
    const image = await pushImage(`${await newProject()}/app`, "v1", { seed: 141 });
    const to = `${await newProject()}/copy`;
    const body = source(randomBytes(1024, 141));
    expect(await local().putBlob(to, image.layer.digest as Digest, body.read, null)).toEqual({ transferred: false });
    expect(body.asked()).toBe(false);
    await expectBlob(to, image.layer.digest, randomBytes(1024, 141));
  });

  it("streams new bytes into storage, verified against their digest", async () => {
    const to = `${await newProject()}/copy`;
    const bytes = randomBytes(300_000, 142);
    const digest = (await digestOf(bytes)) as Digest;
    const body = source(bytes);
    expect(await local().putBlob(to, digest, body.read, null)).toEqual({ transferred: true });
    expect(body.asked()).toBe(true);
    await expectBlob(to, digest, bytes);
  });

  it("stores nothing when the bytes read do not match the digest (DIGEST_INVALID)", async () => {
    const to = `${await newProject()}/copy`;
    const digest = await digestOf(randomBytes(2048, 143));
    const error = await refusal(local().putBlob(to, digest as Digest, source(randomBytes(2048, 144)).read, null));
    expect(error.code).toBe("DIGEST_INVALID");
    await expectNothingStored(to, digest);
  });

  it("refuses a blob past the project's storage quota with DENIED, storing nothing", async () => {
    const project = await newProject();
    await apiJson(`/projects/${project}`, { method: "PATCH", body: { storageLimitBytes: 1000 } });
    const bytes = randomBytes(4096, 145);
    const digest = await digestOf(bytes);
    const error = await refusal(local().putBlob(`${project}/app`, digest as Digest, source(bytes).read, null));
    expect(error.code).toBe("DENIED");
    await expectNothingStored(`${project}/app`, digest);
  });
});
