// The state behind the fake upstream registries (fake-upstream-server.mjs): content, per-repo
// behaviours, held responses and the request log. One store serves every port, so a test seeds
// once and compares how the same content looks through each auth mode. Everything is keyed by
// repository and tests use unique repositories, so test files running in parallel never meet.
import { createHash } from "node:crypto";

/**
 * @typedef {{ bytes: Buffer, mediaType: string }} StoredManifest
 * @typedef {{ manifests: Map<string, StoredManifest>, tags: Map<string, string>, blobs: Map<string, Buffer> }} Repo
 * @typedef {{
 *   status?: number, retryAfter?: string, statusTimes?: number, delayMs?: number,
 *   corruptBlobs?: boolean, cutBlobsAfter?: number, holdBlobsAfter?: number,
 *   redirectBlobs?: boolean, omitDigestHeader?: boolean, chunkedBlobs?: boolean,
 * }} Behaviour
 * @typedef {{ server: string, method: string, path: string, authorization: string | null, repo: string | null, at: number }} LogEntry
 */

/** The type each behaviour field must have; anything else is refused so a typo fails loudly. */
const BEHAVIOUR_FIELDS = {
  status: "number",
  retryAfter: "string",
  statusTimes: "number",
  delayMs: "number",
  corruptBlobs: "boolean",
  cutBlobsAfter: "number",
  holdBlobsAfter: "number",
  redirectBlobs: "boolean",
  omitDigestHeader: "boolean",
  chunkedBlobs: "boolean",
};

/** `sha256:<hex>` (or sha512) of exactly these bytes, as the distribution spec defines digests. */
export function digestOf(bytes, algorithm = "sha256") {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;
}

export function isDigest(reference) {
  return /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(reference);
}

export class FakeUpstreamStore {
  /** @type {Map<string, Repo>} */
  #repos = new Map();
  /** @type {Map<string, Behaviour>} */
  #behaviours = new Map();
  /** @type {Map<string, Set<() => void>>} responses paused by holdBlobsAfter, per repo */
  #held = new Map();
  /** @type {LogEntry[]} */
  #log = [];

  /** @returns {Repo | undefined} */
  repo(name) {
    return this.#repos.get(name);
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
   * Stores a manifest under its true digest and, for a tag, the tag. A digest reference that
   * does not match the bytes is stored as given too: that is how a test builds an upstream
   * that lies about content, which the cache must refuse.
   */
  putManifest(name, reference, bytes, mediaType) {
    const repo = this.#repoForWrite(name);
    const digest = digestOf(bytes);
    const manifest = { bytes, mediaType };
    repo.manifests.set(digest, manifest);
    if (reference && isDigest(reference)) repo.manifests.set(reference, manifest);
    else if (reference) repo.tags.set(reference, digest);
    return digest;
  }

  /** @returns {StoredManifest & { digest: string } | null} */
  manifest(name, reference) {
    const repo = this.#repos.get(name);
    const digest = isDigest(reference) ? reference : repo?.tags.get(reference);
    const manifest = digest === undefined ? undefined : repo?.manifests.get(digest);
    return manifest ? { ...manifest, digest } : null;
  }

  removeTag(name, tag) {
    return this.#repos.get(name)?.tags.delete(tag) ?? false;
  }

  putBlob(name, bytes, algorithm = "sha256") {
    const digest = digestOf(bytes, algorithm);
    this.#repoForWrite(name).blobs.set(digest, bytes);
    return digest;
  }

  /** @returns {Buffer | null} */
  blob(name, digest) {
    return this.#repos.get(name)?.blobs.get(digest) ?? null;
  }

  /** Replaces the repo's behaviour; `{}` clears it. Throws on an unknown field or a wrong type. */
  setBehaviour(name, behaviour) {
    if (typeof behaviour !== "object" || behaviour === null || Array.isArray(behaviour)) throw new Error("behaviour must be a JSON object");
    for (const [field, value] of Object.entries(behaviour)) {
      if (!(field in BEHAVIOUR_FIELDS)) throw new Error(`unknown behaviour field "${field}"`);
      if (typeof value !== BEHAVIOUR_FIELDS[field]) throw new Error(`behaviour field "${field}" must be a ${BEHAVIOUR_FIELDS[field]}`);
    }
    if (Object.keys(behaviour).length === 0) this.#behaviours.delete(name);
    else this.#behaviours.set(name, { ...behaviour });
  }

  /** @returns {Behaviour} */
  behaviour(name) {
    return this.#behaviours.get(name) ?? {};
  }

  /**
   * The forced error status for this request, if any. With statusTimes the status is used up:
   * after n answers the repo behaves normally again (a transient upstream failure).
   */
  takeStatus(name) {
    const behaviour = this.#behaviours.get(name);
    if (behaviour?.status === undefined) return null;
    if (behaviour.statusTimes !== undefined) {
      if (behaviour.statusTimes <= 0) return null;
      behaviour.statusTimes -= 1;
    }
    return { status: behaviour.status, retryAfter: behaviour.retryAfter ?? null };
  }

  /** Resolves when release(name) is called; `cancel` forgets the waiter (client went away). */
  hold(name) {
    let waiters = this.#held.get(name);
    if (!waiters) this.#held.set(name, (waiters = new Set()));
    /** @type {() => void} */
    let resume = () => {};
    const released = new Promise((resolve) => (resume = resolve));
    waiters.add(resume);
    return { released, cancel: () => waiters.delete(resume) };
  }

  /** Lets every held response for the repo continue; returns how many there were. */
  release(name) {
    const waiters = this.#held.get(name) ?? new Set();
    this.#held.delete(name);
    for (const resume of waiters) resume();
    return waiters.size;
  }

  /** @param {LogEntry} entry */
  record(entry) {
    this.#log.push(entry);
  }

  /** @returns {LogEntry[]} */
  log(name) {
    return this.#log.filter((entry) => entry.repo === name);
  }
}
