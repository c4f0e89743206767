import { base64url } from "jose";
import { describe, expect, it } from "vitest";
import { jwks, loadSigningKey, loadSigningKeys, loadVerificationKey } from "../../worker/auth/signing-key";
import { ConfigError, parseConfig } from "../../worker/config";
import { generateSigningKeyJwk } from "../../worker/dev/signing-key.mjs";
import { REQUIRED_SECRETS } from "../helpers/secrets";

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
    expect(jwks({ current: key, previous: null })).toEqual({ keys: [key.publicJwk] });
  });

  it("has no private parts", async () => {
    const jwk = await generateJwk();
    const set = jwks({ current: await loadSigningKey(JSON.stringify(jwk)), previous: null });
    expect(set.keys[0]).not.toHaveProperty("d");
    expect(JSON.stringify(set)).not.toContain(jwk.d!);
  });

  it("lists the current key first, then the previous one, for a rotation", async () => {
    const current = await loadSigningKey(JSON.stringify(await generateJwk()));
    const previous = await loadVerificationKey(JSON.stringify(await generateJwk()));
    expect(jwks({ current, previous }).keys.map((key) => key.kid)).toEqual([current.kid, previous.kid]);
  });

  it("verifies a signature made with the private key, as a client reading the set would", async () => {
    const key = await loadSigningKey(JSON.stringify(await generateJwk()));
    const data = new TextEncoder().encode("payload");
    const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, data);
    const published = await crypto.subtle.importKey("jwk", jwks({ current: key, previous: null }).keys[0] as JsonWebKey, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    expect(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, published, signature, data)).toBe(true);
  });
});

/** The public part of a generated key, as `npm run rotate-signing-key` stores the previous key. */
function publicOnly({ kty, crv, x, y }: JsonWebKey): string {
  return JSON.stringify({ kty, crv, x, y });
}

describe("loadSigningKeys", () => {
  it("signs and verifies with PIER_SIGNING_KEY alone when PIER_SIGNING_KEY_PREVIOUS is not set", async () => {
    const keys = await loadSigningKeys(parseConfig({ ...REQUIRED_SECRETS }).auth);
    expect(keys.current.kid).toBe((await loadSigningKey(REQUIRED_SECRETS.PIER_SIGNING_KEY)).kid);
    expect(keys.previous).toBeNull();
  });

  it("takes the previous key as a public JWK (no d), named by its RFC 7638 thumbprint", async () => {
    const old = await generateJwk();
    const keys = await loadSigningKeys({ signingKey: JSON.stringify(await generateJwk()), previousSigningKey: publicOnly(old) });
    expect(keys.previous?.kid).toBe(await thumbprint(old));
    expect(keys.previous?.publicKey.usages).toEqual(["verify"]);
  });

  it("takes the previous key as a private JWK too, and keeps only its public part", async () => {
    const old = await generateJwk();
    const keys = await loadSigningKeys({ signingKey: JSON.stringify(await generateJwk()), previousSigningKey: JSON.stringify(old) });
    expect(keys.previous).not.toHaveProperty("privateKey");
    expect(keys.previous?.publicJwk).toEqual({ kty: "EC", crv: "P-256", x: old.x, y: old.y, kid: await thumbprint(old), alg: "ES256", use: "sig" });
  });

  it("counts a previous key that is the current one again once", async () => {
    const jwk = await generateJwk();
    expect((await loadSigningKeys({ signingKey: JSON.stringify(jwk), previousSigningKey: publicOnly(jwk) })).previous).toBeNull();
    expect((await loadSigningKeys({ signingKey: JSON.stringify(jwk), previousSigningKey: JSON.stringify(jwk) })).previous).toBeNull();
  });
});

describe("PIER_SIGNING_KEY_PREVIOUS in the configuration", () => {
  it.each([undefined, ""])("is not set when it is %j", (value) => {
    expect(parseConfig({ ...REQUIRED_SECRETS, PIER_SIGNING_KEY_PREVIOUS: value }).auth.previousSigningKey).toBeNull();
  });

  it("is kept as given when it is a JWK", async () => {
    const previous = publicOnly(await generateJwk());
    expect(parseConfig({ ...REQUIRED_SECRETS, PIER_SIGNING_KEY_PREVIOUS: previous }).auth.previousSigningKey).toBe(previous);
  });
});

describe("a bad PIER_SIGNING_KEY_PREVIOUS is a ConfigError naming the setting", () => {
  /** parseConfig's error for the value: the shape is checked when the configuration is read. */
  function configError(value: string): Error {
    try {
      parseConfig({ ...REQUIRED_SECRETS, PIER_SIGNING_KEY_PREVIOUS: value });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return error as Error;
    }
    return expect.fail("parseConfig accepted the value");
  }

  it.each([
    ["not JSON", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQ\n-----END PUBLIC KEY-----"],
    ["a JSON array", "[]"],
    ["an RSA key", '{"kty":"RSA","n":"AQAB","e":"AQAB"}'],
    ["a P-384 key", '{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}'],
    ["a key for another algorithm", '{"kty":"EC","crv":"P-256","x":"AA","y":"AA","alg":"ES384"}'],
    ["a key without x and y", '{"kty":"EC","crv":"P-256"}'],
  ])("when it is %s", (_, value) => {
    expect(configError(value).message).toMatch(/^PIER_SIGNING_KEY_PREVIOUS /);
  });

  it("when its x and y are not a point on P-256 (found when the key is imported)", async () => {
    const [mine, other] = [await generateJwk(), await generateJwk()];
    const error = await loadSigningKeys({ signingKey: JSON.stringify(mine), previousSigningKey: publicOnly({ ...mine, y: other.y }) }).catch((error: unknown) => error);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^PIER_SIGNING_KEY_PREVIOUS .*P-256/);
  });

  it("without repeating the key in the message", async () => {
    const jwk = await generateJwk();
    const message = configError(JSON.stringify({ ...jwk, crv: "P-384" })).message;
    for (const part of [jwk.d!, jwk.x!, jwk.y!]) expect(message).not.toContain(part);
  });
});
