// The keys Pier's registry tokens are signed and verified with: ES256 (ECDSA on P-256 with
// SHA-256, RFC 7518 §3.4), each a JWK (RFC 7517) in a secret:
//   PIER_SIGNING_KEY           the current key, private: {"kty":"EC","crv":"P-256","x":…,"y":…,"d":…}
//                              (`npm start` generates one into .dev.vars; worker/dev/signing-key.mjs).
//                              It signs every new token.
//   PIER_SIGNING_KEY_PREVIOUS  optional, the key before the last rotation; its public part is
//                              enough ({"kty":"EC","crv":"P-256","x":…,"y":…}; a d is ignored).
//                              It only verifies, so that the access and refresh tokens it signed
//                              stay valid after a rotation (`npm run rotate-signing-key`).
// Both are published at /.well-known/jwks.json, named by their RFC 7638 thumbprint (`kid`), and
// a token's header `kid` picks the key that verifies it (worker/auth/tokens.ts).
// A missing or unusable value is a ConfigError naming the setting: tokens signed by some other
// key, or by none, must never be the quiet fallback. Error messages never repeat the value,
// which is a secret.
import { calculateJwkThumbprint, type JWK } from "jose";
import { ConfigError } from "../config";

const CURRENT_SETTING = "PIER_SIGNING_KEY";
const PREVIOUS_SETTING = "PIER_SIGNING_KEY_PREVIOUS";

/** A key that verifies tokens: the public half only. */
export interface VerificationKey {
  /** Verifies tokens this key signed. */
  publicKey: CryptoKey;
  /** What /.well-known/jwks.json publishes: x and y only, with kid, alg and use. */
  publicJwk: JWK;
  /** RFC 7638 thumbprint of the public key; stable for a key, so it survives restarts. */
  kid: string;
}

export interface SigningKey extends VerificationKey {
  /** Signs tokens; not extractable, so it can never be serialised by mistake. */
  privateKey: CryptoKey;
}

/** The keys a token may be verified with: the current one, and the one before the last rotation. */
export interface VerificationKeys {
  current: VerificationKey;
  /** null when PIER_SIGNING_KEY_PREVIOUS is not set, or is the current key again. */
  previous: VerificationKey | null;
}

/** What `loadSigningKeys` gives: sign with `current`, verify with either. */
export interface SigningKeys extends VerificationKeys {
  current: SigningKey;
}

/** The two secrets as configuration holds them (AuthConfig: checked, not yet imported). */
export interface SigningKeySettings {
  signingKey: string;
  previousSigningKey: string | null;
}

const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;

// A parsed key per secret value: parsing, importing and hashing for the kid are work that
// every request would otherwise repeat. Keyed by value so a rotated secret takes effect at
// once; bounded because each distinct value adds an entry (production sees one per setting,
// two while a rotation rolls out). A refused value stays cached too: it is refused the same
// way every time.
const CACHE_LIMIT = 4;
const signingKeys = new Map<string, Promise<SigningKey>>();
const verificationKeys = new Map<string, Promise<VerificationKey>>();

/** The keys of the configuration: `const keys = await loadSigningKeys(config.auth)`. */
export async function loadSigningKeys(settings: SigningKeySettings): Promise<SigningKeys> {
  const [current, previous] = await Promise.all([
    loadSigningKey(settings.signingKey),
    settings.previousSigningKey === null ? null : loadVerificationKey(settings.previousSigningKey),
  ]);
  // The same key twice (PREVIOUS set to the current one) is one key: verified and published once.
  return { current, previous: previous === null || previous.kid === current.kid ? null : previous };
}

/** The signing key from the PIER_SIGNING_KEY secret, parsed and checked once per value. */
export function loadSigningKey(secretValue: string | undefined): Promise<SigningKey> {
  if (secretValue === undefined || secretValue.trim() === "") return Promise.reject(notSet());
  return remembered(signingKeys, secretValue, parseSigningKey);
}

/** A verification key from the PIER_SIGNING_KEY_PREVIOUS secret, parsed and checked once per value. */
export function loadVerificationKey(secretValue: string): Promise<VerificationKey> {
  return remembered(verificationKeys, secretValue, parseVerificationKey);
}

/**
 * The JSON Web Key Set for /.well-known/jwks.json (RFC 7517 §5): public parts only, the current
 * key first (the one that signs today's tokens; `npm run rotate-signing-key --remote` relies on it).
 */
export function jwks(keys: VerificationKeys): { keys: JWK[] } {
  return { keys: [keys.current, ...(keys.previous ? [keys.previous] : [])].map((key) => ({ ...key.publicJwk })) };
}

/**
 * Checks PIER_SIGNING_KEY's shape without importing the key (configuration parsing is
 * synchronous): a ConfigError naming the setting when it cannot be a P-256 private JWK.
 */
export function checkSigningKeySetting(secretValue: string | undefined): void {
  if (secretValue === undefined || secretValue.trim() === "") throw notSet();
  readJwk(secretValue, CURRENT_SETTING);
}

/**
 * PIER_SIGNING_KEY_PREVIOUS as configuration keeps it: null when not set (or empty), else the
 * value once its shape is a P-256 JWK (public or private); a ConfigError naming it otherwise.
 */
export function previousSigningKeySetting(secretValue: string | undefined): string | null {
  if (secretValue === undefined || secretValue.trim() === "") return null;
  readJwk(secretValue, PREVIOUS_SETTING);
  return secretValue;
}

function remembered<K>(cache: Map<string, Promise<K>>, secretValue: string, parse: (value: string) => Promise<K>): Promise<K> {
  let key = cache.get(secretValue);
  if (!key) {
    key = parse(secretValue);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(secretValue, key);
  }
  return key;
}

async function parseSigningKey(secretValue: string): Promise<SigningKey> {
  const { x, y, d } = readJwk(secretValue, CURRENT_SETTING);
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x, y, d }, ECDSA_P256, false, ["sign"]);
  } catch {
    // WebCrypto in workerd also refuses a d that does not belong to x and y (BoringSSL checks
    // the pair), which would otherwise sign tokens the published key cannot verify.
    throw invalid(CURRENT_SETTING, "its x, y and d are not one valid P-256 key pair");
  }
  return { privateKey, ...(await publicPart(x, y, CURRENT_SETTING)) };
}

async function parseVerificationKey(secretValue: string): Promise<VerificationKey> {
  // Any d is left out here: the previous key never signs again, so its private part is not needed.
  const { x, y } = readJwk(secretValue, PREVIOUS_SETTING);
  return publicPart(x, y, PREVIOUS_SETTING);
}

async function publicPart(x: string, y: string, setting: string): Promise<VerificationKey> {
  let publicKey: CryptoKey;
  try {
    // Importing checks that (x, y) is a point on P-256 (SEC 1 §3.2.2.1).
    publicKey = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x, y }, ECDSA_P256, true, ["verify"]);
  } catch {
    throw invalid(setting, "its x and y are not a point on P-256");
  }
  const kid = await calculateJwkThumbprint({ kty: "EC", crv: "P-256", x, y }, "sha256");
  // Built field by field: whatever else the secret carried (d above all) stays out of the JWKS.
  const publicJwk: JWK = { kty: "EC", crv: "P-256", x, y, kid, alg: "ES256", use: "sig" };
  return { publicKey, publicJwk, kid };
}

/** The JWK's members once they can be a P-256 key; d only for the current key, which must sign. */
function readJwk(secretValue: string, setting: string): { x: string; y: string; d?: string } {
  let jwk: unknown;
  try {
    jwk = JSON.parse(secretValue);
  } catch {
    throw invalid(setting, "it is not JSON");
  }
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) throw invalid(setting, "it is not a JSON object");
  const fields = jwk as Record<string, unknown>;
  if (fields.kty !== "EC") throw invalid(setting, `its kty is ${JSON.stringify(fields.kty ?? null)}, not "EC"`);
  if (fields.crv !== "P-256") throw invalid(setting, `its crv is ${JSON.stringify(fields.crv ?? null)}, not "P-256"`);
  if (fields.alg !== undefined && fields.alg !== "ES256") throw invalid(setting, `its alg is ${JSON.stringify(fields.alg)}, not "ES256"`);
  if (fields.use !== undefined && fields.use !== "sig") throw invalid(setting, `its use is ${JSON.stringify(fields.use)}, not "sig"`);
  const { x, y, d } = fields;
  if (setting === CURRENT_SETTING && (typeof d !== "string" || d === "")) throw invalid(setting, "it is a public key (no d); the private key is needed to sign");
  if (typeof x !== "string" || x === "" || typeof y !== "string" || y === "") throw invalid(setting, "it lacks the public coordinates x and y");
  return { x, y, ...(typeof d === "string" && { d }) };
}

function invalid(setting: string, reason: string): ConfigError {
  const shape =
    setting === CURRENT_SETTING
      ? 'a private ES256 key as a JWK ({"kty":"EC","crv":"P-256","x":…,"y":…,"d":…})'
      : 'an ES256 key as a JWK ({"kty":"EC","crv":"P-256","x":…,"y":…}; the public part is enough)';
  return new ConfigError(`${setting} must be ${shape}, but ${reason}`);
}

function notSet(): ConfigError {
  return new ConfigError(
    `${CURRENT_SETTING} is not set: it must hold the private JWK that tokens are signed with (wrangler secret put ${CURRENT_SETTING}; npm start keeps one in .dev.vars)`,
  );
}
