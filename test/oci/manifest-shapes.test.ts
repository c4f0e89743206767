// worker/oci/manifest.ts: the manifest shapes a registry accepts (OCI image spec v1.1 image
// manifest and index, Docker image manifest v2 schema 2 and manifest list, artifacts).
import { describe, expect, it } from "vitest";
import { parseManifest } from "../../worker/oci/manifest";
import { DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, jsonBytes, OCI_CONFIG, OCI_EMPTY, OCI_INDEX, OCI_LAYER, OCI_MANIFEST } from "../helpers/registry";

const hex = (c: string) => c.repeat(64);
const config = { mediaType: OCI_CONFIG, digest: `sha256:${hex("a")}`, size: 100 };
const layer = { mediaType: OCI_LAYER, digest: `sha256:${hex("b")}`, size: 2000 };
const child = { mediaType: OCI_MANIFEST, digest: `sha256:${hex("c")}`, size: 500, platform: { architecture: "amd64", os: "linux" } };
const emptyConfig = { mediaType: OCI_EMPTY, digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", size: 2 };
const subject = { mediaType: OCI_MANIFEST, digest: `sha256:${hex("d")}`, size: 321 };

describe("OCI image manifest", () => {
  it("is an image whose blobs are its config then its layers", () => {
    const parsed = parseManifest(jsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] }), OCI_MANIFEST);
    expect(parsed.kind).toBe("image");
    expect(parsed.mediaType).toBe(OCI_MANIFEST);
    expect(parsed.blobs).toEqual([config, layer]);
    expect(parsed.children).toEqual([]);
    expect(parsed.subject).toBeNull();
    expect(parsed.annotations).toBeNull();
  });

  it("reports its config media type as its artifact type when it has no artifactType", () => {
    const parsed = parseManifest(jsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] }), null);
    expect(parsed.artifactType).toBe(OCI_CONFIG);
  });

  it("accepts an empty layers array", () => {
    const parsed = parseManifest(jsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] }), OCI_MANIFEST);
    expect(parsed.blobs).toEqual([config]);
  });

  it("takes its media type from Content-Type when the body has no mediaType", () => {
    const parsed = parseManifest(jsonBytes({ schemaVersion: 2, config, layers: [layer] }), OCI_MANIFEST);
    expect(parsed.mediaType).toBe(OCI_MANIFEST);
  });

  it("is recognised by its shape when neither body nor Content-Type names its type", () => {
    const parsed = parseManifest(jsonBytes({ schemaVersion: 2, config, layers: [layer] }), "application/octet-stream");
    expect(parsed.kind).toBe("image");
    expect(parsed.mediaType).toBe(OCI_MANIFEST);
  });

  it("ignores Content-Type parameters such as charset", () => {
    const parsed = parseManifest(jsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] }), `${OCI_MANIFEST}; charset=utf-8`);
    expect(parsed.mediaType).toBe(OCI_MANIFEST);
  });

  it("keeps string annotations", () => {
    const annotations = { "org.opencontainers.image.created": "2024-01-01T00:00:00Z", "com.example/note": "" };
    const parsed = parseManifest(jsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [], annotations }), OCI_MANIFEST);
    expect(parsed.annotations).toEqual(annotations);
  });

  it("keeps the urls of a non-distributable layer", () => {
    const foreign = { ...layer, urls: ["https://example.com/layer.tar.gz"] };
    const parsed = parseManifest(jsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [foreign] }), OCI_MANIFEST);
    expect(parsed.blobs[1]!.urls).toEqual(["https://example.com/layer.tar.gz"]);
  });

  it("accepts a sha512 descriptor digest", () => {
    const sha512Layer = { ...layer, digest: `sha512:${"e".repeat(128)}` };
    const parsed = parseManifest(jsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [sha512Layer] }), OCI_MANIFEST);
    expect(parsed.blobs[1]!.digest).toBe(sha512Layer.digest);
  });
});

describe("OCI image index", () => {
  it("is an index whose children are its manifests and which needs no blobs", () => {
    const parsed = parseManifest(jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [child] }), OCI_INDEX);
    expect(parsed.kind).toBe("index");
    expect(parsed.mediaType).toBe(OCI_INDEX);
    expect(parsed.blobs).toEqual([]);
    expect(parsed.children).toEqual([{ mediaType: child.mediaType, digest: child.digest, size: child.size }]);
    expect(parsed.artifactType).toBeNull();
  });

  it("is recognised by its manifests array when it has no mediaType", () => {
    const parsed = parseManifest(jsonBytes({ schemaVersion: 2, manifests: [] }), null);
    expect(parsed.kind).toBe("index");
    expect(parsed.mediaType).toBe(OCI_INDEX);
  });

  it("reports its own artifactType", () => {
    const parsed = parseManifest(jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, artifactType: "application/vnd.example.bundle", manifests: [child] }), OCI_INDEX);
    expect(parsed.artifactType).toBe("application/vnd.example.bundle");
  });
});

describe("Docker manifests", () => {
  it("accepts a Docker image manifest v2 schema 2", () => {
    const body = {
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST,
      config: { mediaType: DOCKER_CONFIG, digest: config.digest, size: config.size },
      layers: [{ mediaType: DOCKER_LAYER, digest: layer.digest, size: layer.size }],
    };
    const parsed = parseManifest(jsonBytes(body), DOCKER_MANIFEST);
    expect(parsed.kind).toBe("image");
    expect(parsed.mediaType).toBe(DOCKER_MANIFEST);
    expect(parsed.blobs.map((blob) => blob.digest)).toEqual([config.digest, layer.digest]);
    expect(parsed.artifactType).toBe(DOCKER_CONFIG);
  });

  it("accepts a Docker manifest list", () => {
    const entry = { mediaType: DOCKER_MANIFEST, digest: child.digest, size: child.size, platform: { architecture: "arm64", os: "linux", variant: "v8" } };
    const parsed = parseManifest(jsonBytes({ schemaVersion: 2, mediaType: DOCKER_MANIFEST_LIST, manifests: [entry] }), DOCKER_MANIFEST_LIST);
    expect(parsed.kind).toBe("index");
    expect(parsed.mediaType).toBe(DOCKER_MANIFEST_LIST);
    expect(parsed.children.map((c) => c.digest)).toEqual([child.digest]);
  });
});

describe("artifacts (OCI image spec v1.1)", () => {
  it("accepts an artifact with artifactType, the empty config and a subject", () => {
    const body = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: "application/vnd.example.sbom+json",
      config: emptyConfig,
      layers: [{ mediaType: "application/spdx+json", digest: layer.digest, size: 10 }],
      subject,
      annotations: { "org.opencontainers.image.created": "2024-05-01T00:00:00Z" },
    };
    const parsed = parseManifest(jsonBytes(body), OCI_MANIFEST);
    expect(parsed.kind).toBe("image");
    expect(parsed.artifactType).toBe("application/vnd.example.sbom+json");
    expect(parsed.subject).toEqual(subject);
    expect(parsed.blobs[0]).toEqual(emptyConfig);
    expect(parsed.annotations).toEqual(body.annotations);
  });

  it("accepts an artifact whose only blob is the empty config", () => {
    const body = { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: "application/vnd.example.signature", config: emptyConfig, layers: [emptyConfig], subject };
    const parsed = parseManifest(jsonBytes(body), OCI_MANIFEST);
    expect(parsed.blobs).toEqual([emptyConfig, emptyConfig]);
  });

  it("accepts an index with a subject", () => {
    const parsed = parseManifest(jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], subject }), OCI_INDEX);
    expect(parsed.subject?.digest).toBe(subject.digest);
  });
});
