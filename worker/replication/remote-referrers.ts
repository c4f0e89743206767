// Referrers at a remote registry (OCI distribution spec v1.1, "Listing Referrers", "Pushing
// Manifests with Subject", "Referrers Tag Schema"). A registry with the referrers API answers
// GET /v2/<name>/referrers/<digest> with an image index; one without answers 404, and then the
// referrers are an image index pushed under the tag `<alg>-<encoded>` of the subject, which
// whoever pushes a referrer there keeps up to date: Pier too, when it pushes one and the answer
// carries no OCI-Subject header (the registry did not process the subject itself).
import { type Digest, tryParseDigest } from "../oci/digest";
import { parseManifest } from "../oci/manifest";
import { bareMediaType, OCI_INDEX } from "../oci/media-types";
import { type Peer, UpstreamError } from "../proxy/upstream-client";
import type { ManifestBytes, ReferrerDescriptor } from "./endpoint";
import { invalidAnswer, nextPage, parseJsonAnswer, readManifestAnswer, remoteFetch } from "./remote-requests";

/** The referrers API's pages followed; a subject with more referrers than this is not a real one. */
const MAX_PAGES = 100;
/** A lost race against another writer of the tag-schema index is retried this often. */
const MAX_TAG_UPDATES = 3;

/** A tag-schema index entry: the referrer's descriptor, as the spec asks it to be written. */
interface IndexEntry extends ReferrerDescriptor {
  annotations?: Record<string, string>;
}

/** The manifests whose subject is `subject`: the referrers API, else the tag schema; [] when neither has any. */
export async function listRemoteReferrers(peer: Peer, repository: string, subject: Digest): Promise<ReferrerDescriptor[]> {
  const listed = await referrersApi(peer, repository, subject);
  if (listed !== null) return listed;
  const index = await tagSchemaIndex(peer, repository, subject);
  return index === null ? [] : index.entries.map(({ mediaType, digest, size, artifactType }) => ({ mediaType, digest, size, ...(artifactType !== undefined && { artifactType }) }));
}

/** The referrers tag of a subject: `<algorithm, 32 characters at most>-<encoded, 64 at most>`. */
export function referrersTag(subject: Digest): string {
  const [algorithm, encoded] = subject.split(":") as [string, string];
  return `${algorithm.slice(0, 32)}-${encoded.slice(0, 64)}`.replace(/[^a-zA-Z0-9._-]/g, "-");
}

/**
 * After a manifest was pushed: when it has a subject and the registry did not say it processed it
 * (no OCI-Subject on the answer), adds its descriptor to the subject's tag-schema index, if absent.
 * The index is replaced conditionally (If-Match on its ETag) where the registry gives one, so
 * two referrers pushed at once do not drop each other; a lost race is read and tried again.
 */
export async function maintainReferrersTag(peer: Peer, repository: string, manifest: ManifestBytes, answer: Response): Promise<void> {
  if (answer.headers.get("OCI-Subject") !== null) return;
  let parsed;
  try {
    parsed = parseManifest(manifest.bytes, manifest.mediaType);
  } catch {
    // Not a shape Pier knows, so not one whose subject it can read: nothing to maintain.
    return;
  }
  if (parsed.subject === null) return;
  const entry: IndexEntry = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.byteLength };
  if (parsed.artifactType !== null) entry.artifactType = parsed.artifactType;
  if (parsed.annotations !== null) entry.annotations = parsed.annotations;
  const tag = referrersTag(parsed.subject.digest);
  for (let attempt = 1; ; attempt++) {
    const current = await tagSchemaIndex(peer, repository, parsed.subject.digest, true);
    const entries = current?.entries ?? [];
    if (entries.some((existing) => existing.digest === entry.digest)) return;
    const bytes = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...entries, entry] }));
    const headers: Record<string, string> = { "Content-Type": OCI_INDEX };
    if (current?.etag) headers["If-Match"] = current.etag;
    try {
      const put = await remoteFetch(peer, { method: "PUT", repository, actions: "pull,push", path: `/v2/${repository}/manifests/${tag}`, headers, body: bytes });
      await put.body?.cancel();
      if (put.status === 404) throw new UpstreamError(peer.name, { kind: "status", status: 404, retryAfter: null, detail: `PUT of the referrers index ${tag}` });
      return;
    } catch (error) {
      const lostRace = error instanceof UpstreamError && error.failure.kind === "status" && error.failure.status === 412;
      if (!lostRace || attempt === MAX_TAG_UPDATES) throw error;
    }
  }
}

/** The referrers API's answer, all pages; null when the registry has no referrers API (404, or not an index). */
async function referrersApi(peer: Peer, repository: string, subject: Digest): Promise<ReferrerDescriptor[] | null> {
  const found: ReferrerDescriptor[] = [];
  let path: string | null = `/v2/${repository}/referrers/${subject}`;
  for (let page = 0; path !== null; page++) {
    if (page === MAX_PAGES) throw invalidAnswer(peer, `more than ${MAX_PAGES} pages of referrers of ${subject}`);
    const response = await remoteFetch(peer, { method: "GET", repository, path, accept: OCI_INDEX });
    if (response.status === 404 || bareMediaType(response.headers.get("Content-Type")) !== OCI_INDEX) {
      await response.body?.cancel();
      if (page === 0) return null;
      throw invalidAnswer(peer, `a page of referrers of ${subject} that is not an image index`);
    }
    const index = parseJsonAnswer(peer, await readManifestAnswer(peer, response), "a referrers index");
    found.push(...entriesOf(peer, index).map(({ mediaType, digest, size, artifactType }) => ({ mediaType, digest, size, ...(artifactType !== undefined && { artifactType }) })));
    path = nextPage(peer, response);
  }
  return found;
}

/**
 * The subject's tag-schema index and its ETag; null when the tag does not exist. Another kind of
 * manifest under the tag: for a listing, no referrers (the spec's SHOULD); for an update
 * (`strict`), a failure, rather than overwriting what someone else keeps there.
 */
async function tagSchemaIndex(peer: Peer, repository: string, subject: Digest, strict = false): Promise<{ entries: IndexEntry[]; etag: string | null } | null> {
  const tag = referrersTag(subject);
  const response = await remoteFetch(peer, { method: "GET", repository, path: `/v2/${repository}/manifests/${tag}`, accept: OCI_INDEX });
  if (response.status === 404) {
    await response.body?.cancel();
    return null;
  }
  const bytes = await readManifestAnswer(peer, response);
  let index: Record<string, unknown> | null = null;
  try {
    index = parseJsonAnswer(peer, bytes, "a referrers index");
  } catch (error) {
    if (strict) throw error;
  }
  const isIndex = index !== null && (index.mediaType ?? bareMediaType(response.headers.get("Content-Type"))) === OCI_INDEX && Array.isArray(index.manifests);
  if (!isIndex) {
    if (strict) throw invalidAnswer(peer, `under the referrers tag ${tag} a manifest that is not an image index; Pier leaves it as it is`);
    return null;
  }
  return { entries: entriesOf(peer, index!), etag: response.headers.get("ETag") };
}

function entriesOf(peer: Peer, index: Record<string, unknown>): IndexEntry[] {
  const manifests = index.manifests ?? [];
  if (!Array.isArray(manifests)) throw invalidAnswer(peer, "a referrers index whose manifests is not a list");
  return manifests.map((item: unknown) => {
    const entry = (typeof item === "object" && item !== null ? item : {}) as Record<string, unknown>;
    const digest = typeof entry.digest === "string" ? tryParseDigest(entry.digest) : null;
    const { mediaType, size, artifactType, annotations } = entry;
    if (digest === null || typeof mediaType !== "string" || typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
      throw invalidAnswer(peer, "a referrers index with an entry that is not a descriptor (mediaType, digest, size)");
    }
    const descriptor: IndexEntry = { mediaType, digest, size };
    if (typeof artifactType === "string") descriptor.artifactType = artifactType;
    if (typeof annotations === "object" && annotations !== null && !Array.isArray(annotations)) descriptor.annotations = annotations as Record<string, string>;
    return descriptor;
  });
}
