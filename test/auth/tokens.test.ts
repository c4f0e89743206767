import { base64url, decodeJwt, decodeProtectedHeader, exportSPKI, SignJWT, type JWTPayload } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import type { AccountStamp } from "../../worker/auth/account-stamp";
import { loadSigningKey, type SigningKey, type SigningKeys } from "../../worker/auth/signing-key";
import {
  grants,
  issueRefreshToken,
  issueToken,
  verifyRefreshToken,
  verifyToken,
  type AccessEntry,
  type VerifiedToken,
} from "../../worker/auth/tokens";

const PARTIES = { issuer: "pier", service: "registry.example" };
const PULL_APP: AccessEntry[] = [{ type: "repository", name: "team/app", actions: ["pull"] }];
/** gina's account as it was when her tokens were issued (no D1 here: verification is stateless). */
const GINA: AccountStamp = { id: "4f1c2a9e-gina", credentialEpoch: 3, accessEpoch: 7 };
/** The same stamp as the account claim spells it. */
const GINA_CLAIM = { id: GINA.id, credential_epoch: 3, access_epoch: 7 };

async function newKey(): Promise<SigningKey> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  return loadSigningKey(JSON.stringify(await crypto.subtle.exportKey("jwk", pair.privateKey)));
}

/** The keys of a Pier that has not rotated its key: `key` alone (rotation: key-rotation.test.ts). */
function only(key: SigningKey): SigningKeys {
  return { current: key, previous: null };
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

async function accessToken(key: SigningKey, access = PULL_APP): Promise<string> {
  return (await issueToken(key, { ...PARTIES, subject: "gina", account: GINA, access })).token;
}

async function refreshToken(key: SigningKey): Promise<string> {
  return (await issueRefreshToken(key, { ...PARTIES, subject: "gina", account: GINA })).token;
}

/**
 * Re-signs a real token's header and claims with changes, with `secret` under `alg`: a token
 * exactly like Pier's but for the change, so each refusal below is for that change alone.
 */
async function resign(
  token: string,
  secret: CryptoKey | Uint8Array,
  changes: { claims?: JWTPayload; header?: Record<string, unknown>; drop?: string[]; alg?: string } = {},
): Promise<string> {
  const claims: JWTPayload = { ...decodeJwt(token), ...changes.claims };
  for (const claim of changes.drop ?? []) delete claims[claim];
  const header = { ...decodeProtectedHeader(token), ...changes.header, alg: changes.alg ?? "ES256" };
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(secret);
}

function encodeJson(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

let key: SigningKey;
let otherKey: SigningKey;

beforeAll(async () => {
  key = await newKey();
  otherKey = await newKey();
});

describe("issueToken", () => {
  it("carries iss, sub, aud, exp, nbf, iat, jti and access, as distribution's tokens do", async () => {
    const claims = decodeJwt(await accessToken(key));
    expect(claims).toMatchObject({ iss: "pier", sub: "gina", aud: "registry.example", access: PULL_APP });
    for (const claim of ["exp", "nbf", "iat"]) expect(claims[claim]).toEqual(expect.any(Number));
    expect(claims.jti).toEqual(expect.any(String));
  });

  it("carries the account's stamp in the account claim", async () => {
    expect(decodeJwt(await accessToken(key)).account).toEqual(GINA_CLAIM);
  });

  it("names no account in an anonymous token", async () => {
    const { token } = await issueToken(key, { ...PARTIES, subject: "", account: null, access: [] });
    expect(decodeJwt(token)).not.toHaveProperty("account");
  });

  it("refuses to name an account without a subject, or a subject without an account", async () => {
    await expect(issueToken(key, { ...PARTIES, subject: "", account: GINA, access: [] })).rejects.toThrow(TypeError);
    await expect(issueToken(key, { ...PARTIES, subject: "gina", account: null, access: PULL_APP })).rejects.toThrow(TypeError);
  });

  it("signs ES256 and names the signing key by its kid", async () => {
    expect(decodeProtectedHeader(await accessToken(key))).toEqual({ alg: "ES256", typ: "JWT", kid: key.kid });
  });

  it("lives 900 seconds by default", async () => {
    const issued = await issueToken(key, { ...PARTIES, subject: "gina", account: GINA, access: PULL_APP });
    const claims = decodeJwt(issued.token);
    expect(issued.expiresIn).toBe(900);
    expect(claims.exp! - claims.iat!).toBe(900);
  });

  it("lives as long as asked", async () => {
    const issued = await issueToken(key, { ...PARTIES, subject: "gina", account: GINA, access: PULL_APP, lifetimeSeconds: 3600 });
    const claims = decodeJwt(issued.token);
    expect(issued.expiresIn).toBe(3600);
    expect(claims.exp! - claims.iat!).toBe(3600);
  });

  it("reports when it was issued as an RFC 3339 time, for the token response's issued_at", async () => {
    const issued = await issueToken(key, { ...PARTIES, subject: "gina", account: GINA, access: PULL_APP });
    expect(issued.issuedAt).toBe(new Date(decodeJwt(issued.token).iat! * 1000).toISOString());
  });

  it("gives every token its own jti", async () => {
    expect(decodeJwt(await accessToken(key)).jti).not.toBe(decodeJwt(await accessToken(key)).jti);
  });

  it.each([0, -60, 1.5, Number.NaN])("refuses a lifetime of %s seconds", async (lifetimeSeconds) => {
    await expect(issueToken(key, { ...PARTIES, subject: "gina", account: GINA, access: PULL_APP, lifetimeSeconds })).rejects.toThrow(RangeError);
  });
});

describe("verifyToken", () => {
  it("returns the subject, account, access and jti of a token it issued", async () => {
    const token = await accessToken(key);
    expect(await verifyToken(only(key), token, PARTIES)).toMatchObject({ subject: "gina", account: GINA, access: PULL_APP, id: decodeJwt(token).jti });
  });

  it("returns when the token was issued and when it expires", async () => {
    const token = await accessToken(key);
    const verified = await verifyToken(only(key), token, PARTIES);
    expect(verified?.issuedAt.getTime()).toBe(decodeJwt(token).iat! * 1000);
    expect(verified?.expiresAt.getTime()).toBe(decodeJwt(token).exp! * 1000);
  });

  it("accepts an anonymous token (empty subject) with no access", async () => {
    const { token } = await issueToken(key, { ...PARTIES, subject: "", account: null, access: [] });
    expect(await verifyToken(only(key), token, PARTIES)).toMatchObject({ subject: "", account: null, access: [] });
  });

  it("accepts a token re-signed unchanged with its key (so the refusals below are for their change)", async () => {
    expect(await verifyToken(only(key), await resign(await accessToken(key), key.privateKey), PARTIES)).not.toBeNull();
  });

  it("accepts a token whose nbf is a little ahead, within the clock tolerance", async () => {
    const token = await resign(await accessToken(key), key.privateKey, { claims: { nbf: now() + 20 } });
    expect(await verifyToken(only(key), token, PARTIES)).not.toBeNull();
  });
});

describe("verifyToken refuses (null)", () => {
  it("a token with alg none and no signature", async () => {
    const [, payload] = (await accessToken(key)).split(".");
    const unsigned = `${encodeJson({ alg: "none", typ: "JWT", kid: key.kid })}.${payload}.`;
    expect(await verifyToken(only(key), unsigned, PARTIES)).toBeNull();
  });

  it("a token with alg none that keeps a real signature", async () => {
    const [, payload, signature] = (await accessToken(key)).split(".");
    const forged = `${encodeJson({ alg: "none", typ: "JWT", kid: key.kid })}.${payload}.${signature}`;
    expect(await verifyToken(only(key), forged, PARTIES)).toBeNull();
  });

  it("a token signed by another ES256 key", async () => {
    expect(await verifyToken(only(key), await accessToken(otherKey), PARTIES)).toBeNull();
  });

  it("a token signed by another ES256 key that claims this key's kid", async () => {
    const forged = await resign(await accessToken(key), otherKey.privateKey);
    expect(decodeProtectedHeader(forged).kid).toBe(key.kid);
    expect(await verifyToken(only(key), forged, PARTIES)).toBeNull();
  });

  it("HS256 keyed with the public JWK (the published JSON) as the HMAC secret", async () => {
    const secret = new TextEncoder().encode(JSON.stringify(key.publicJwk));
    expect(await verifyToken(only(key), await resign(await accessToken(key), secret, { alg: "HS256" }), PARTIES)).toBeNull();
  });

  it("HS256 keyed with the public key's PEM bytes as the HMAC secret", async () => {
    const secret = new TextEncoder().encode(await exportSPKI(key.publicKey));
    expect(await verifyToken(only(key), await resign(await accessToken(key), secret, { alg: "HS256" }), PARTIES)).toBeNull();
  });

  it("an expired token (exp beyond the clock tolerance)", async () => {
    const token = await resign(await accessToken(key), key.privateKey, { claims: { iat: now() - 1000, nbf: now() - 1000, exp: now() - 60 } });
    expect(await verifyToken(only(key), token, PARTIES)).toBeNull();
  });

  it("a token not yet valid (nbf beyond the clock tolerance)", async () => {
    const token = await resign(await accessToken(key), key.privateKey, { claims: { nbf: now() + 120 } });
    expect(await verifyToken(only(key), token, PARTIES)).toBeNull();
  });

  it("a token without exp", async () => {
    expect(await verifyToken(only(key), await resign(await accessToken(key), key.privateKey, { drop: ["exp"] }), PARTIES)).toBeNull();
  });

  it("a token for another service (wrong audience)", async () => {
    const { token } = await issueToken(key, { issuer: "pier", service: "other.example", subject: "gina", account: GINA, access: PULL_APP });
    expect(await verifyToken(only(key), token, PARTIES)).toBeNull();
  });

  it("a token from another issuer", async () => {
    const { token } = await issueToken(key, { issuer: "someone-else", service: "registry.example", subject: "gina", account: GINA, access: PULL_APP });
    expect(await verifyToken(only(key), token, PARTIES)).toBeNull();
  });

  it("a refresh token used as an access token", async () => {
    expect(await verifyToken(only(key), await refreshToken(key), PARTIES)).toBeNull();
  });

  it("a token with the access typ whose payload says it is a refresh token", async () => {
    const token = await resign(await accessToken(key), key.privateKey, { claims: { token_use: decodeJwt(await refreshToken(key)).token_use } });
    expect(await verifyToken(only(key), token, PARTIES)).toBeNull();
  });

  it("a token whose payload was modified after signing", async () => {
    const [header, , signature] = (await accessToken(key)).split(".");
    const payload = encodeJson({ ...decodeJwt(await accessToken(key)), access: [{ type: "repository", name: "team/app", actions: ["pull", "push"] }] });
    expect(await verifyToken(only(key), `${header}.${payload}.${signature}`, PARTIES)).toBeNull();
  });

  it("a token signed by this key under another kid", async () => {
    const token = await resign(await accessToken(key), key.privateKey, { header: { kid: otherKey.kid } });
    expect(await verifyToken(only(key), token, PARTIES)).toBeNull();
  });

  it("a signed token whose access claim is malformed", async () => {
    const token = await resign(await accessToken(key), key.privateKey, { claims: { access: [{ type: "repository", name: "team/app", actions: "pull" }] } });
    expect(await verifyToken(only(key), token, PARTIES)).toBeNull();
  });

  it("a signed-in token without an account claim (issued before accounts had ids)", async () => {
    const token = await resign(await accessToken(key), key.privateKey, { drop: ["account"] });
    expect(await verifyToken(only(key), token, PARTIES)).toBeNull();
  });

  it.each<[string, unknown]>([
    ["null", null],
    ["a string", GINA.id],
    ["an array", [GINA.id, 3, 7]],
    ["without an id", { credential_epoch: 3, access_epoch: 7 }],
    ["with an empty id", { ...GINA_CLAIM, id: "" }],
    ["with a numeric id", { ...GINA_CLAIM, id: 42 }],
    ["without a credential epoch", { id: GINA.id, access_epoch: 7 }],
    ["without an access epoch", { id: GINA.id, credential_epoch: 3 }],
    ["with an epoch as a string", { ...GINA_CLAIM, access_epoch: "7" }],
    ["with a fractional epoch", { ...GINA_CLAIM, credential_epoch: 3.5 }],
    ["with the camel-cased names of the stamp", GINA],
  ])("a signed-in token whose account claim is malformed: %s", async (_, account) => {
    const token = await resign(await accessToken(key), key.privateKey, { claims: { account } as JWTPayload });
    expect(await verifyToken(only(key), token, PARTIES)).toBeNull();
  });

  it("an anonymous token that names an account", async () => {
    const { token: anonymous } = await issueToken(key, { ...PARTIES, subject: "", account: null, access: [] });
    const token = await resign(anonymous, key.privateKey, { claims: { account: GINA_CLAIM } });
    expect(await verifyToken(only(key), token, PARTIES)).toBeNull();
  });

  it.each([
    ["an empty string", ""],
    ["a word", "garbage"],
    ["three dots", "..."],
    ["three empty-looking segments", "a.b.c"],
    ["base64 of nothing useful", `${encodeJson({ alg: "ES256" })}.${encodeJson("x")}.AAAA`],
    ["a Basic credential", "Z2luYTpzZWNyZXQ="],
  ])("garbage: %s", async (_, token) => {
    await expect(verifyToken(only(key), token, PARTIES)).resolves.toBeNull();
  });
});

describe("refresh tokens", () => {
  it("verify to their subject and the account's credential stamp", async () => {
    expect(await verifyRefreshToken(only(key), await refreshToken(key), PARTIES)).toMatchObject({
      subject: "gina",
      account: { id: GINA.id, credentialEpoch: GINA.credentialEpoch },
    });
  });

  it("carry the subject and the account's id and credential epoch only: no access, no access epoch", async () => {
    const claims = decodeJwt(await refreshToken(key));
    expect(claims).not.toHaveProperty("access");
    expect(claims.account).toEqual({ id: GINA.id, credential_epoch: GINA.credentialEpoch });
  });

  it.each<[string, unknown]>([
    ["missing", undefined],
    ["without an id", { credential_epoch: 3 }],
    ["without a credential epoch", { id: GINA.id }],
    ["with an access epoch, as an access token's", GINA_CLAIM],
  ])("refuse one whose account claim is %s", async (_, account) => {
    const token = await resign(await refreshToken(key), key.privateKey, account === undefined ? { drop: ["account"] } : { claims: { account } as JWTPayload });
    expect(await verifyRefreshToken(only(key), token, PARTIES)).toBeNull();
  });

  it("have a typ of their own", async () => {
    expect(decodeProtectedHeader(await refreshToken(key)).typ).not.toBe(decodeProtectedHeader(await accessToken(key)).typ);
  });

  it("live 30 days by default", async () => {
    const issued = await issueRefreshToken(key, { ...PARTIES, subject: "gina", account: GINA });
    const claims = decodeJwt(issued.token);
    expect(issued.expiresIn).toBe(30 * 24 * 60 * 60);
    expect(claims.exp! - claims.iat!).toBe(30 * 24 * 60 * 60);
  });

  it("live as long as asked", async () => {
    const issued = await issueRefreshToken(key, { ...PARTIES, subject: "gina", account: GINA, lifetimeSeconds: 86_400 });
    expect(decodeJwt(issued.token).exp! - decodeJwt(issued.token).iat!).toBe(86_400);
  });

  it("refuse an access token used as a refresh token", async () => {
    expect(await verifyRefreshToken(only(key), await accessToken(key), PARTIES)).toBeNull();
  });

  it("refuse an access token relabelled with the refresh typ", async () => {
    const token = await resign(await accessToken(key), key.privateKey, { header: { typ: decodeProtectedHeader(await refreshToken(key)).typ } });
    expect(await verifyRefreshToken(only(key), token, PARTIES)).toBeNull();
  });

  it("refuse a refresh token relabelled with the access typ", async () => {
    const token = await resign(await refreshToken(key), key.privateKey, { header: { typ: "JWT" } });
    expect(await verifyRefreshToken(only(key), token, PARTIES)).toBeNull();
  });

  it("refuse one with the refresh typ whose payload lacks the refresh claim", async () => {
    const token = await resign(await refreshToken(key), key.privateKey, { drop: ["token_use"] });
    expect(await verifyRefreshToken(only(key), token, PARTIES)).toBeNull();
  });

  it("refuse one signed by another key", async () => {
    expect(await verifyRefreshToken(only(key), await refreshToken(otherKey), PARTIES)).toBeNull();
  });

  it("refuse an expired one", async () => {
    const token = await resign(await refreshToken(key), key.privateKey, { claims: { exp: now() - 60 } });
    expect(await verifyRefreshToken(only(key), token, PARTIES)).toBeNull();
  });

  it("refuse one for another service", async () => {
    const { token } = await issueRefreshToken(key, { issuer: "pier", service: "other.example", subject: "gina", account: GINA });
    expect(await verifyRefreshToken(only(key), token, PARTIES)).toBeNull();
  });

  it("refuse one with alg none", async () => {
    const [header, payload] = (await refreshToken(key)).split(".");
    const unsigned = `${encodeJson({ ...JSON.parse(new TextDecoder().decode(base64url.decode(header!))), alg: "none" })}.${payload}.`;
    expect(await verifyRefreshToken(only(key), unsigned, PARTIES)).toBeNull();
  });

  it("refuse garbage", async () => {
    expect(await verifyRefreshToken(only(key), "not.a.token", PARTIES)).toBeNull();
  });
});

describe("grants", () => {
  const verified = (access: AccessEntry[]): VerifiedToken => ({ subject: "gina", account: GINA, access, issuedAt: new Date(), expiresAt: new Date(), id: "jti" });

  it("allows pull with a pull token", () => {
    expect(grants(verified(PULL_APP), "repository", "team/app", "pull")).toBe(true);
  });

  it("refuses push with a pull token", () => {
    expect(grants(verified(PULL_APP), "repository", "team/app", "push")).toBe(false);
  });

  it("allows push with a pull,push token", () => {
    expect(grants(verified([{ type: "repository", name: "team/app", actions: ["pull", "push"] }]), "repository", "team/app", "push")).toBe(true);
  });

  it("refuses repository B with a token for repository A", () => {
    expect(grants(verified(PULL_APP), "repository", "team/other", "pull")).toBe(false);
  });

  it("refuses a name that only starts like the granted one", () => {
    expect(grants(verified(PULL_APP), "repository", "team/app2", "pull")).toBe(false);
  });

  it("refuses the same name under another resource type", () => {
    expect(grants(verified(PULL_APP), "registry", "team/app", "pull")).toBe(false);
  });

  it("allows the catalog with registry:catalog:*", () => {
    expect(grants(verified([{ type: "registry", name: "catalog", actions: ["*"] }]), "registry", "catalog", "*")).toBe(true);
  });

  it("treats * as every action on that resource only", () => {
    const all = verified([{ type: "repository", name: "team/app", actions: ["*"] }]);
    expect(grants(all, "repository", "team/app", "delete")).toBe(true);
    expect(grants(all, "repository", "team/other", "delete")).toBe(false);
  });

  it("refuses everything with an anonymous token without access", () => {
    expect(grants(verified([]), "repository", "team/app", "pull")).toBe(false);
  });
});
