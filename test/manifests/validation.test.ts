// What a manifest PUT refuses (OCI distribution spec v1.1, "Pushing Manifests"): invalid
// manifests (400 MANIFEST_INVALID), references to content the repository does not hold
// (400 MANIFEST_BLOB_UNKNOWN), bad references in the URL; and what it must accept anyway.
import { describe, expect, it } from "vitest";
import {
  bytesOf,
  type Descriptor,
  digestOf,
  errorCode,
  imageManifest,
  jsonBytes,
  OCI_CONFIG,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  pushBlob,
  pushEmptyConfig,
  pushImage,
  putManifest,
  randomBytes,
  request,
  uniqueRepo,
} from "../helpers/registry";

async function expectRefused(response: Response, status: number, code: string): Promise<void> {
  expect(response.status).toBe(status);
  expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
  expect(await errorCode(response)).toBe(code);
}

async function configAndLayer(repository: string, seed = 1): Promise<{ config: Descriptor; layer: Descriptor }> {
  const config = await pushBlob(repository, jsonBytes({ os: "linux", seed }), OCI_CONFIG);
  const layer = await pushBlob(repository, randomBytes(128, seed));
  return { config, layer };
}

/** A descriptor for bytes that were never pushed anywhere. */
async function neverPushed(mediaType = OCI_LAYER, seed = 99): Promise<Descriptor> {
  const bytes = randomBytes(100, seed);
  return { mediaType, digest: await digestOf(bytes), size: bytes.byteLength };
}

describe("invalid manifests", () => {
  it("refuses malformed JSON with 400 MANIFEST_INVALID", async () => {
    await expectRefused(await putManifest(uniqueRepo("invalid/json"), "v1", bytesOf('{"schemaVersion": 2,')), 400, "MANIFEST_INVALID");
  });

  it("refuses an empty body with 400 MANIFEST_INVALID", async () => {
    await expectRefused(await putManifest(uniqueRepo("invalid/empty"), "v1", new Uint8Array(0)), 400, "MANIFEST_INVALID");
  });

  it("refuses schemaVersion 1 with 400 MANIFEST_INVALID", async () => {
    const repository = uniqueRepo("invalid/schema1");
    const { config, layer } = await configAndLayer(repository);
    await expectRefused(await putManifest(repository, "v1", imageManifest(config, [layer], { schemaVersion: 1 })), 400, "MANIFEST_INVALID");
  });

  it("refuses an image manifest without config with 400 MANIFEST_INVALID", async () => {
    const repository = uniqueRepo("invalid/noconfig");
    const { layer } = await configAndLayer(repository);
    const bytes = jsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [layer] });
    await expectRefused(await putManifest(repository, "v1", bytes), 400, "MANIFEST_INVALID");
  });

  it("refuses a Content-Type that disagrees with the manifest's mediaType with 400 MANIFEST_INVALID", async () => {
    const repository = uniqueRepo("invalid/ctype");
    const { config, layer } = await configAndLayer(repository);
    await expectRefused(await putManifest(repository, "v1", imageManifest(config, [layer]), OCI_INDEX), 400, "MANIFEST_INVALID");
  });
});

describe("content the manifest points at", () => {
  it("refuses a layer the repository does not hold with 400 MANIFEST_BLOB_UNKNOWN", async () => {
    const repository = uniqueRepo("refs/layer");
    const { config } = await configAndLayer(repository);
    await expectRefused(await putManifest(repository, "v1", imageManifest(config, [await neverPushed()])), 400, "MANIFEST_BLOB_UNKNOWN");
  });

  it("refuses a config the repository does not hold with 400 MANIFEST_BLOB_UNKNOWN", async () => {
    const repository = uniqueRepo("refs/config");
    const { layer } = await configAndLayer(repository);
    await expectRefused(await putManifest(repository, "v1", imageManifest(await neverPushed(OCI_CONFIG), [layer])), 400, "MANIFEST_BLOB_UNKNOWN");
  });

  it("counts a blob held only by another repository as unknown", async () => {
    const other = uniqueRepo("refs/other");
    const { config, layer } = await configAndLayer(other, 5);
    const repository = uniqueRepo("refs/mine");
    await expectRefused(await putManifest(repository, "v1", imageManifest(config, [layer])), 400, "MANIFEST_BLOB_UNKNOWN");
  });

  it("counts a blob deleted from the repository as unknown", async () => {
    const repository = uniqueRepo("refs/deleted");
    const { config, layer } = await configAndLayer(repository);
    expect((await request(`/v2/${repository}/blobs/${layer.digest}`, { method: "DELETE" })).status).toBe(202);
    await expectRefused(await putManifest(repository, "v1", imageManifest(config, [layer])), 400, "MANIFEST_BLOB_UNKNOWN");
  });

  it("refuses an index whose child manifest is not in the repository with 400 MANIFEST_BLOB_UNKNOWN", async () => {
    const repository = uniqueRepo("refs/child");
    const bytes = jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [await neverPushed(OCI_MANIFEST)] });
    await expectRefused(await putManifest(repository, "v1", bytes, OCI_INDEX), 400, "MANIFEST_BLOB_UNKNOWN");
  });

  it("refuses an index whose child manifest is only in another repository", async () => {
    const other = uniqueRepo("refs/childother");
    const child = await pushImage(other, "v1");
    const repository = uniqueRepo("refs/childmine");
    const bytes = jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: child.digest, size: child.bytes.byteLength }] });
    await expectRefused(await putManifest(repository, "v1", bytes, OCI_INDEX), 400, "MANIFEST_BLOB_UNKNOWN");
  });

  it("refuses an index whose child is a blob, not a manifest, of the repository", async () => {
    const repository = uniqueRepo("refs/childblob");
    const { layer } = await configAndLayer(repository);
    const bytes = jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ ...layer, mediaType: OCI_MANIFEST }] });
    await expectRefused(await putManifest(repository, "v1", bytes, OCI_INDEX), 400, "MANIFEST_BLOB_UNKNOWN");
  });

  it("accepts a non-distributable layer (with urls) that the repository does not hold", async () => {
    const repository = uniqueRepo("refs/foreign");
    const { config } = await configAndLayer(repository);
    const foreign = { ...(await neverPushed("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")), urls: ["https://example.com/layer"] };
    const response = await putManifest(repository, "v1", imageManifest(config, [foreign]));
    expect(response.status).toBe(201);
  });

  it("accepts a subject that does not exist and answers with OCI-Subject", async () => {
    const repository = uniqueRepo("refs/subject");
    const { config, layer } = await configAndLayer(repository);
    const subject = await neverPushed(OCI_MANIFEST);
    const response = await putManifest(repository, "v1", imageManifest(config, [layer], { subject }));
    expect(response.status).toBe(201);
    expect(response.headers.get("OCI-Subject")).toBe(subject.digest);
  });

  it("sends no OCI-Subject header for a manifest without subject", async () => {
    const repository = uniqueRepo("refs/nosubject");
    const { config, layer } = await configAndLayer(repository);
    const response = await putManifest(repository, "v1", imageManifest(config, [layer]));
    expect(response.status).toBe(201);
    expect(response.headers.has("OCI-Subject")).toBe(false);
  });

  it("accepts an artifact manifest with artifactType and the empty config", async () => {
    const repository = uniqueRepo("refs/artifact");
    const empty = await pushEmptyConfig(repository);
    expect(empty).toEqual({ mediaType: OCI_EMPTY, digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", size: 2 });
    const bytes = jsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: "application/vnd.example.sbom+json", config: empty, layers: [empty] });
    const response = await putManifest(repository, "sbom", bytes);
    expect(response.status).toBe(201);
    const pulled = await request(`/v2/${repository}/manifests/sbom`);
    expect(pulled.status).toBe(200);
  });
});

describe("references in the URL", () => {
  it("refuses an invalid tag with 400 TAG_INVALID", async () => {
    const repository = uniqueRepo("url/tag");
    const { config, layer } = await configAndLayer(repository);
    await expectRefused(await putManifest(repository, "-bad", imageManifest(config, [layer])), 400, "TAG_INVALID");
  });

  it("refuses a tag of 129 characters with 400 TAG_INVALID", async () => {
    const repository = uniqueRepo("url/longtag");
    const { config, layer } = await configAndLayer(repository);
    await expectRefused(await putManifest(repository, "t".repeat(129), imageManifest(config, [layer])), 400, "TAG_INVALID");
  });

  it("accepts a tag of exactly 128 characters", async () => {
    const repository = uniqueRepo("url/tag128");
    const { config, layer } = await configAndLayer(repository);
    const tag = `T${"x".repeat(127)}`;
    expect((await putManifest(repository, tag, imageManifest(config, [layer]))).status).toBe(201);
    expect((await request(`/v2/${repository}/manifests/${tag}`)).status).toBe(200);
  });

  it("refuses an invalid digest reference with 400 DIGEST_INVALID", async () => {
    const repository = uniqueRepo("url/digest");
    const { config, layer } = await configAndLayer(repository);
    await expectRefused(await putManifest(repository, "sha256:abc", imageManifest(config, [layer])), 400, "DIGEST_INVALID");
  });

  it("answers GET of an invalid digest reference with 404 MANIFEST_UNKNOWN: it names no manifest", async () => {
    await expectRefused(await request(`/v2/${uniqueRepo("url/getdigest")}/manifests/sha256:XYZ`), 404, "MANIFEST_UNKNOWN");
  });

  it("answers GET and HEAD of an invalid tag with 404 MANIFEST_UNKNOWN (conformance: exactly 404)", async () => {
    const repository = uniqueRepo("url/gettag");
    await expectRefused(await request(`/v2/${repository}/manifests/.INVALID_MANIFEST_NAME`), 404, "MANIFEST_UNKNOWN");
    expect((await request(`/v2/${repository}/manifests/.INVALID_MANIFEST_NAME`, { method: "HEAD" })).status).toBe(404);
  });

  it("refuses an invalid repository name with 400 NAME_INVALID", async () => {
    await expectRefused(await request("/v2/Upper/Case/manifests/latest"), 400, "NAME_INVALID");
  });

  it("refuses a repository name over 255 characters with 400 NAME_INVALID", async () => {
    await expectRefused(await request(`/v2/${"a".repeat(128)}/${"b".repeat(127)}/manifests/latest`), 400, "NAME_INVALID");
  });

  it("answers GET of an unknown tag with 404 MANIFEST_UNKNOWN", async () => {
    const repository = uniqueRepo("url/unknowntag");
    await pushImage(repository, "v1");
    await expectRefused(await request(`/v2/${repository}/manifests/v2`), 404, "MANIFEST_UNKNOWN");
  });

  it("answers GET of an unknown digest with 404 MANIFEST_UNKNOWN", async () => {
    const repository = uniqueRepo("url/unknowndigest");
    await pushImage(repository, "v1");
    await expectRefused(await request(`/v2/${repository}/manifests/${(await neverPushed()).digest}`), 404, "MANIFEST_UNKNOWN");
  });

  it("answers HEAD of an unknown tag with 404", async () => {
    const response = await request(`/v2/${uniqueRepo("url/headunknown")}/manifests/v1`, { method: "HEAD" });
    expect(response.status).toBe(404);
  });

  it("answers GET of a manifest held only by another repository with 404 MANIFEST_UNKNOWN", async () => {
    const other = uniqueRepo("url/othermanifest");
    const { digest } = await pushImage(other, "v1");
    await expectRefused(await request(`/v2/${uniqueRepo("url/mine")}/manifests/${digest}`), 404, "MANIFEST_UNKNOWN");
  });
});

describe("a failed PUT", () => {
  it("creates no tag", async () => {
    const repository = uniqueRepo("failed/tag");
    const { config } = await configAndLayer(repository);
    await putManifest(repository, "v1", imageManifest(config, [await neverPushed()]));
    await expectRefused(await request(`/v2/${repository}/manifests/v1`), 404, "MANIFEST_UNKNOWN");
  });

  it("leaves the tags list unchanged", async () => {
    const repository = uniqueRepo("failed/list");
    const image = await pushImage(repository, "v1");
    await putManifest(repository, "v2", imageManifest(image.config, [await neverPushed()]));
    await putManifest(repository, "v3", bytesOf("not json"));
    const response = await request(`/v2/${repository}/tags/list`);
    expect(await response.json()).toEqual({ name: repository, tags: ["v1"] });
  });

  it("leaves an existing tag pointing where it pointed", async () => {
    const repository = uniqueRepo("failed/keep");
    const image = await pushImage(repository, "v1");
    const refused = await putManifest(repository, "v1", imageManifest(image.config, [await neverPushed()]));
    expect(refused.status).toBe(400);
    const response = await request(`/v2/${repository}/manifests/v1`);
    expect(response.headers.get("Docker-Content-Digest")).toBe(image.digest);
  });

  it("does not create the repository", async () => {
    const repository = uniqueRepo("failed/norepo");
    const refused = await putManifest(repository, "v1", bytesOf("{}"));
    expect(refused.status).toBe(400);
    await expectRefused(await request(`/v2/${repository}/tags/list`), 404, "NAME_UNKNOWN");
  });

  it("leaves the manifest unreachable by digest", async () => {
    const repository = uniqueRepo("failed/digest");
    const { config } = await configAndLayer(repository);
    const bytes = imageManifest(config, [await neverPushed()]);
    await putManifest(repository, "v1", bytes);
    await expectRefused(await request(`/v2/${repository}/manifests/${await digestOf(bytes)}`), 404, "MANIFEST_UNKNOWN");
  });
});
