import { base64url } from "jose";
import { describe, expect, it } from "vitest";
import { jwks, loadSigningKey } from "../../worker/auth/signing-key";
import { ConfigError } from "../../worker/config";
import { generateSigningKeyJwk } from "../../worker/dev/signing-key.mjs";

type KeyGenAlgorithm = Parameters<SubtleCrypto["generateKey"]>[0];

async function generateJwk(algorithm: KeyGenAlgorithm = { name: "ECDSA", namedCurve: "P-256" }): Promise<JsonWebKey> {
  const pair = (await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as CryptoKeyPair;
  return (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
}

/** RFC 7638 §3: SHA-256 over the required members, in lexicographic order, no whitespace. */
async function thumbprint(jwk: JsonWebKey): Promise<string> {
  const canonical = `{"crv":"${jwk.crv}","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical))));
}

async function refusal(secretValue: string | undefined): Promise<unknown> {
  return loadSigningKey(secretValue).then(
    () => null,
    (error: unknown) => error,
  );
}

describe("loadSigningKey", () => {
  it("loads a private P-256 JWK as exported by WebCrypto", async () => {
    const jwk = await generateJwk();
    const key = await loadSigningKey(JSON.stringify(jwk));
    expect(key.privateKey.algorithm).toMatchObject({ name: "ECDSA", namedCurve: "P-256" });
    expect(key.privateKey.usages).toEqual(["sign"]);
  });

  it("keeps the private key unextractable", async () => {
    const key = await loadSigningKey(JSON.stringify(await generateJwk()));
    expect(key.privateKey.extractable).toBe(false);
  });

  it("loads what worker/dev/signing-key.mjs generates for local runs", async () => {
    const secret: string = await generateSigningKeyJwk();
    expect(Object.keys(JSON.parse(secret)).sort()).toEqual(["crv", "d", "kty", "x", "y"]);
    await expect(loadSigningKey(secret)).resolves.toHaveProperty("kid");
  });

  it("names the key by its RFC 7638 JWK thumbprint", async () => {
    const jwk = await generateJwk();
    const key = await loadSigningKey(JSON.stringify(jwk));
    expect(key.kid).toBe(await thumbprint(jwk));
  });

  it("gives the same kid however the JWK's members are written", async () => {
    const { kty, crv, x, y, d } = await generateJwk();
    const first = await loadSigningKey(JSON.stringify({ kty, crv, x, y, d }));
    const second = await loadSigningKey(JSON.stringify({ d, y, x, crv, kty, alg: "ES256", use: "sig", key_ops: ["sign"] }, null, 2));
    expect(second.kid).toBe(first.kid);
  });

  it("publishes the public key with its kid, alg ES256 and use sig", async () => {
    const jwk = await generateJwk();
    const key = await loadSigningKey(JSON.stringify(jwk));
    expect(key.publicJwk).toEqual({ kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, kid: key.kid, alg: "ES256", use: "sig" });
  });

  it("parses a secret value once and reuses the key", async () => {
    const secret = JSON.stringify(await generateJwk());
    expect(await loadSigningKey(secret)).toBe(await loadSigningKey(secret));
  });

  it("loads a different key when the secret value changes", async () => {
    const first = await loadSigningKey(JSON.stringify(await generateJwk()));
    const second = await loadSigningKey(JSON.stringify(await generateJwk()));
    expect(second.kid).not.toBe(first.kid);
  });
});

describe("loadSigningKey refuses a bad PIER_SIGNING_KEY", () => {
  it.each([
    ["missing", undefined],
    ["empty", ""],
    ["not JSON", "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY-----"],
    ["a JSON array", "[]"],
    ["a JSON string", '"key"'],
  ])("with a ConfigError naming the setting when it is %s", async (_, value) => {
    const error = await refusal(value);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/PIER_SIGNING_KEY/);
  });

  it("when it is an RSA key", async () => {
    const rsa = await generateJwk({ name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" });
    const error = await refusal(JSON.stringify(rsa));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/PIER_SIGNING_KEY.*kty/s);
  });

  it("when it is a P-384 key", async () => {
    const error = await refusal(JSON.stringify(await generateJwk({ name: "ECDSA", namedCurve: "P-384" })));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/PIER_SIGNING_KEY.*crv/s);
  });

  it("when it is a public key only (no d)", async () => {
    const { kty, crv, x, y } = await generateJwk();
    const error = await refusal(JSON.stringify({ kty, crv, x, y }));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/PIER_SIGNING_KEY.*public key/s);
  });

  it("when it declares an algorithm other than ES256", async () => {
    const error = await refusal(JSON.stringify({ ...(await generateJwk()), alg: "ES384" }));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/PIER_SIGNING_KEY/);
  });

  it("when its d is not a P-256 private key", async () => {
    const error = await refusal(JSON.stringify({ ...(await generateJwk()), d: "AAAA" }));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/PIER_SIGNING_KEY/);
  });

  it("when its d belongs to another key than its x and y", async () => {
    const mine = await generateJwk();
    const other = await generateJwk();
    const error = await refusal(JSON.stringify({ ...mine, d: other.d }));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/PIER_SIGNING_KEY/);
  });

  it("without repeating the private key in the message", async () => {
    const jwk = await generateJwk();
    const error = await refusal(JSON.stringify({ ...jwk, kty: "RSA" }));
    expect((error as Error).message).not.toContain(jwk.d!);
  });
});

describe("jwks", () => {
  it("lists the key's public JWK", async () => {
    const key = await loadSigningKey(JSON.stringify(await generateJwk()));
    expect(jwks(key)).toEqual({ keys: [key.publicJwk] });
  });

  it("has no private parts", async () => {
    const jwk = await generateJwk();
    const set = jwks(await loadSigningKey(JSON.stringify(jwk)));
    expect(set.keys[0]).not.toHaveProperty("d");
    expect(JSON.stringify(set)).not.toContain(jwk.d!);
  });

  it("lists several keys, for a rotation", async () => {
    const first = await loadSigningKey(JSON.stringify(await generateJwk()));
    const second = await loadSigningKey(JSON.stringify(await generateJwk()));
    expect(jwks(first, second).keys.map((key) => key.kid)).toEqual([first.kid, second.kid]);
  });

  it("verifies a signature made with the private key, as a client reading the set would", async () => {
    const key = await loadSigningKey(JSON.stringify(await generateJwk()));
    const data = new TextEncoder().encode("payload");
    const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, data);
    const published = await crypto.subtle.importKey("jwk", jwks(key).keys[0] as JsonWebKey, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    expect(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, published, signature, data)).toBe(true);
  });
});
