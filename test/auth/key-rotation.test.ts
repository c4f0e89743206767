// Rotating the signing key signs nobody out: a token's header kid (RFC 7515 §4.1.4) picks the
// key that verifies it among PIER_SIGNING_KEY (current, signs) and PIER_SIGNING_KEY_PREVIOUS
// (verifies only), so access and refresh tokens signed before the rotation stay valid until
// they expire, or until the next rotation drops their key.
import { env } from "cloudflare:test";
import { decodeJwt, decodeProtectedHeader, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { loadSigningKey, loadSigningKeys, type SigningKey, type SigningKeys } from "../../worker/auth/signing-key";
import { issueRefreshToken, issueToken, verifyRefreshToken, verifyToken } from "../../worker/auth/tokens";
import { generateSigningKeyJwk } from "../../worker/dev/signing-key.mjs";
import { postToken } from "../helpers/identities";
import { ADMIN, basic } from "../helpers/registry";
import { pierWith, publicPart, rotatedFrom } from "../helpers/rotated-pier";

const PARTIES = { issuer: "pier", service: "registry.example" };
const ACCOUNT = { id: "account-gina", credentialEpoch: 1, accessEpoch: 1 };
const PULL_APP = [{ type: "repository" as const, name: "team/app", actions: ["pull"] }];

async function accessToken(key: SigningKey): Promise<string> {
  return (await issueToken(key, { ...PARTIES, subject: "gina", account: ACCOUNT, access: PULL_APP })).token;
}

async function refreshToken(key: SigningKey): Promise<string> {
  return (await issueRefreshToken(key, { ...PARTIES, subject: "gina", account: { id: ACCOUNT.id, credentialEpoch: ACCOUNT.credentialEpoch } })).token;
}

/** `token`'s header and claims signed again by `signer`, with `kid` in the header. */
async function resigned(token: string, signer: SigningKey, kid: string): Promise<string> {
  return new SignJWT(decodeJwt(token)).setProtectedHeader({ ...decodeProtectedHeader(token), alg: "ES256", kid }).sign(signer.privateKey);
}

let oldJwk: string;
let old: SigningKey;
let rotated: SigningKeys;
let stranger: SigningKey;

beforeAll(async () => {
  oldJwk = await generateSigningKeyJwk();
  old = await loadSigningKey(oldJwk);
  rotated = await loadSigningKeys({ signingKey: await generateSigningKeyJwk(), previousSigningKey: publicPart(oldJwk) });
  stranger = await loadSigningKey(await generateSigningKeyJwk());
});

describe("after a rotation, verification", () => {
  it("accepts an access token signed by the previous key", async () => {
    expect(await verifyToken(rotated, await accessToken(old), PARTIES)).toMatchObject({ subject: "gina", access: PULL_APP });
  });

  it("accepts a refresh token signed by the previous key", async () => {
    expect(await verifyRefreshToken(rotated, await refreshToken(old), PARTIES)).toMatchObject({ subject: "gina" });
  });

  it("accepts a token signed by the current key", async () => {
    expect(await verifyToken(rotated, await accessToken(rotated.current), PARTIES)).not.toBeNull();
  });

  it("refuses a token signed by a key that is neither (its kid names no configured key)", async () => {
    expect(await verifyToken(rotated, await accessToken(stranger), PARTIES)).toBeNull();
    expect(await verifyRefreshToken(rotated, await refreshToken(stranger), PARTIES)).toBeNull();
  });

  it("refuses a token with the previous key's kid signed by another key", async () => {
    const forged = await resigned(await accessToken(old), stranger, old.kid);
    expect(await verifyToken(rotated, forged, PARTIES)).toBeNull();
  });

  it("refuses a token with the current key's kid signed by the previous key", async () => {
    const swapped = await resigned(await accessToken(old), old, rotated.current.kid);
    expect(await verifyToken(rotated, swapped, PARTIES)).toBeNull();
  });

  it("refuses a token without a kid, even one a configured key signed", async () => {
    const token = await accessToken(rotated.current);
    const header = { ...decodeProtectedHeader(token), alg: "ES256" };
    delete header.kid;
    const unnamed = await new SignJWT(decodeJwt(token)).setProtectedHeader(header).sign(rotated.current.privateKey);
    expect(await verifyToken(rotated, unnamed, PARTIES)).toBeNull();
  });

  it("refuses tokens of the key two rotations ago", async () => {
    const again = await loadSigningKeys({ signingKey: await generateSigningKeyJwk(), previousSigningKey: publicPart(JSON.stringify(rotated.current.publicJwk)) });
    expect(await verifyToken(again, await accessToken(rotated.current), PARTIES)).not.toBeNull();
    expect(await verifyToken(again, await accessToken(old), PARTIES)).toBeNull();
    expect(await verifyRefreshToken(again, await refreshToken(old), PARTIES)).toBeNull();
  });

  it("signs with the current key only", async () => {
    expect(decodeProtectedHeader(await accessToken(rotated.current)).kid).toBe(rotated.current.kid);
  });
});

describe("over HTTP, after PIER_SIGNING_KEY is rotated", () => {
  /** A refresh token from `docker login` against the pool's Pier, signed by its key (env.PIER_SIGNING_KEY). */
  async function loginBeforeRotation(): Promise<string> {
    const response = await postToken({ grant_type: "password", username: ADMIN.username, password: ADMIN.password, access_type: "offline" });
    expect(response.status).toBe(200);
    return ((await response.json()) as { refresh_token: string }).refresh_token;
  }

  const refresh = (refresh_token: string) => ({
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token }).toString(),
  });

  it("a refresh token from before the rotation still gets an access token, signed by the new key", async () => {
    const refreshToken = await loginBeforeRotation();
    const secrets = await rotatedFrom(env.PIER_SIGNING_KEY);
    const response = await pierWith(secrets)("/token", refresh(refreshToken));
    expect(response.status).toBe(200);
    const { access_token } = (await response.json()) as { access_token: string };
    expect(decodeProtectedHeader(access_token).kid).toBe((await loadSigningKey(secrets.PIER_SIGNING_KEY)).kid);
  });

  it("an access token from before the rotation still opens the registry", async () => {
    const response = await postToken({ grant_type: "password", username: ADMIN.username, password: ADMIN.password });
    const { access_token } = (await response.json()) as { access_token: string };
    const rotatedPier = pierWith(await rotatedFrom(env.PIER_SIGNING_KEY));
    expect((await rotatedPier("/v2/", { headers: { Authorization: `Bearer ${access_token}` } })).status).toBe(200);
  });

  it("a refresh token from two rotations ago is refused with 401 invalid_grant", async () => {
    const refreshToken = await loginBeforeRotation();
    const once = await rotatedFrom(env.PIER_SIGNING_KEY);
    const response = await pierWith(await rotatedFrom(once.PIER_SIGNING_KEY))("/token", refresh(refreshToken));
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: "invalid_grant" });
  });

  it("a password login still works, and gets tokens of the new key", async () => {
    const secrets = await rotatedFrom(env.PIER_SIGNING_KEY);
    const response = await pierWith(secrets)("/token", { headers: { Authorization: basic(ADMIN) } });
    const { token } = (await response.json()) as { token: string };
    expect(decodeProtectedHeader(token).kid).toBe((await loadSigningKey(secrets.PIER_SIGNING_KEY)).kid);
  });
});
