// Configuration, parsed once per isolate from the bindings. A bad value stops every request
// with a message naming the setting (and `npm start` checks the same before serving), rather
// than being ignored.
import type { Bindings } from "./env";
import { parseUpstreams, type Upstream } from "./proxy/upstreams";

export interface Config {
  /** Largest request body accepted; Cloudflare's plan limit (100 MB on Free and Pro). */
  maxBodyBytes: number;
  /** Registries Pier caches, from PIER_UPSTREAMS (empty: Pier contacts nothing). */
  upstreams: Upstream[];
  /** Where unprefixed mirror reads go (PIER_MIRROR_DEFAULT), or null. */
  mirrorDefault: Upstream | null;
}

export const DEFAULT_MAX_BODY_BYTES = 100_000_000;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The settings parseConfig reads, plus the secrets the upstreams name (by their names). */
export type ConfigSource = Partial<Pick<Bindings, "PIER_MAX_BODY_BYTES" | "PIER_UPSTREAMS" | "PIER_MIRROR_DEFAULT">> & Record<string, unknown>;

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
  };
}

function positiveInteger(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number <= 0) {
    throw new ConfigError(`${name} must be a positive whole number of bytes, got "${value}"`);
  }
  return number;
}
