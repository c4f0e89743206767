// worker/oci/manifest.ts: what is refused with MANIFEST_INVALID (OCI distribution spec v1.1,
// "Pushing Manifests": "If the manifest is invalid, the registry MUST return 400 MANIFEST_INVALID").
import { describe, expect, it } from "vitest";
import { parseManifest } from "../../worker/oci/manifest";
import { bytesOf, DOCKER_MANIFEST, expectRegistryError, jsonBytes, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST } from "../helpers/registry";

const config = { mediaType: OCI_CONFIG, digest: `sha256:${"a".repeat(64)}`, size: 100 };
const layer = { mediaType: OCI_LAYER, digest: `sha256:${"b".repeat(64)}`, size: 2000 };

function image(overrides: Record<string, unknown>): Uint8Array {
  return jsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer], ...overrides });
}

function refuses(bytes: Uint8Array, contentType: string | null = OCI_MANIFEST): string {
  return expectRegistryError(() => parseManifest(bytes, contentType), "MANIFEST_INVALID", 400).message;
}

describe("the document", () => {
  it("refuses bytes that are not JSON", () => {
    refuses(bytesOf("{not json"));
  });

  it("refuses an empty body", () => {
    refuses(new Uint8Array(0));
  });

  it.each([["an array", "[]"], ["a string", '"manifest"'], ["a number", "2"], ["null", "null"]])("refuses %s at the top level", (_, text) => {
    refuses(bytesOf(text));
  });

  it("refuses JSON that starts with a byte order mark", () => {
    refuses(new Uint8Array([0xef, 0xbb, 0xbf, ...image({})]));
  });

  it("refuses bytes that are not valid UTF-8", () => {
    const text = new TextDecoder().decode(image({ annotations: { note: "XX" } }));
    const bytes = bytesOf(text);
    const at = text.indexOf("XX");
    bytes[at] = 0xc3; // a lead byte followed by an ASCII byte: invalid UTF-8
    expect(refuses(bytes)).toMatch(/UTF-8/);
  });
});

describe("schemaVersion and mediaType", () => {
  it("refuses schemaVersion 1 (Docker schema 1)", () => {
    refuses(image({ schemaVersion: 1 }));
  });

  it("refuses a missing schemaVersion", () => {
    refuses(image({ schemaVersion: undefined }));
  });

  it("refuses schemaVersion given as a string", () => {
    refuses(image({ schemaVersion: "2" }));
  });

  it("refuses an unknown mediaType", () => {
    expect(refuses(image({ mediaType: "application/vnd.example.manifest+json" }))).toMatch(/mediaType/);
  });

  it("refuses a mediaType that is not a string", () => {
    refuses(image({ mediaType: 7 }));
  });

  it("refuses a Content-Type that disagrees with the manifest's mediaType", () => {
    expect(refuses(image({}), DOCKER_MANIFEST)).toMatch(/Content-Type/);
  });

  it("refuses an index Content-Type on an image manifest", () => {
    refuses(image({}), OCI_INDEX);
  });

  it("refuses a body that is neither an image nor an index and names no type", () => {
    refuses(jsonBytes({ schemaVersion: 2, layers: [layer] }), null);
  });

  it("refuses an artifactType that is not a string", () => {
    refuses(image({ artifactType: { type: "x" } }));
  });
});

describe("descriptors", () => {
  it("refuses an image manifest without config", () => {
    expect(refuses(image({ config: undefined }))).toMatch(/config/);
  });

  it("refuses a config that is not an object", () => {
    refuses(image({ config: [config] }));
  });

  it("refuses layers that are not an array", () => {
    expect(refuses(image({ layers: layer }))).toMatch(/layers/);
  });

  it("refuses an image manifest without layers", () => {
    refuses(image({ layers: undefined }));
  });

  it("refuses an index whose manifests are not an array", () => {
    refuses(jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: {} }), OCI_INDEX);
  });

  it("refuses a descriptor with a malformed digest", () => {
    expect(refuses(image({ layers: [{ ...layer, digest: "sha256:1234" }] }))).toMatch(/layers\[0\]\.digest/);
  });

  it("refuses a descriptor digest in uppercase hex", () => {
    refuses(image({ config: { ...config, digest: `sha256:${"A".repeat(64)}` } }));
  });

  it("refuses a descriptor without a digest", () => {
    refuses(image({ layers: [{ mediaType: OCI_LAYER, size: 1 }] }));
  });

  it.each([["negative", -1], ["fractional", 1.5], ["a string", "10"], ["missing", undefined], ["unsafe", 2 ** 53]])("refuses a descriptor size that is %s", (_, size) => {
    expect(refuses(image({ layers: [{ ...layer, size }] }))).toMatch(/size/);
  });

  it("refuses a descriptor without a mediaType", () => {
    refuses(image({ layers: [{ digest: layer.digest, size: layer.size }] }));
  });

  it("refuses a descriptor with an empty mediaType", () => {
    refuses(image({ config: { ...config, mediaType: "" } }));
  });

  it("refuses a descriptor whose urls are not strings", () => {
    refuses(image({ layers: [{ ...layer, urls: [42] }] }));
  });

  it("refuses a subject that is not a descriptor", () => {
    refuses(image({ subject: "sha256:" + "c".repeat(64) }));
  });

  it("refuses annotations whose values are not strings", () => {
    refuses(image({ annotations: { count: 3 } }));
  });

  it("refuses an index child with a malformed digest", () => {
    refuses(jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: "nope", size: 1 }] }), OCI_INDEX);
  });
});
