// GET /.well-known/jwks.json: the public keys that verify Pier's tokens (RFC 7517 §5).
import { env } from "cloudflare:test";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import { describe, expect, it } from "vitest";
import { ADMIN, getToken } from "../helpers/identities";
import { request } from "../helpers/registry";
import { pierWith, rotatedFrom } from "../helpers/rotated-pier";

async function keySet(): Promise<JSONWebKeySet> {
  return (await (await request("/.well-known/jwks.json")).json()) as JSONWebKeySet;
}

async function issuedToken(): Promise<string> {
  return ((await (await getToken([], ADMIN)).json()) as { token: string }).token;
}

describe("GET /.well-known/jwks.json", () => {
  it("publishes the public key only", async () => {
    const { keys } = await keySet();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect(keys[0]).not.toHaveProperty("d");
  });

  it("names the key by the kid in issued tokens' headers", async () => {
    const { keys } = await keySet();
    expect(decodeProtectedHeader(await issuedToken()).kid).toBe(keys[0]!.kid);
  });

  it("verifies issued tokens", async () => {
    const { payload } = await jwtVerify(await issuedToken(), createLocalJWKSet(await keySet()));
    expect(payload.sub).toBe("admin");
  });

  it("may be cached for five minutes", async () => {
    expect((await request("/.well-known/jwks.json")).headers.get("Cache-Control")).toBe("public, max-age=300");
  });

  it("publishes the current key and the previous one after a rotation, current first, without d", async () => {
    const before = (await keySet()).keys[0]!;
    const secrets = await rotatedFrom(env.PIER_SIGNING_KEY);
    const { keys } = (await (await pierWith(secrets)("/.well-known/jwks.json")).json()) as JSONWebKeySet;
    const { x, y } = JSON.parse(secrets.PIER_SIGNING_KEY) as JsonWebKey;
    expect(keys).toEqual([
      { kty: "EC", crv: "P-256", x, y, kid: expect.any(String), alg: "ES256", use: "sig" },
      before,
    ]);
    expect(keys[0]!.kid).not.toBe(before.kid);
  });

  it("publishes the key once when the previous key is the current one", async () => {
    const { keys } = (await (await pierWith({ PIER_SIGNING_KEY: env.PIER_SIGNING_KEY, PIER_SIGNING_KEY_PREVIOUS: env.PIER_SIGNING_KEY })("/.well-known/jwks.json")).json()) as JSONWebKeySet;
    expect(keys).toEqual((await keySet()).keys);
  });
});
