// Upstream registries for the pull-through cache, declared in PIER_UPSTREAMS (wrangler.toml
// [vars] as a TOML array, or .dev.vars as a JSON string):
//   [{"name": "hub", "url": "https://registry-1.docker.io", "type": "dockerhub",
//     "usernameSecret": "HUB_USER", "passwordSecret": "HUB_TOKEN", "tagTtlSeconds": 600,
//     "allow": ["library/*"], "timeoutMs": 10000, "maxBytes": 107374182400, "maxIdleDays": 30}]
// Credentials are the NAMES of secrets, never the secrets themselves, and an upstream that has
// some is spoken to over HTTPS (plain HTTP only on loopback). Anything malformed is a
// ConfigError naming the upstream and the field: a cache that silently proxies less (or more)
// than its operator wrote is worse than one that does not start.
import { ConfigError } from "../config";
import { tryParseRepoName } from "../oci/names";

export type UpstreamType = "dockerhub" | "oci";

export interface Upstream {
  /** Also the prefix of proxied names (`/v2/<name>/…`) and the name of its proxy project. */
  name: string;
  /** Origin of the registry, e.g. https://registry-1.docker.io (no path). */
  url: string;
  type: UpstreamType;
  usernameSecret: string | null;
  passwordSecret: string | null;
  /** How long a tag → digest answer is fresh before it is revalidated upstream. */
  tagTtlSeconds: number;
  /** Repository patterns this upstream may serve: `*` within a segment, `**` across segments. */
  allow: string[];
  /** Bound on each upstream request until its headers arrive. */
  timeoutMs: number;
  /** The `host[:port]` values that name this upstream in containerd's `?ns=`. */
  hosts: string[];
  /**
   * Bound on the bytes cached for this upstream (its cached_artifacts sizes); past it, cache
   * eviction (worker/lifecycle/cache-eviction.ts) removes the least recently pulled. Null: none.
   */
  maxBytes: number | null;
  /** Cached artifacts not pulled for this many days are evicted. At least 1: 0 would evict all. */
  maxIdleDays: number;
}

const DEFAULT_TAG_TTL_SECONDS = 600;
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_IDLE_DAYS = 30;
const DOCKER_HUB_HOSTS = ["docker.io", "index.docker.io", "registry-1.docker.io"];
const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const UPSTREAM_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const KNOWN_FIELDS = new Set(["name", "url", "type", "usernameSecret", "passwordSecret", "tagTtlSeconds", "allow", "timeoutMs", "maxBytes", "maxIdleDays"]);

/** Parses PIER_UPSTREAMS (JSON text or an already-parsed array) and PIER_MIRROR_DEFAULT. */
export function parseUpstreams(value: unknown, mirrorDefault: string | undefined): { upstreams: Upstream[]; mirrorDefault: string | null } {
  let list = value ?? [];
  if (typeof list === "string") {
    try {
      list = list.trim() === "" ? [] : JSON.parse(list);
    } catch (error) {
      throw new ConfigError(`PIER_UPSTREAMS is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (!Array.isArray(list)) throw new ConfigError("PIER_UPSTREAMS must be an array of upstream objects");
  const upstreams = list.map((entry, index) => parseUpstream(entry, index));
  const names = new Set<string>();
  for (const upstream of upstreams) {
    if (names.has(upstream.name)) throw new ConfigError(`PIER_UPSTREAMS: the name "${upstream.name}" is used twice`);
    names.add(upstream.name);
  }
  const fallback = mirrorDefault === undefined || mirrorDefault === "" ? null : mirrorDefault;
  if (fallback !== null && !names.has(fallback)) {
    throw new ConfigError(`PIER_MIRROR_DEFAULT names "${fallback}", which is not an upstream in PIER_UPSTREAMS`);
  }
  return { upstreams, mirrorDefault: fallback };
}

/** Whether `name` may name a registry: one lowercase segment, e.g. "hub" (upstreams and remote registries alike). */
export function isRegistryName(name: unknown): name is string {
  return typeof name === "string" && name.length <= 64 && UPSTREAM_NAME.test(name);
}

function parseUpstream(entry: unknown, index: number): Upstream {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw new ConfigError(`PIER_UPSTREAMS[${index}] must be an object`);
  const fields = entry as Record<string, unknown>;
  const where = typeof fields.name === "string" ? `PIER_UPSTREAMS "${fields.name}"` : `PIER_UPSTREAMS[${index}]`;
  const fail = (message: string): never => {
    throw new ConfigError(`${where}: ${message}`);
  };
  for (const key of Object.keys(fields)) if (!KNOWN_FIELDS.has(key)) fail(`unknown field "${key}"`);

  const name = fields.name;
  if (typeof name !== "string" || !UPSTREAM_NAME.test(name)) fail('"name" must be one lowercase path segment, e.g. "hub"');
  const type = fields.type ?? "oci";
  if (type !== "dockerhub" && type !== "oci") fail('"type" must be "dockerhub" or "oci"');
  const url = parseOrigin(fields.url, fail);
  const usernameSecret = secretName(fields.usernameSecret, "usernameSecret", fail);
  const passwordSecret = secretName(fields.passwordSecret, "passwordSecret", fail);
  if ((usernameSecret === null) !== (passwordSecret === null)) fail('"usernameSecret" and "passwordSecret" go together');
  // Basic auth over plain HTTP is the password in clear text on every request; only this
  // machine (a local registry, the tests' fakes) may be spoken to that way.
  if (usernameSecret !== null && !mayCarryCredentials(new URL(url))) {
    fail('"url" is plain http:// on another host, so its credentials (usernameSecret/passwordSecret) would cross the network in clear text; use https://');
  }
  const allow = fields.allow ?? ["**"];
  if (!Array.isArray(allow) || allow.length === 0 || !allow.every((pattern) => typeof pattern === "string" && isPattern(pattern))) {
    fail('"allow" must be a non-empty list of repository patterns ("library/*", "team/**")');
  }
  const host = new URL(url).host;
  return {
    name: name as string,
    url,
    type: type as UpstreamType,
    usernameSecret,
    passwordSecret,
    tagTtlSeconds: wholeNumber(fields.tagTtlSeconds, "tagTtlSeconds", DEFAULT_TAG_TTL_SECONDS, 0, fail),
    allow: allow as string[],
    timeoutMs: wholeNumber(fields.timeoutMs, "timeoutMs", DEFAULT_TIMEOUT_MS, 1, fail),
    hosts: type === "dockerhub" ? [...new Set([host, ...DOCKER_HUB_HOSTS])] : [host],
    maxBytes: fields.maxBytes === undefined ? null : wholeNumber(fields.maxBytes, "maxBytes", 0, 1, fail),
    maxIdleDays: wholeNumber(fields.maxIdleDays, "maxIdleDays", DEFAULT_MAX_IDLE_DAYS, 1, fail),
  };
}

/**
 * A registry's `"url"`: an origin only (http:// or https://, no path, query or credentials),
 * as `scheme://host[:port]`; anything else is `fail` with the reason. Remote registries
 * (worker/services/management/registries.ts) follow the same rules.
 */
export function parseOrigin(value: unknown, fail: (message: string) => never): string {
  if (typeof value !== "string") return fail('"url" is required, e.g. "https://registry-1.docker.io"');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(`"url" is not a URL: "${value}"`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") fail('"url" must be http:// or https://');
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "" || url.username !== "") {
    fail('"url" must be an origin only (scheme, host, port): no path, query or credentials');
  }
  return url.origin;
}

/**
 * Whether an upstream's credentials may be sent to `url`: over HTTPS, or plain HTTP to a host
 * that is this machine (127.0.0.0/8, ::1, localhost), where they never cross the network.
 */
export function mayCarryCredentials(url: URL): boolean {
  // WHATWG URL hostnames: IPv4 already normalised (127.1 → 127.0.0.1), IPv6 in brackets.
  const loopback = url.hostname === "localhost" || url.hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(url.hostname);
  return url.protocol === "https:" || loopback;
}

function secretName(value: unknown, field: string, fail: (message: string) => never): string | null {
  if (value === undefined) return null;
  if (typeof value !== "string" || !SECRET_NAME.test(value)) fail(`"${field}" must be the NAME of a secret (wrangler secret put NAME), not a value`);
  return value as string;
}

function wholeNumber(value: unknown, field: string, fallback: number, min: number, fail: (message: string) => never): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) fail(`"${field}" must be a whole number >= ${min}`);
  return value as number;
}

/** A pattern is a repository name whose segments may also be `*`-globs or `**`. */
function isPattern(pattern: string): boolean {
  return pattern.split("/").every((segment) => segment === "**" || tryParseRepoName(segment.replace(/\*/g, "x")) !== null);
}

/** Whether `repository` (already normalised) is allowed by one of the patterns. */
export function isAllowed(patterns: string[], repository: string): boolean {
  return patterns.some((pattern) => patternToRegExp(pattern).test(repository));
}

function patternToRegExp(pattern: string): RegExp {
  const body = pattern
    .split("/")
    .map((segment) => (segment === "**" ? "(?:[^/]+(?:/[^/]+)*)" : segment.replace(/[.+?^${}()|[\]\\-]/g, "\\$&").replace(/\*/g, "[^/]*")))
    .join("/");
  return new RegExp(`^${body}$`);
}

/** Docker Hub names one-segment official images under `library/`: alpine → library/alpine. */
export function normalizeDockerHubName(repository: string): string {
  return repository.includes("/") ? repository : `library/${repository}`;
}
