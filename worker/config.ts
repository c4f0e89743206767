// Configuration, parsed once per isolate from the bindings. A bad value stops every request
// with a message naming the setting (and `npm start` checks the same before serving), rather
// than being ignored.
import type { Bindings } from "./env";

export interface Config {
  /** Largest request body accepted; Cloudflare's plan limit (100 MB on Free and Pro). */
  maxBodyBytes: number;
}

export const DEFAULT_MAX_BODY_BYTES = 100_000_000;

export class ConfigError extends Error {
  override name = "ConfigError";
}

const parsed = new WeakMap<Bindings, Config>();

export function configFrom(env: Bindings): Config {
  let config = parsed.get(env);
  if (!config) {
    config = parseConfig(env);
    parsed.set(env, config);
  }
  return config;
}

export function parseConfig(env: Pick<Bindings, "PIER_MAX_BODY_BYTES">): Config {
  return { maxBodyBytes: positiveInteger(env.PIER_MAX_BODY_BYTES, "PIER_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES) };
}

function positiveInteger(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number <= 0) {
    throw new ConfigError(`${name} must be a positive whole number of bytes, got "${value}"`);
  }
  return number;
}
