// Pushing and pulling manifests (OCI distribution spec v1.1, "Pushing Manifests",
// "Pulling manifests"): the bytes pushed are the bytes served, with the media type pushed.
import { describe, expect, it } from "vitest";
import {
  bodyBytes,
  bytesOf,
  type Descriptor,
  digestOf,
  DOCKER_CONFIG,
  DOCKER_LAYER,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  errorCode,
  jsonBytes,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  pushManifest,
  putManifest,
  randomBytes,
  request,
  uniqueRepo,
} from "../helpers/registry";

async function expectServed(repository: string, reference: string, bytes: Uint8Array, mediaType: string): Promise<void> {
  const digest = await digestOf(bytes);
  const response = await request(`/v2/${repository}/manifests/${reference}`);
  expect(response.status).toBe(200);
  expect(response.headers.get("Content-Type")).toBe(mediaType);
  expect(response.headers.get("Content-Length")).toBe(String(bytes.byteLength));
  expect(response.headers.get("Docker-Content-Digest")).toBe(digest);
  expect(await bodyBytes(response)).toEqual(bytes);
}

async function dockerImage(repository: string, seed: number): Promise<{ bytes: Uint8Array; digest: string }> {
  const config = await pushBlob(repository, jsonBytes({ architecture: "amd64", os: "linux", seed }), DOCKER_CONFIG);
  const layer = await pushBlob(repository, randomBytes(512, seed), DOCKER_LAYER);
  const bytes = jsonBytes({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config, layers: [layer] });
  return { bytes, digest: await pushManifest(repository, await digestOf(bytes), bytes, DOCKER_MANIFEST) };
}

describe("PUT a manifest", () => {
  it("answers 201 with Location and Docker-Content-Digest", async () => {
    const repository = uniqueRepo("push/oci");
    const { bytes } = await pushImage(repository, "seed");
    const response = await putManifest(repository, "v1", bytes);
    const digest = await digestOf(bytes);
    expect(response.status).toBe(201);
    expect(response.headers.get("Docker-Content-Digest")).toBe(digest);
    expect(response.headers.get("Location")).toBe(`/v2/${repository}/manifests/${digest}`);
  });

  it("accepts a PUT by digest when the digest matches the content", async () => {
    const repository = uniqueRepo("push/bydigest");
    const { bytes } = await pushImage(repository, "seed");
    const digest = await digestOf(bytes);
    const response = await putManifest(repository, digest, bytes);
    expect(response.status).toBe(201);
    expect(response.headers.get("Docker-Content-Digest")).toBe(digest);
  });

  it("refuses a PUT by digest when the digest does not match the content with 400 DIGEST_INVALID", async () => {
    const repository = uniqueRepo("push/mismatch");
    const { bytes } = await pushImage(repository, "seed");
    const response = await putManifest(repository, await digestOf(bytesOf("something else")), bytes);
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe("DIGEST_INVALID");
  });

  it("accepts a PUT by sha512 digest and answers with the sha512 digest", async () => {
    const repository = uniqueRepo("push/sha512");
    const { bytes } = await pushImage(repository, "seed");
    const digest = await digestOf(bytes, "sha512");
    const response = await putManifest(repository, digest, bytes);
    expect(response.status).toBe(201);
    expect(response.headers.get("Docker-Content-Digest")).toBe(digest);
    expect(response.headers.get("Location")).toBe(`/v2/${repository}/manifests/${digest}`);
    const pulled = await request(`/v2/${repository}/manifests/${digest}`);
    expect(pulled.status).toBe(200);
    expect(pulled.headers.get("Docker-Content-Digest")).toBe(digest);
    expect(await bodyBytes(pulled)).toEqual(bytes);
  });

  it("moves a tag to the manifest pushed under it last", async () => {
    const repository = uniqueRepo("push/retag");
    const first = await pushImage(repository, "latest", { seed: 1 });
    const second = await pushImage(repository, "latest", { seed: 2 });
    expect(second.digest).not.toBe(first.digest);
    const response = await request(`/v2/${repository}/manifests/latest`);
    expect(response.headers.get("Docker-Content-Digest")).toBe(second.digest);
    expect(await bodyBytes(response)).toEqual(second.bytes);
    expect((await request(`/v2/${repository}/manifests/${first.digest}`)).status).toBe(200);
  });

  it("serves one manifest under several tags", async () => {
    const repository = uniqueRepo("push/twotags");
    const { bytes, digest } = await pushImage(repository, "a");
    await pushManifest(repository, "b", bytes);
    for (const tag of ["a", "b"]) {
      expect((await request(`/v2/${repository}/manifests/${tag}`)).headers.get("Docker-Content-Digest")).toBe(digest);
    }
  });

  it("treats tags that differ only in case as different tags", async () => {
    const repository = uniqueRepo("push/case");
    const lower = await pushImage(repository, "latest", { seed: 1 });
    const upper = await pushImage(repository, "LATEST", { seed: 2 });
    expect((await request(`/v2/${repository}/manifests/latest`)).headers.get("Docker-Content-Digest")).toBe(lower.digest);
    expect((await request(`/v2/${repository}/manifests/LATEST`)).headers.get("Docker-Content-Digest")).toBe(upper.digest);
  });

  it("accepts the same manifest pushed twice", async () => {
    const repository = uniqueRepo("push/twice");
    const { bytes, digest } = await pushImage(repository, "v1");
    const again = await putManifest(repository, "v1", bytes);
    expect(again.status).toBe(201);
    expect(again.headers.get("Docker-Content-Digest")).toBe(digest);
  });
});

describe("GET and HEAD a manifest", () => {
  it("serves an OCI image manifest by tag with its media type, length, digest and ETag", async () => {
    const repository = uniqueRepo("pull/tag");
    const { bytes, digest } = await pushImage(repository, "v1");
    await expectServed(repository, "v1", bytes, OCI_MANIFEST);
    expect((await request(`/v2/${repository}/manifests/v1`)).headers.get("ETag")).toBe(`"${digest}"`);
  });

  it("serves an OCI image manifest by digest", async () => {
    const repository = uniqueRepo("pull/digest");
    const { bytes, digest } = await pushImage(repository, "v1");
    await expectServed(repository, digest, bytes, OCI_MANIFEST);
  });

  it("answers HEAD by tag with the headers of a GET and no body", async () => {
    const repository = uniqueRepo("pull/head");
    const { bytes, digest } = await pushImage(repository, "v1");
    const response = await request(`/v2/${repository}/manifests/v1`, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toBe(OCI_MANIFEST);
    expect(response.headers.get("Content-Length")).toBe(String(bytes.byteLength));
    expect(response.headers.get("Docker-Content-Digest")).toBe(digest);
    expect(response.headers.get("ETag")).toBe(`"${digest}"`);
    expect((await bodyBytes(response)).byteLength).toBe(0);
  });

  it("answers HEAD by digest", async () => {
    const repository = uniqueRepo("pull/headdigest");
    const { digest } = await pushImage(repository, "v1");
    const response = await request(`/v2/${repository}/manifests/${digest}`, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("Docker-Content-Digest")).toBe(digest);
  });

  it("serves the exact bytes pushed, whitespace, key order and escapes included", async () => {
    const repository = uniqueRepo("pull/exact");
    const config = await pushBlob(repository, jsonBytes({ os: "linux" }), OCI_CONFIG);
    const layer = await pushBlob(repository, randomBytes(300, 9));
    const text =
      `{\n\t"layers" : [ ${JSON.stringify(layer)} ],\r\n   "config":${JSON.stringify(config)} ,` +
      `"annotations":{"note":"caf\u00e9 \\u00e9 日本 \u2028 \\ud83d\\ude00 😀"},  "schemaVersion" :2,` +
      `"mediaType":"${OCI_MANIFEST}"   }\n\n`;
    const bytes = bytesOf(text);
    await pushManifest(repository, "odd", bytes);
    await expectServed(repository, "odd", bytes, OCI_MANIFEST);
  });

  it("serves a manifest pushed without mediaType with the Content-Type it was pushed with", async () => {
    const repository = uniqueRepo("pull/ctype");
    const config = await pushBlob(repository, jsonBytes({ os: "linux" }), OCI_CONFIG);
    const layer = await pushBlob(repository, randomBytes(64, 3));
    const bytes = jsonBytes({ schemaVersion: 2, config, layers: [layer] });
    await pushManifest(repository, "v1", bytes, OCI_MANIFEST);
    await expectServed(repository, "v1", bytes, OCI_MANIFEST);
  });
});

describe("manifest kinds", () => {
  it("pushes and pulls an OCI index whose children were pushed first", async () => {
    const repository = uniqueRepo("kinds/index");
    const amd64 = await pushImage(repository, "amd64", { seed: 1 });
    const arm64 = await pushImage(repository, "arm64", { seed: 2 });
    const children: Descriptor[] = [
      { mediaType: OCI_MANIFEST, digest: amd64.digest, size: amd64.bytes.byteLength, platform: { architecture: "amd64", os: "linux" } },
      { mediaType: OCI_MANIFEST, digest: arm64.digest, size: arm64.bytes.byteLength, platform: { architecture: "arm64", os: "linux" } },
    ];
    const bytes = jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: children });
    await pushManifest(repository, "multi", bytes, OCI_INDEX);
    await expectServed(repository, "multi", bytes, OCI_INDEX);
    const head = await request(`/v2/${repository}/manifests/multi`, { method: "HEAD" });
    expect(head.headers.get("Content-Type")).toBe(OCI_INDEX);
  });

  it("pushes and pulls a Docker image manifest v2 schema 2", async () => {
    const repository = uniqueRepo("kinds/docker");
    const image = await dockerImage(repository, 4);
    await pushManifest(repository, "v2s2", image.bytes, DOCKER_MANIFEST);
    await expectServed(repository, "v2s2", image.bytes, DOCKER_MANIFEST);
    await expectServed(repository, image.digest, image.bytes, DOCKER_MANIFEST);
    const head = await request(`/v2/${repository}/manifests/v2s2`, { method: "HEAD" });
    expect(head.headers.get("Content-Type")).toBe(DOCKER_MANIFEST);
  });

  it("pushes and pulls a Docker manifest list", async () => {
    const repository = uniqueRepo("kinds/list");
    const amd64 = await dockerImage(repository, 5);
    const arm64 = await dockerImage(repository, 6);
    const manifests = [
      { mediaType: DOCKER_MANIFEST, digest: amd64.digest, size: amd64.bytes.byteLength, platform: { architecture: "amd64", os: "linux" } },
      { mediaType: DOCKER_MANIFEST, digest: arm64.digest, size: arm64.bytes.byteLength, platform: { architecture: "arm64", os: "linux", variant: "v8" } },
    ];
    const bytes = jsonBytes({ schemaVersion: 2, mediaType: DOCKER_MANIFEST_LIST, manifests });
    await pushManifest(repository, "list", bytes, DOCKER_MANIFEST_LIST);
    await expectServed(repository, "list", bytes, DOCKER_MANIFEST_LIST);
    const head = await request(`/v2/${repository}/manifests/list`, { method: "HEAD" });
    expect(head.headers.get("Content-Type")).toBe(DOCKER_MANIFEST_LIST);
  });
});
