// Configuration, parsed once per isolate from the bindings. A bad value stops every request
// with a message naming the setting (and `npm start` checks the same before serving), rather
// than being ignored.
import { checkSigningKeySetting, previousSigningKeySetting } from "./auth/signing-key";
import type { BucketRule } from "./auth/token-bucket";
import { DEFAULT_TOKEN_LIFETIME_SECONDS } from "./auth/tokens";
import type { Bindings } from "./env";
import { parseUpstreams, type Upstream } from "./proxy/upstreams";

export interface Config {
  /** Largest request body accepted; Cloudflare's plan limit (100 MB on Free and Pro). */
  maxBodyBytes: number;
  /** Registries Pier caches, from PIER_UPSTREAMS (empty: Pier contacts nothing). */
  upstreams: Upstream[];
  /** Where unprefixed mirror reads go (PIER_MIRROR_DEFAULT), or null. */
  mirrorDefault: Upstream | null;
  auth: AuthConfig;
  lifecycle: LifecycleConfig;
}

/** Storage lifecycle settings (worker/lifecycle). */
export interface LifecycleConfig {
  /**
   * Anything written or linked more recently than this many seconds before a garbage
   * collection started is kept by it (PIER_GC_GRACE_SECONDS; 0 keeps nothing, for tests).
   */
  gcGraceSeconds: number;
  /** Audit records older than this many days are purged by the scheduler (PIER_AUDIT_RETENTION_DAYS). */
  auditRetentionDays: number;
}

export const DEFAULT_GC_GRACE_SECONDS = 3600;
export const DEFAULT_AUDIT_RETENTION_DAYS = 180;

export interface AuthConfig {
  /** The password of the `admin` user (secret ADMIN_PASSWORD). */
  adminPassword: string;
  /** The private JWK tokens are signed with (secret PIER_SIGNING_KEY), checked but not imported. */
  signingKey: string;
  /**
   * The key before the last rotation (secret PIER_SIGNING_KEY_PREVIOUS, public part enough):
   * it still verifies the tokens it signed, never signs. null: not set.
   */
  previousSigningKey: string | null;
  /** Pier's public origin when it sits behind another hostname (PUBLIC_URL); null: the request's own. */
  publicUrl: string | null;
  /** How long an issued registry token lives (PIER_TOKEN_LIFETIME_SECONDS). */
  tokenLifetimeSeconds: number;
  /**
   * The token bucket each principal (signed in) or client IP (anonymous) gets for registry
   * requests (PIER_RATE_LIMIT_PER_SECOND); null: no limit.
   */
  requestLimit: BucketRule | null;
  /** Whether any signed-in user may create projects (PIER_USERS_CREATE_PROJECTS), not only admins. */
  usersMayCreateProjects: boolean;
}

/** Shortest ADMIN_PASSWORD accepted: the admin account is reachable from the whole internet. */
export const MIN_ADMIN_PASSWORD_LENGTH = 12;

export const DEFAULT_MAX_BODY_BYTES = 100_000_000;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The settings parseConfig reads, plus the secrets the upstreams name (by their names). */
export type ConfigSource = Partial<
  Pick<
    Bindings,
    "PIER_MAX_BODY_BYTES" | "PIER_UPSTREAMS" | "PIER_MIRROR_DEFAULT" | "ADMIN_PASSWORD" | "PIER_SIGNING_KEY" | "PIER_SIGNING_KEY_PREVIOUS" | "PUBLIC_URL" | "PIER_TOKEN_LIFETIME_SECONDS" | "PIER_USERS_CREATE_PROJECTS" | "PIER_RATE_LIMIT_PER_SECOND" | "PIER_GC_GRACE_SECONDS" | "PIER_AUDIT_RETENTION_DAYS"
  >
> &
  Record<string, unknown>;

const parsed = new WeakMap<Bindings, Config>();

export function configFrom(env: Bindings): Config {
  let config = parsed.get(env);
  if (!config) {
    config = parseConfig(env as unknown as ConfigSource);
    parsed.set(env, config);
  }
  return config;
}

export function parseConfig(env: ConfigSource): Config {
  const { upstreams, mirrorDefault } = parseUpstreams(env.PIER_UPSTREAMS, env.PIER_MIRROR_DEFAULT);
  for (const upstream of upstreams) {
    for (const secret of [upstream.usernameSecret, upstream.passwordSecret]) {
      // A named secret that is not set would silently turn into anonymous pulls.
      if (secret !== null && typeof env[secret] !== "string") {
        throw new ConfigError(`PIER_UPSTREAMS "${upstream.name}" names the secret ${secret}, which is not set (wrangler secret put ${secret}, or .dev.vars locally)`);
      }
    }
  }
  return {
    maxBodyBytes: positiveInteger(env.PIER_MAX_BODY_BYTES, "PIER_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
    upstreams,
    mirrorDefault: upstreams.find((upstream) => upstream.name === mirrorDefault) ?? null,
    auth: parseAuthConfig(env),
    lifecycle: {
      gcGraceSeconds: wholeNumber(env.PIER_GC_GRACE_SECONDS, "PIER_GC_GRACE_SECONDS", DEFAULT_GC_GRACE_SECONDS, "seconds"),
      auditRetentionDays: positiveInteger(env.PIER_AUDIT_RETENTION_DAYS, "PIER_AUDIT_RETENTION_DAYS", DEFAULT_AUDIT_RETENTION_DAYS, "days"),
    },
  };
}

function parseAuthConfig(env: ConfigSource): AuthConfig {
  const adminPassword = env.ADMIN_PASSWORD;
  if (typeof adminPassword !== "string" || adminPassword === "") {
    throw new ConfigError("ADMIN_PASSWORD is not set: it is the password of the admin user (wrangler secret put ADMIN_PASSWORD; npm start generates one)");
  }
  if (adminPassword.length < MIN_ADMIN_PASSWORD_LENGTH) throw new ConfigError(`ADMIN_PASSWORD must be at least ${MIN_ADMIN_PASSWORD_LENGTH} characters long`);
  checkSigningKeySetting(env.PIER_SIGNING_KEY);
  return {
    adminPassword,
    signingKey: env.PIER_SIGNING_KEY!,
    previousSigningKey: previousSigningKeySetting(env.PIER_SIGNING_KEY_PREVIOUS),
    publicUrl: publicOrigin(env.PUBLIC_URL),
    tokenLifetimeSeconds: positiveInteger(env.PIER_TOKEN_LIFETIME_SECONDS, "PIER_TOKEN_LIFETIME_SECONDS", DEFAULT_TOKEN_LIFETIME_SECONDS, "seconds"),
    requestLimit: requestLimit(env.PIER_RATE_LIMIT_PER_SECOND),
    usersMayCreateProjects: flag(env.PIER_USERS_CREATE_PROJECTS, "PIER_USERS_CREATE_PROJECTS"),
  };
}

/**
 * Registry requests per second per principal or client IP; a quiet client may burst
 * BURST_SECONDS worth (20,000 requests at the default). The default fits a fleet, not a
 * node: a rollout shares one robot, or one NAT address when anonymous, and 500 nodes pulling
 * a 12-layer image at once send about 8,000 requests (a /v2/ check, the index, the platform
 * manifest, the config and the layers each), all within the burst (`npm run bench:access`
 * replays it). Sign-ins are throttled apart, by their failures (worker/auth/sign-in-rules.ts),
 * so this budget never has to be small to stop a guesser.
 */
export const DEFAULT_REQUESTS_PER_SECOND = 1_000;
const BURST_SECONDS = 20;

function requestLimit(value: string | undefined): BucketRule | null {
  if (value === "0") return null;
  const perSecond = positiveInteger(value, "PIER_RATE_LIMIT_PER_SECOND", DEFAULT_REQUESTS_PER_SECOND, "requests (0 turns the limit off)");
  return { capacity: perSecond * BURST_SECONDS, refillPerSecond: perSecond };
}

function publicOrigin(value: string | undefined): string | null {
  if (value === undefined || value === "") return null;
  const url = URL.canParse(value) ? new URL(value) : null;
  if (url === null || (url.protocol !== "https:" && url.protocol !== "http:") || (url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
    throw new ConfigError(`PUBLIC_URL must be an origin like https://registry.example.com, got "${value}"`);
  }
  return url.origin;
}

function flag(value: string | undefined, name: string): boolean {
  if (value === undefined || value === "" || value === "false") return false;
  if (value === "true") return true;
  throw new ConfigError(`${name} must be "true" or "false", got "${value}"`);
}

function positiveInteger(value: string | undefined, name: string, fallback: number, unit = "bytes"): number {
  const number = wholeNumber(value, name, fallback, unit);
  if (number <= 0) throw new ConfigError(`${name} must be a positive whole number of ${unit}, got "${value}"`);
  return number;
}

/** A whole number, 0 included. */
function wholeNumber(value: string | undefined, name: string, fallback: number, unit: string): number {
  if (value === undefined || value === "") return fallback;
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number)) {
    throw new ConfigError(`${name} must be a whole number of ${unit}, got "${value}"`);
  }
  return number;
}
