// Which registry a request is about: Pier's own repositories, or an upstream it caches.
// One endpoint serves every client style; a read is routed by the first rule that matches:
//   1. containerd hosts.toml mirrors send `?ns=<host>`: a configured upstream's host[:port]
//      (for Docker Hub also docker.io, index.docker.io, registry-1.docker.io) selects it,
//      whatever the name's first segment (a prefix naming that same upstream is dropped:
//      containerd's `override_path` mirrors send it). An `ns` naming no upstream is ignored.
//   2. Prefixed, Harbor style: /v2/<upstream>/<repository>/…
//   3. A name a local repository owns is served locally.
//   4. dockerd `registry-mirrors` send unprefixed names: they go to PIER_MIRROR_DEFAULT.
// Writes are always local, and never to a prefixed upstream name (read-only).
//
// All three proxy styles land on one cache name, `<upstream>/<upstream repository>`, under
// which cached manifests and blobs are stored: a pull by mirror path warms the prefixed path.
// Only configured upstreams are ever contacted: the request picks one by name, never by URL.
import type { Config } from "../config";
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import { MAX_NAME_LENGTH, parseRepoName, type RepoName } from "../oci/names";
import { database } from "../storage/db/client";
import { repositoryExists } from "../storage/db/queries/repositories";
import { isAllowed, normalizeDockerHubName, type Upstream } from "./upstreams";

export interface ProxyTarget {
  upstream: Upstream;
  /** The repository's name on the upstream (Docker Hub names normalised: library/alpine). */
  repository: string;
  /** Where Pier keeps the cached content: `<upstream name>/<repository>`. */
  cacheName: RepoName;
}

/**
 * `byHost`: the upstream was chosen by `?ns=`, which a token scope cannot name, so such a read
 * is authorised under its cache name (worker/routes/authorization.ts).
 */
export type ReadTarget = { kind: "local"; repository: RepoName } | { kind: "proxy"; target: ProxyTarget; byHost?: true };

export async function routeRead(env: Bindings, config: Config, rawName: string, ns: string | undefined): Promise<ReadTarget> {
  const name = parseRepoName(rawName);
  if (config.upstreams.length === 0) return { kind: "local", repository: name };

  const byHost = ns === undefined ? undefined : upstreamForHost(config, ns);
  if (byHost !== undefined) {
    // containerd with a Harbor-style `override_path` mirror sends the prefix as well.
    const prefixed = splitPrefix(config, name);
    return { kind: "proxy", target: proxyTarget(byHost, prefixed?.upstream === byHost ? prefixed.rest : name), byHost: true };
  }

  const prefixed = splitPrefix(config, name);
  if (prefixed !== null) return { kind: "proxy", target: proxyTarget(prefixed.upstream, prefixed.rest) };

  if (config.mirrorDefault === null || (await repositoryExists(database(env.DB), name))) return { kind: "local", repository: name };
  return { kind: "proxy", target: proxyTarget(config.mirrorDefault, name) };
}

/** The repository a push or delete writes to; prefixed upstream names are read-only. */
export function routeWrite(config: Config, repository: RepoName): RepoName {
  const prefixed = splitPrefix(config, repository);
  if (prefixed !== null) {
    throw new RegistryError("DENIED", `${prefixed.upstream.name}/ is a read-only pull-through cache of ${prefixed.upstream.url}; push to a local repository instead`);
  }
  return repository;
}

/** The upstream whose host (as containerd sends it in `ns`) matches, if any. */
function upstreamForHost(config: Config, ns: string): Upstream | undefined {
  const host = ns.trim().toLowerCase();
  return config.upstreams.find((upstream) => upstream.hosts.includes(host));
}

function splitPrefix(config: Config, name: string): { upstream: Upstream; rest: string } | null {
  const slash = name.indexOf("/");
  if (slash === -1) return null;
  const upstream = config.upstreams.find((candidate) => candidate.name === name.slice(0, slash));
  return upstream === undefined ? null : { upstream, rest: name.slice(slash + 1) };
}

/** The cache target for `name` on `upstream` (normalised, checked against its allow list). */
export function proxyTarget(upstream: Upstream, name: string): ProxyTarget {
  const repository = upstream.type === "dockerhub" ? normalizeDockerHubName(name) : name;
  if (!isAllowed(upstream.allow, repository)) {
    throw new RegistryError("NAME_UNKNOWN", `repository ${repository} is not served from upstream ${upstream.name} (not in its "allow" list)`);
  }
  const cacheName = `${upstream.name}/${repository}`;
  if (cacheName.length > MAX_NAME_LENGTH) {
    throw new RegistryError("NAME_INVALID", `repository name ${upstream.name}/${repository} is longer than ${MAX_NAME_LENGTH} characters`);
  }
  return { upstream, repository, cacheName: cacheName as RepoName };
}
