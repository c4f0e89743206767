// The state of one fake remote registry (fake-remote-server.mjs): its repositories (manifests
// with their exact bytes and media type, tags, blobs linked per repository as distribution links
// them), open upload sessions, the request log and the scripted faults. Every registry the
// control API creates has a store of its own, so test files running in parallel never meet.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { digestOf, isDigest } from "./fake-upstream-store.mjs";

export { digestOf, isDigest };

/**
 * @typedef {{ bytes: Buffer, mediaType: string, subject: string | null, artifactType: string | null, annotations: Record<string, string> | null }} StoredManifest
 * @typedef {{ manifests: Map<string, StoredManifest>, tags: Map<string, string>, blobs: Map<string, Buffer> }} Repo
 * @typedef {{ id: string, state: string, repo: string, chunks: Buffer[], size: number, sha256: import("node:crypto").Hash, sha512: import("node:crypto").Hash }} Upload
 * @typedef {{
 *   server: "registry" | "realm" | "cdn", host: string, method: string, path: string, query: string,
 *   authScheme: string | null, authUser: string | null, repo: string | null, at: number,
 *   status: number | null, bodyBytes: number,
 * }} LogEntry
 * @typedef {{ method: string | null, path: RegExp, status: number | null, headers: Record<string, string>, count: number, delayMs: number, drop: boolean }} Fault
 */

export class FakeRemoteStore {
  /** @type {Map<string, Repo>} */
  #repos = new Map();
  /** @type {Map<string, Upload>} */
  #uploads = new Map();
  /** @type {LogEntry[]} */
  #log = [];
  /** @type {Fault[]} */
  #faults = [];

  /** @returns {Repo | undefined} */
  repo(name) {
    return this.#repos.get(name);
  }

  /** Names of the repositories holding anything, sorted (the catalog). */
  repositories() {
    return [...this.#repos.keys()].sort();
  }

  #repoForWrite(name) {
    let repo = this.#repos.get(name);
    if (!repo) {
      repo = { manifests: new Map(), tags: new Map(), blobs: new Map() };
      this.#repos.set(name, repo);
    }
    return repo;
  }

  /**
   * Stores a manifest's exact bytes under its digest (computed with the reference's algorithm
   * when the reference is a digest) and, for a tag, points the tag at it.
   * @returns {string} the digest
   */
  putManifest(name, reference, bytes, mediaType) {
    const repo = this.#repoForWrite(name);
    const byDigest = reference !== null && isDigest(reference);
    const digest = byDigest ? digestOf(bytes, reference.split(":")[0]) : digestOf(bytes);
    const fields = parseJson(bytes);
    repo.manifests.set(digest, {
      bytes,
      mediaType,
      subject: typeof fields?.subject?.digest === "string" ? fields.subject.digest : null,
      artifactType: typeof fields?.artifactType === "string" ? fields.artifactType : typeof fields?.config?.mediaType === "string" ? fields.config.mediaType : null,
      annotations: fields?.annotations && typeof fields.annotations === "object" ? fields.annotations : null,
    });
    if (reference !== null && !byDigest) repo.tags.set(reference, digest);
    return digest;
  }

  /** @returns {StoredManifest & { digest: string } | null} */
  manifest(name, reference) {
    const repo = this.#repos.get(name);
    const digest = isDigest(reference) ? reference : repo?.tags.get(reference);
    const manifest = digest === undefined ? undefined : repo?.manifests.get(digest);
    return manifest ? { ...manifest, digest } : null;
  }

  /** Deletes a manifest by digest (and every tag on it) or a tag; false when absent. */
  deleteManifest(name, reference) {
    const repo = this.#repos.get(name);
    if (!repo) return false;
    if (!isDigest(reference)) return repo.tags.delete(reference);
    if (!repo.manifests.delete(reference)) return false;
    for (const [tag, digest] of repo.tags) if (digest === reference) repo.tags.delete(tag);
    return true;
  }

  /** The manifests in the repository whose subject is `digest`, with their digests. */
  referrers(name, digest) {
    const repo = this.#repos.get(name);
    return [...(repo?.manifests ?? [])].filter(([, manifest]) => manifest.subject === digest).map(([own, manifest]) => ({ ...manifest, digest: own }));
  }

  putBlob(name, bytes, algorithm = "sha256") {
    const digest = digestOf(bytes, algorithm);
    this.#repoForWrite(name).blobs.set(digest, bytes);
    return digest;
  }

  /** Links a blob under a digest already checked by the caller (upload finished, mount). */
  linkBlob(name, digest, bytes) {
    this.#repoForWrite(name).blobs.set(digest, bytes);
  }

  /** @returns {Buffer | null} */
  blob(name, digest) {
    return this.#repos.get(name)?.blobs.get(digest) ?? null;
  }

  deleteBlob(name, digest) {
    return this.#repos.get(name)?.blobs.delete(digest) ?? false;
  }

  /** A new session; `state` is the opaque token its Location carries (distribution's _state). */
  openUpload(repo) {
    const upload = { id: randomUUID(), state: randomBytes(12).toString("hex"), repo, chunks: [], size: 0, sha256: createHash("sha256"), sha512: createHash("sha512") };
    this.#uploads.set(upload.id, upload);
    return upload;
  }

  /** The session, when it exists and belongs to this repository. */
  upload(repo, id) {
    const upload = this.#uploads.get(id);
    return upload && upload.repo === repo ? upload : null;
  }

  closeUpload(id) {
    return this.#uploads.delete(id);
  }

  openUploads() {
    return this.#uploads.size;
  }

  /** @param {LogEntry} entry */
  record(entry) {
    this.#log.push(entry);
    return entry;
  }

  log() {
    return this.#log;
  }

  clearLog() {
    this.#log = [];
  }

  /** @param {Fault} fault */
  addFault(fault) {
    this.#faults.push(fault);
  }

  clearFaults() {
    this.#faults = [];
  }

  /**
   * The first fault matching this request, used up by one; null when none matches.
   * @returns {Fault | null}
   */
  takeFault(method, path) {
    const fault = this.#faults.find((candidate) => (candidate.method === null || candidate.method === method) && candidate.path.test(path));
    if (!fault) return null;
    fault.count -= 1;
    if (fault.count <= 0) this.#faults.splice(this.#faults.indexOf(fault), 1);
    return fault;
  }
}

/** The JSON object in these bytes, or null. */
export function parseJson(bytes) {
  try {
    const value = JSON.parse(bytes.toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}
