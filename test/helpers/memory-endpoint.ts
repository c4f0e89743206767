// Replication endpoints for the copy-engine tests (worker/replication/endpoint.ts):
//   - MemoryEndpoint: a registry held in memory that behaves as a conforming one does (a
//     manifest is accepted only when what it points at is there, a blob only when its bytes
//     match its digest) and can be told to lie (serve other bytes for a digest);
//   - pier(): this Pier's endpoint; copyOptions(): a policy's options;
//   - recording(endpoint): any endpoint, with every call written down in order, to check what
//     a copy asked and what it wrote.
import { env } from "cloudflare:test";
import type { TestData } from "./conformance-data";
import { digestOf, OCI_MANIFEST } from "./registry";
import { RegistryError } from "../../worker/errors";
import type { Digest } from "../../worker/oci/digest";
import { parseManifest } from "../../worker/oci/manifest";
import type { CopyOptions } from "../../worker/replication/copy-artifact";
import type { BlobBody, Endpoint, ManifestBytes, ReferrerDescriptor } from "../../worker/replication/endpoint";
import { localEndpoint } from "../../worker/replication/local-endpoint";

/** This Pier as an endpoint, as the replication runner makes it. */
export function pier(): Endpoint {
  return localEndpoint(env, () => {}, "admin");
}

/** A policy's copy options: no override, every type, no bandwidth limit, no mount hint; `changes` applied. */
export function copyOptions(changes: Partial<CopyOptions> = {}): CopyOptions {
  return { override: false, artifactTypes: null, bytesPerSecond: null, mountFrom: null, ...changes };
}

export class MemoryEndpoint implements Endpoint {
  readonly manifests = new Map<string, ManifestBytes>();
  readonly tags = new Map<string, Digest>();
  readonly blobs = new Map<string, Uint8Array>();
  /** Bytes served for a digest instead of its own (any repository): a source that lies. */
  readonly lies = new Map<string, Uint8Array>();
  /** Manifests served under a digest whose bytes are other ones: a source that lies about manifests. */
  readonly manifestLies = new Map<string, Uint8Array>();

  constructor(readonly name = "memory") {}

  /** Puts a conformance data set in `repository`: blobs, manifests, tags. */
  async load(repository: string, td: TestData): Promise<void> {
    for (const [digest, bytes] of td.blobs) this.blobs.set(key(repository, digest), bytes);
    for (const digest of td.manOrder) this.storeManifest(repository, digest, manifestOf(td, digest));
    for (const [tag, digest] of td.tags) this.storeManifest(repository, tag, manifestOf(td, digest));
  }

  async addBlob(repository: string, bytes: Uint8Array): Promise<Digest> {
    const digest = (await digestOf(bytes)) as Digest;
    this.blobs.set(key(repository, digest), bytes);
    return digest;
  }

  async listRepositories(): Promise<string[]> {
    return [...new Set([...this.manifests.keys(), ...this.tags.keys()].map((k) => k.slice(0, k.search(/[@:]/))))].sort();
  }

  async listTags(repository: string): Promise<string[]> {
    const prefix = `${repository}:`;
    return [...this.tags.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  }

  async getManifest(repository: string, reference: string): Promise<ManifestBytes | null> {
    const digest = this.resolve(repository, reference);
    const manifest = digest === null ? undefined : this.manifests.get(key(repository, digest));
    if (manifest === undefined) return null;
    const lie = this.manifestLies.get(manifest.digest);
    return { ...manifest, bytes: lie ?? manifest.bytes };
  }

  async manifestDigest(repository: string, reference: string): Promise<Digest | null> {
    const digest = this.resolve(repository, reference);
    return digest !== null && this.manifests.has(key(repository, digest)) ? digest : null;
  }

  async putManifest(repository: string, reference: string, manifest: ManifestBytes): Promise<void> {
    if ((await digestOf(manifest.bytes)) !== manifest.digest) throw new RegistryError("DIGEST_INVALID", `manifest is not ${manifest.digest}`);
    const parsed = parseManifest(manifest.bytes, manifest.mediaType);
    const blobs = parsed.blobs.filter((blob) => blob.urls === undefined).map((blob) => blob.digest);
    const missing = [...blobs.filter((d) => !this.blobs.has(key(repository, d))), ...parsed.children.map((c) => c.digest).filter((d) => !this.manifests.has(key(repository, d)))];
    if (missing.length > 0) throw new RegistryError("MANIFEST_BLOB_UNKNOWN", `${this.name}: ${repository} lacks ${missing.join(", ")}`);
    this.storeManifest(repository, reference, manifest);
  }

  async deleteManifest(repository: string, reference: string): Promise<boolean> {
    if (reference.includes(":")) return this.manifests.delete(key(repository, reference));
    return this.tags.delete(`${repository}:${reference}`);
  }

  async hasBlob(repository: string, digest: Digest): Promise<boolean> {
    return this.blobs.has(key(repository, digest));
  }

  async getBlob(repository: string, digest: Digest): Promise<BlobBody | null> {
    const bytes = this.blobs.get(key(repository, digest));
    if (bytes === undefined) return null;
    const served = this.lies.get(digest) ?? bytes;
    return { size: served.byteLength, body: new Blob([served]).stream() };
  }

  async putBlob(repository: string, digest: Digest, blob: () => Promise<BlobBody>, _mountFrom: string | null): Promise<{ transferred: boolean }> {
    const { body } = await blob();
    const bytes = new Uint8Array(await new Response(body).arrayBuffer());
    if ((await digestOf(bytes)) !== digest) throw new RegistryError("DIGEST_INVALID", `blob is not ${digest}`);
    this.blobs.set(key(repository, digest), bytes);
    return { transferred: true };
  }

  async listReferrers(repository: string, digest: Digest): Promise<ReferrerDescriptor[]> {
    const referrers: ReferrerDescriptor[] = [];
    for (const [k, manifest] of this.manifests) {
      if (!k.startsWith(`${repository}@`)) continue;
      const parsed = parseManifest(manifest.bytes, manifest.mediaType);
      if (parsed.subject?.digest !== digest) continue;
      referrers.push({ mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.byteLength, ...(parsed.artifactType !== null && { artifactType: parsed.artifactType }) });
    }
    return referrers;
  }

  private storeManifest(repository: string, reference: string, manifest: ManifestBytes): void {
    this.manifests.set(key(repository, manifest.digest), manifest);
    if (!reference.includes(":")) this.tags.set(`${repository}:${reference}`, manifest.digest);
  }

  private resolve(repository: string, reference: string): Digest | null {
    return reference.includes(":") ? (reference as Digest) : (this.tags.get(`${repository}:${reference}`) ?? null);
  }
}

function key(repository: string, digest: string): string {
  return `${repository}@${digest}`;
}

function manifestOf(td: TestData, digest: string): ManifestBytes {
  const bytes = td.manifests.get(digest)!;
  const declared = (JSON.parse(new TextDecoder().decode(bytes)) as { mediaType?: string }).mediaType;
  return { digest: digest as Digest, mediaType: declared ?? OCI_MANIFEST, bytes };
}

/** One call an endpoint received: its method and its repository, reference or digest. */
export interface Call {
  method: keyof Endpoint;
  repository: string;
  target: string;
}

/** `endpoint` with every call recorded in `calls`, in the order made (putBlob: whether bytes were read, too). */
export function recording(endpoint: Endpoint): { endpoint: Endpoint; calls: Call[]; bodiesRead: string[] } {
  const calls: Call[] = [];
  const bodiesRead: string[] = [];
  const note = (method: keyof Endpoint, repository = "", target = "") => calls.push({ method, repository, target });
  const recorded: Endpoint = {
    name: endpoint.name,
    listRepositories: () => (note("listRepositories"), endpoint.listRepositories()),
    listTags: (repository) => (note("listTags", repository), endpoint.listTags(repository)),
    getManifest: (repository, reference) => (note("getManifest", repository, reference), endpoint.getManifest(repository, reference)),
    manifestDigest: (repository, reference) => (note("manifestDigest", repository, reference), endpoint.manifestDigest(repository, reference)),
    putManifest: (repository, reference, manifest) => (note("putManifest", repository, reference), endpoint.putManifest(repository, reference, manifest)),
    deleteManifest: (repository, reference) => (note("deleteManifest", repository, reference), endpoint.deleteManifest(repository, reference)),
    hasBlob: (repository, digest) => (note("hasBlob", repository, digest), endpoint.hasBlob(repository, digest)),
    getBlob: (repository, digest) => (note("getBlob", repository, digest), endpoint.getBlob(repository, digest)),
    putBlob: (repository, digest, blob, mountFrom) => {
      note("putBlob", repository, digest);
      return endpoint.putBlob(repository, digest, () => (bodiesRead.push(digest), blob()), mountFrom);
    },
    listReferrers: (repository, digest) => (note("listReferrers", repository, digest), endpoint.listReferrers(repository, digest)),
  };
  return { endpoint: recorded, calls, bodiesRead };
}

/** The calls that write (put or delete), as "method target" strings. */
export function writesOf(calls: Call[]): string[] {
  return calls.filter((call) => call.method.startsWith("put") || call.method === "deleteManifest").map((call) => `${call.method} ${call.target}`);
}
