// GET /.well-known/jwks.json: the public key that verifies Pier's tokens (RFC 7517 §5).
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import { describe, expect, it } from "vitest";
import { ADMIN, getToken } from "../helpers/identities";
import { request } from "../helpers/registry";

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
});
