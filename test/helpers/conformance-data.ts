// Content shaped like the data sets of the OCI distribution-spec conformance suites
// (github.com/opencontainers/distribution-spec, conformance/): images, indexes, artifacts,
// referrers, custom fields, data fields, non-distributable layers, sha512. Written from what
// the suites send, not from their code: random configs and layers, descriptors in the field
// order a Go client marshals them, the expected referrers descriptors, and which tags point
// where. test/conformance/*.test.ts push, pull, list and delete these.
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, bytesOf, digestOf } from "./registry";

export type Algo = "sha256" | "sha512";
export const ALGOS: Algo[] = ["sha256", "sha512"];

export const MT_EXAMPLE1 = "application/vnd.example.oci.conformance.v1";
export const MT_EXAMPLE2 = "application/vnd.example.oci.conformance.v2";
export const MT_OCTET = "application/octet-stream";
export const MT_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar";
export const MT_LAYER_ND = "application/vnd.oci.image.layer.nondistributable.v1.tar";
export const MT_LAYER_ND_GZ = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";

export interface Platform {
  architecture: string;
  os: string;
}

/** A descriptor, with the optional fields the suites set. */
export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: string;
  platform?: Platform;
  artifactType?: string;
}

export interface GenOpts {
  algo?: Algo;
  annotations?: Record<string, string>;
  /** Adds one random annotation, so that otherwise equal manifests differ. */
  annotationUniq?: boolean;
  artifactType?: string;
  uncompressed?: boolean;
  configBytes?: Uint8Array;
  configMediaType?: string;
  descriptorMediaType?: string;
  /** A top-level field no spec defines, in configs, manifests and indexes. */
  extraField?: boolean;
  layerBytes?: Uint8Array;
  layerCount?: number;
  layerMediaType?: string;
  platform?: Platform;
  platforms?: Platform[];
  /** Descriptors carry their content base64-encoded in `data`. */
  setData?: boolean;
  subject?: Desc;
  tag?: string;
}

export const AMD64: Platform = { architecture: "amd64", os: "linux" };
export const ARM64: Platform = { architecture: "arm64", os: "linux" };

export function randomText(length = 26): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  return [...crypto.getRandomValues(new Uint8Array(length))].map((b) => alphabet[b % 32]).join("");
}

export function base64(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Drops undefined members, so optional fields are omitted as Go's `omitempty` does. */
function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function withExtraField(value: object, extra: boolean | undefined): object {
  return extra ? { ...value, [`org.${randomText()}`]: randomText() } : value;
}

/** One data set: what to push, what to expect back, and in which order. */
export class TestData {
  readonly tags = new Map<string, string>();
  readonly blobs = new Map<string, Uint8Array>();
  readonly manifests = new Map<string, Uint8Array>();
  /** Push order; deletion goes in reverse. */
  readonly manOrder: string[] = [];
  readonly desc = new Map<string, Desc>();
  /** subject digest → the descriptors the referrers API must list. */
  readonly referrers = new Map<string, Desc[]>();

  constructor(readonly name: string) {}

  descriptor(digest: string): Desc {
    const found = this.desc.get(digest);
    if (found === undefined) throw new Error(`no descriptor for ${digest}`);
    return { ...found };
  }

  async addBlob(bytes: Uint8Array, o: GenOpts = {}): Promise<string> {
    const digest = await digestOf(bytes, o.algo ?? "sha256");
    this.blobs.set(digest, bytes);
    this.desc.set(digest, compact({ mediaType: o.descriptorMediaType ?? MT_OCTET, digest, size: bytes.byteLength, data: o.setData ? base64(bytes) : undefined }));
    return digest;
  }

  async genBlob(size: number, o: GenOpts = {}): Promise<{ digest: string; bytes: Uint8Array }> {
    const bytes = new Uint8Array(size);
    for (let offset = 0; offset < size; offset += 65536) crypto.getRandomValues(bytes.subarray(offset, Math.min(offset + 65536, size)));
    return { digest: await this.addBlob(bytes, o), bytes };
  }

  /** A layer (a gzip or plain file body): returns its digest and its uncompressed digest. */
  async genLayer(fileNumber: number, o: GenOpts = {}): Promise<{ digest: string; diffId: string }> {
    const algo = o.algo ?? "sha256";
    const plain = bytesOf(`./conformance-${fileNumber}.txt\nConformance test file ${fileNumber}, lucky number ${randomText()}\n`);
    const body = o.uncompressed ? plain : await gzip(plain);
    const digest = await digestOf(body, algo);
    const diffId = await digestOf(plain, algo);
    this.blobs.set(digest, body);
    const mediaType = o.uncompressed ? MT_LAYER_TAR : OCI_LAYER;
    this.desc.set(digest, compact({ mediaType, digest, size: body.byteLength, data: o.setData ? base64(body) : undefined }));
    return { digest, diffId };
  }

  async genConfig(platform: Platform, diffIds: string[], o: GenOpts = {}): Promise<string> {
    const config = { author: "OCI Conformance Test", ...platform, rootfs: { type: "layers", diff_ids: diffIds } };
    const bytes = bytesOf(JSON.stringify(withExtraField(config, o.extraField)));
    return this.addBlob(bytes, { ...o, descriptorMediaType: OCI_CONFIG });
  }

  async genManifest(config: Desc, layers: Desc[], o: GenOpts = {}): Promise<string> {
    let annotations = o.annotations;
    if (o.annotationUniq) annotations = { ...(annotations ?? {}), [`org.example.${randomText()}`]: randomText() };
    const manifest = compact({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: o.artifactType,
      config,
      layers,
      subject: o.subject,
      annotations,
    });
    const artifactType = o.artifactType ?? config.mediaType;
    return this.addManifest(withExtraField(manifest, o.extraField), OCI_MANIFEST, artifactType, annotations, o);
  }

  /** An image (or artifact) with its layers and config; options pass on as the suite does. */
  async genManifestFull(o: GenOpts = {}): Promise<string> {
    const layerCount = o.layerCount ?? 2;
    const layers: string[] = [];
    const diffIds: string[] = [];
    for (let l = 0; l < layerCount; l++) {
      if (o.layerMediaType === undefined || o.layerMediaType.startsWith("application/vnd.oci.image.layer.v1.")) {
        const layer = await this.genLayer(l, o);
        layers.push(layer.digest);
        diffIds.push(layer.diffId);
      } else {
        const lo = { ...o, descriptorMediaType: o.layerMediaType };
        const digest = o.layerBytes !== undefined ? await this.addBlob(o.layerBytes, lo) : (await this.genBlob(2048, lo)).digest;
        layers.push(digest);
        diffIds.push(digest);
      }
    }
    const config =
      o.configMediaType === undefined || o.configMediaType === OCI_CONFIG
        ? await this.genConfig(o.platform ?? AMD64, diffIds, o)
        : await this.addBlob(o.configBytes ?? bytesOf("{}"), { ...o, descriptorMediaType: o.configMediaType });
    return this.genManifest(this.descriptor(config), layers.map((digest) => this.descriptor(digest)), o);
  }

  async genIndex(platforms: (Platform | undefined)[], children: string[], o: GenOpts = {}): Promise<string> {
    let annotations = o.annotations;
    if (o.annotationUniq) annotations = { ...(annotations ?? {}), [`org.example.${randomText()}`]: randomText() };
    const manifests = children.map((digest, i) => compact({ ...this.descriptor(digest), platform: platforms[i] }));
    const index = compact({ schemaVersion: 2, mediaType: OCI_INDEX, artifactType: o.artifactType, manifests, subject: o.subject, annotations });
    return this.addManifest(withExtraField(index, o.extraField), OCI_INDEX, o.artifactType, annotations, o);
  }

  /** An index over one image per platform; every option (tag, subject, algo…) applies to the children too. */
  async genIndexFull(o: GenOpts = {}): Promise<string> {
    const platforms = o.platforms ?? [AMD64, ARM64];
    const children: string[] = [];
    for (const platform of platforms) children.push(await this.genManifestFull({ ...o, platform }));
    return this.genIndex(platforms, children, o);
  }

  private async addManifest(
    body: object,
    mediaType: string,
    artifactType: string | undefined,
    annotations: Record<string, string> | undefined,
    o: GenOpts,
  ): Promise<string> {
    const bytes = bytesOf(JSON.stringify(body));
    const digest = await digestOf(bytes, o.algo ?? "sha256");
    this.manifests.set(digest, bytes);
    this.manOrder.push(digest);
    this.desc.set(digest, compact({ mediaType, digest, size: bytes.byteLength, data: o.setData ? base64(bytes) : undefined }));
    if (o.subject !== undefined) {
      const list = this.referrers.get(o.subject.digest) ?? [];
      list.push(compact({ mediaType, artifactType, digest, size: bytes.byteLength, annotations }));
      this.referrers.set(o.subject.digest, list);
    }
    if (o.tag !== undefined) this.tags.set(o.tag, digest);
    return digest;
  }
}

/** The manifest's own `mediaType` (image manifest when it has none), as the suite detects it. */
export function detectMediaType(bytes: Uint8Array): string {
  const body = JSON.parse(new TextDecoder().decode(bytes)) as { mediaType?: string };
  return body.mediaType ?? OCI_MANIFEST;
}

export function detectSubject(bytes: Uint8Array): string | null {
  const body = JSON.parse(new TextDecoder().decode(bytes)) as { subject?: { digest: string } };
  return body.subject?.digest ?? null;
}

// ---- The legacy (ginkgo) suite's fixtures: conformance/setup.go before the 2025 redesign ----

export interface Fixture {
  bytes: Uint8Array;
  digest: string;
}

export interface LegacyFixtures {
  /** One config per workflow, unique through a random `author`. */
  configs: Fixture[];
  /** The one small gzip layer every workflow pushes. */
  layer: Fixture;
  /** manifests[i] = config i + the layer; the config descriptor carries `data` and an unknown field. */
  manifests: Fixture[];
  /** Config 1, no layers, no mediaType field (push workflow). */
  emptyLayerManifest: Fixture;
}

async function fixture(bytes: Uint8Array): Promise<Fixture> {
  return { bytes, digest: await digestOf(bytes) };
}

/** Indented JSON (Go's MarshalIndent with a tab). */
function indented(value: unknown): Uint8Array {
  return bytesOf(JSON.stringify(value, null, "\t"));
}

export async function legacyFixtures(count = 5): Promise<LegacyFixtures> {
  const layer = await fixture(await gzip(bytesOf("conformance layer: a small file in a tarball\n")));
  const configs: Fixture[] = [];
  for (let i = 0; i < count; i++) {
    const config = { author: randomText(16), architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } };
    configs.push(await fixture(indented(config)));
  }
  const configDesc = (c: Fixture) => ({
    mediaType: OCI_CONFIG,
    digest: c.digest,
    size: c.bytes.byteLength,
    data: base64(c.bytes),
    newUnspecifiedField: base64(bytesOf("hello world")),
  });
  const layers = [{ mediaType: OCI_LAYER, digest: layer.digest, size: layer.bytes.byteLength, newUnspecifiedField: null }];
  const manifests: Fixture[] = [];
  for (const config of configs) {
    manifests.push(await fixture(indented({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDesc(config), layers })));
  }
  const emptyLayerManifest = await fixture(indented({ schemaVersion: 2, config: configDesc(configs[1]!), layers: [] }));
  return { configs, layer, manifests, emptyLayerManifest };
}
