// A Pier whose signing key was rotated, for tests of PIER_SIGNING_KEY_PREVIOUS: the pool's own
// bindings (test/vitest.config.ts) stay as they are, and requests go through the Worker with a
// copy of them that has other keys (a new object, so configFrom parses it afresh).
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import worker from "../../worker/index";
import type { Bindings } from "../../worker/env";
import { generateSigningKeyJwk } from "../../worker/dev/signing-key.mjs";
import { BASE } from "./registry";

/** The public part of a private JWK, as `npm run rotate-signing-key` keeps the previous key. */
export function publicPart(privateJwk: string): string {
  const { kty, crv, x, y } = JSON.parse(privateJwk) as JsonWebKey;
  return JSON.stringify({ kty, crv, x, y });
}

/** The secrets after one rotation of `from`: a new current key, `from`'s public part as the previous. */
export async function rotatedFrom(from: string): Promise<{ PIER_SIGNING_KEY: string; PIER_SIGNING_KEY_PREVIOUS: string }> {
  return { PIER_SIGNING_KEY: await generateSigningKeyJwk(), PIER_SIGNING_KEY_PREVIOUS: publicPart(from) };
}

/** A Pier like the pool's, but with these secrets (signing keys, or another ADMIN_PASSWORD). */
export function pierWith(secrets: { PIER_SIGNING_KEY: string; PIER_SIGNING_KEY_PREVIOUS?: string; ADMIN_PASSWORD?: string }): (path: string, init?: RequestInit) => Promise<Response> {
  const bindings = { ...env, ...secrets } as unknown as Bindings;
  return async (path, init = {}) => {
    const ctx = createExecutionContext();
    const response = await worker.fetch(new Request(`${BASE}${path}`, init), bindings, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
}
