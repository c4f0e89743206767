// A remote registry as a replication endpoint (endpoint.ts): the OCI distribution API spoken
// through the registry client (worker/proxy/upstream-client.ts) with the registry's unsealed
// credentials. What the remote answers is checked, not trusted: manifest bytes against the
// digest asked for and the one announced, sizes against Content-Length; blob bytes are checked
// by whoever stores them (R2's checksum for Pier, the remote's own check on the upload's PUT).
// Every failure of the remote is an UpstreamError (a 429 keeps its Retry-After).
import { configFrom } from "../config";
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import { type Digest, digestAlgorithm, digestOf, tryParseDigest } from "../oci/digest";
import { parseManifest } from "../oci/manifest";
import { bareMediaType, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, manifestKindOf, OCI_INDEX, OCI_MANIFEST } from "../oci/media-types";
import { parseReference, tryParseRepoName } from "../oci/names";
import { declaredLength } from "../bounded-body";
import { type Peer, UpstreamError } from "../proxy/upstream-client";
import { normalizeDockerHubName } from "../proxy/upstreams";
import type { BlobBody, Endpoint, ManifestBytes, ReferrerDescriptor } from "./endpoint";
import { pushBlob } from "./remote-push";
import { listRemoteReferrers, maintainReferrersTag } from "./remote-referrers";
import { loadRemoteRegistry, type RemoteRegistry } from "./remote-registry";
import { invalidAnswer, nextPage, parseJsonAnswer, readManifestAnswer, remoteFetch } from "./remote-requests";

/** Every manifest shape Pier knows; the remote picks what it has. */
const ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST].join(", ");
/** Entries asked per page of a listing (the spec's `n`). */
const PAGE_SIZE = 1000;
/** Pages of one listing followed at most: a million tags or repositories. */
const MAX_PAGES = 1000;

/** The remote registry `registryName` as an Endpoint; RegistryError NAME_UNKNOWN when there is none. */
export async function remoteEndpoint(env: Bindings, registryName: string): Promise<Endpoint> {
  const remote = await loadRemoteRegistry(env, registryName);
  if (remote === null) throw new RegistryError("NAME_UNKNOWN", `no remote registry is named "${registryName.slice(0, 100)}"`);
  return new RemoteEndpoint(remote, configFrom(env).maxBodyBytes);
}

class RemoteEndpoint implements Endpoint {
  readonly name: string;
  private readonly peer: Peer;

  constructor(
    private readonly remote: RemoteRegistry,
    private readonly maxBodyBytes: number,
  ) {
    this.name = remote.name;
    this.peer = remote.peer;
  }

  async listRepositories(): Promise<string[] | null> {
    // Docker Hub serves no catalog to anyone; others may refuse it (401, 404, 405).
    if (this.remote.type === "dockerhub") return null;
    try {
      return await this.listAll(null, `/v2/_catalog?n=${PAGE_SIZE}`, "repositories", ["registry:catalog:*"]);
    } catch (error) {
      if (error instanceof UpstreamError && error.failure.kind === "status" && [401, 403, 404, 405].includes(error.failure.status)) return null;
      throw error;
    }
  }

  async listTags(repository: string): Promise<string[]> {
    const name = this.repository(repository);
    return (await this.listAll(name, `/v2/${name}/tags/list?n=${PAGE_SIZE}`, "tags", [])) ?? [];
  }

  async getManifest(repository: string, reference: string): Promise<ManifestBytes | null> {
    const name = this.repository(repository);
    const response = await remoteFetch(this.peer, { method: "GET", repository: name, path: `/v2/${name}/manifests/${checkedReference(reference)}`, accept: ACCEPT });
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    const bytes = await readManifestAnswer(this.peer, response);
    // The digest to check against: the reference itself, and the one the remote announced.
    const asked = tryParseDigest(reference);
    const announced = tryParseDigest(response.headers.get("Docker-Content-Digest") ?? "");
    const expected = asked ?? announced;
    const digest = await digestOf(bytes, expected === null ? "sha256" : digestAlgorithm(expected));
    for (const claimed of [asked, announced]) {
      if (claimed !== null && digestAlgorithm(claimed) === digestAlgorithm(digest) && claimed !== digest) {
        throw invalidAnswer(this.peer, `a manifest of ${name} whose digest is ${digest}, not ${claimed}`);
      }
    }
    return { digest, mediaType: this.mediaTypeOf(response, bytes), bytes };
  }

  async manifestDigest(repository: string, reference: string): Promise<Digest | null> {
    const name = this.repository(repository);
    const response = await remoteFetch(this.peer, { method: "HEAD", repository: name, path: `/v2/${name}/manifests/${checkedReference(reference)}`, accept: ACCEPT });
    await response.body?.cancel();
    if (response.status === 404) return null;
    const announced = tryParseDigest(response.headers.get("Docker-Content-Digest") ?? "");
    if (announced !== null) return announced;
    const asked = tryParseDigest(reference);
    if (asked !== null) return asked;
    // A tag without an announced digest: the bytes say which it is.
    return (await this.getManifest(repository, reference))?.digest ?? null;
  }

  async putManifest(repository: string, reference: string, manifest: ManifestBytes): Promise<void> {
    const name = this.repository(repository);
    const answer = await remoteFetch(this.peer, {
      method: "PUT",
      repository: name,
      actions: "pull,push",
      path: `/v2/${name}/manifests/${checkedReference(reference)}`,
      headers: { "Content-Type": manifest.mediaType },
      body: manifest.bytes,
    });
    await answer.body?.cancel();
    if (answer.status === 404) throw new UpstreamError(this.peer.name, { kind: "status", status: 404, retryAfter: null, detail: `PUT of a manifest to ${name}` });
    const stored = tryParseDigest(answer.headers.get("Docker-Content-Digest") ?? "");
    if (stored !== null && digestAlgorithm(stored) === digestAlgorithm(manifest.digest) && stored !== manifest.digest) {
      throw invalidAnswer(this.peer, `that it stored the manifest as ${stored}, not ${manifest.digest}`);
    }
    await maintainReferrersTag(this.peer, name, manifest, answer);
  }

  async deleteManifest(repository: string, reference: string): Promise<boolean> {
    const name = this.repository(repository);
    const response = await remoteFetch(this.peer, { method: "DELETE", repository: name, actions: "pull,push", scopes: [`repository:${name}:delete`], path: `/v2/${name}/manifests/${checkedReference(reference)}` });
    await response.body?.cancel();
    return response.status !== 404;
  }

  async hasBlob(repository: string, digest: Digest): Promise<boolean> {
    const name = this.repository(repository);
    const response = await remoteFetch(this.peer, { method: "HEAD", repository: name, path: `/v2/${name}/blobs/${digest}` });
    await response.body?.cancel();
    return response.status !== 404;
  }

  async getBlob(repository: string, digest: Digest): Promise<BlobBody | null> {
    const name = this.repository(repository);
    const response = await remoteFetch(this.peer, { method: "GET", repository: name, path: `/v2/${name}/blobs/${digest}` });
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    const size = declaredLength(response.headers);
    if (size === null || response.body === null) {
      await response.body?.cancel();
      // Its length is what the copy sends on (a FixedLengthStream): without it there is nothing to check the bytes against.
      throw invalidAnswer(this.peer, `the blob ${digest} of ${name} without a Content-Length`);
    }
    return { size, body: response.body };
  }

  putBlob(repository: string, digest: Digest, blob: () => Promise<BlobBody>, mountFrom: string | null): Promise<{ transferred: boolean }> {
    const name = this.repository(repository);
    const from = mountFrom === null ? null : this.repository(mountFrom);
    return pushBlob({ peer: this.peer, repository: name, maxBodyBytes: this.maxBodyBytes }, digest, blob, from);
  }

  listReferrers(repository: string, digest: Digest): Promise<ReferrerDescriptor[]> {
    return listRemoteReferrers(this.peer, this.repository(repository), digest);
  }

  /** The remote's name for a repository: valid, and for Docker Hub with its `library/`. */
  private repository(repository: string): string {
    if (tryParseRepoName(repository) === null) throw new RegistryError("NAME_INVALID", `"${repository.slice(0, 100)}" is not a repository name`);
    return this.remote.type === "dockerhub" ? normalizeDockerHubName(repository) : repository;
  }

  /** The manifest's media type: the answer's Content-Type when it names a manifest, else the manifest's own. */
  private mediaTypeOf(response: Response, bytes: Uint8Array): string {
    const contentType = bareMediaType(response.headers.get("Content-Type"));
    if (contentType !== null && manifestKindOf(contentType) !== null) return contentType;
    try {
      return parseManifest(bytes, null).mediaType;
    } catch {
      // Artifacts Pier cannot index are still copied as bytes, under the type they were served as.
      if (contentType !== null && contentType !== "application/octet-stream") return contentType;
      throw invalidAnswer(this.peer, "a manifest whose media type is neither in its Content-Type nor in itself");
    }
  }

  /**
   * Every entry of a paginated listing (`field` of each page), following `Link: rel="next"`;
   * null when the first page is 404 (no such repository, or no catalog).
   */
  private async listAll(repository: string | null, first: string, field: string, scopes: string[]): Promise<string[] | null> {
    const entries: string[] = [];
    let path: string | null = first;
    for (let page = 0; path !== null; page++) {
      if (page === MAX_PAGES) throw invalidAnswer(this.peer, `more than ${MAX_PAGES} pages of ${field}`);
      const response = await remoteFetch(this.peer, { method: "GET", repository, scopes, path, accept: "application/json" });
      if (response.status === 404) {
        await response.body?.cancel();
        if (page === 0) return null;
        throw invalidAnswer(this.peer, `404 for a next page of ${field} it linked to`);
      }
      const body = parseJsonAnswer(this.peer, await readManifestAnswer(this.peer, response), `a list of ${field}`);
      const list = body[field] ?? [];
      if (!Array.isArray(list) || !list.every((item) => typeof item === "string")) throw invalidAnswer(this.peer, `a list of ${field} that is not a list of strings`);
      entries.push(...list);
      const next = nextPage(this.peer, response);
      if (next === path) throw invalidAnswer(this.peer, `a Link to the same page of ${field}`);
      path = next;
    }
    return entries;
  }
}

/** A tag or digest, checked before it goes into a path (TAG_INVALID / DIGEST_INVALID otherwise). */
function checkedReference(reference: string): string {
  const parsed = parseReference(reference);
  return parsed.kind === "tag" ? parsed.tag : parsed.digest;
}
