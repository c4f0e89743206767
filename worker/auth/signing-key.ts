// The key Pier signs its registry tokens with: ES256 (ECDSA on P-256 with SHA-256, RFC 7518
// §3.4). It lives in the secret PIER_SIGNING_KEY as a private JWK (RFC 7517), e.g.
//   {"kty":"EC","crv":"P-256","x":"…","y":"…","d":"…"}
// (`npm start` generates one into .dev.vars; worker/dev/signing-key.mjs). A missing or unusable
// value is a ConfigError naming the setting: tokens signed by some other key, or by none, must
// never be the quiet fallback. Error messages never repeat the value, which is a secret.
import { calculateJwkThumbprint, type JWK } from "jose";
import { ConfigError } from "../config";

const SIGNING_KEY_SETTING = "PIER_SIGNING_KEY";

export interface SigningKey {
  /** Signs tokens; not extractable, so it can never be serialised by mistake. */
  privateKey: CryptoKey;
  /** Verifies tokens this key signed. */
  publicKey: CryptoKey;
  /** What /.well-known/jwks.json publishes: x and y only, with kid, alg and use. */
  publicJwk: JWK;
  /** RFC 7638 thumbprint of the public key; stable for a key, so it survives restarts. */
  kid: string;
}

const ECDSA_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;

// A parsed key per secret value: parsing, importing and hashing for the kid are work that
// every request would otherwise repeat. Keyed by value so a rotated secret takes effect at
// once; bounded because each distinct value adds an entry (production sees one, two while
// rotating). A refused value stays cached too: it is refused the same way every time.
const cache = new Map<string, Promise<SigningKey>>();
const CACHE_LIMIT = 4;

/** The signing key from the PIER_SIGNING_KEY secret, parsed and checked once per value. */
export function loadSigningKey(secretValue: string | undefined): Promise<SigningKey> {
  if (secretValue === undefined || secretValue.trim() === "") {
    return Promise.reject(notSet());
  }
  let key = cache.get(secretValue);
  if (!key) {
    key = parseSigningKey(secretValue);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(secretValue, key);
  }
  return key;
}

/** The JSON Web Key Set for /.well-known/jwks.json (RFC 7517 §5): public parts only. */
export function jwks(...keys: SigningKey[]): { keys: JWK[] } {
  return { keys: keys.map((key) => ({ ...key.publicJwk })) };
}

async function parseSigningKey(secretValue: string): Promise<SigningKey> {
  const { x, y, d } = readPrivateJwk(secretValue);
  let privateKey: CryptoKey;
  let publicKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x, y, d }, ECDSA_P256, false, ["sign"]);
    publicKey = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x, y }, ECDSA_P256, true, ["verify"]);
  } catch {
    // WebCrypto in workerd also refuses a d that does not belong to x and y (BoringSSL checks
    // the pair), which would otherwise sign tokens the published key cannot verify.
    throw invalid("its x, y and d are not one valid P-256 key pair");
  }
  const kid = await calculateJwkThumbprint({ kty: "EC", crv: "P-256", x, y }, "sha256");
  // Built field by field: whatever else the secret carried (d above all) stays out of the JWKS.
  const publicJwk: JWK = { kty: "EC", crv: "P-256", x, y, kid, alg: "ES256", use: "sig" };
  return { privateKey, publicKey, publicJwk, kid };
}

/**
 * Checks the setting's shape without importing the key (configuration parsing is synchronous):
 * a ConfigError naming PIER_SIGNING_KEY when it cannot be a P-256 private JWK.
 */
export function checkSigningKeySetting(secretValue: string | undefined): void {
  if (secretValue === undefined || secretValue.trim() === "") throw notSet();
  readPrivateJwk(secretValue);
}

function readPrivateJwk(secretValue: string): { x: string; y: string; d: string } {
  let jwk: unknown;
  try {
    jwk = JSON.parse(secretValue);
  } catch {
    throw invalid("it is not JSON");
  }
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) throw invalid("it is not a JSON object");
  const fields = jwk as Record<string, unknown>;
  if (fields.kty !== "EC") throw invalid(`its kty is ${JSON.stringify(fields.kty ?? null)}, not "EC"`);
  if (fields.crv !== "P-256") throw invalid(`its crv is ${JSON.stringify(fields.crv ?? null)}, not "P-256"`);
  if (fields.alg !== undefined && fields.alg !== "ES256") throw invalid(`its alg is ${JSON.stringify(fields.alg)}, not "ES256"`);
  if (fields.use !== undefined && fields.use !== "sig") throw invalid(`its use is ${JSON.stringify(fields.use)}, not "sig"`);
  const { x, y, d } = fields;
  if (typeof d !== "string" || d === "") throw invalid("it is a public key (no d); the private key is needed to sign");
  if (typeof x !== "string" || typeof y !== "string") throw invalid("it lacks the public coordinates x and y");
  return { x, y, d };
}

function invalid(reason: string): ConfigError {
  return new ConfigError(`${SIGNING_KEY_SETTING} must be a private ES256 key as a JWK ({"kty":"EC","crv":"P-256","x":…,"y":…,"d":…}), but ${reason}`);
}

function notSet(): ConfigError {
  return new ConfigError(
    `${SIGNING_KEY_SETTING} is not set: it must hold the private JWK that tokens are signed with (wrangler secret put ${SIGNING_KEY_SETTING}; npm start keeps one in .dev.vars)`,
  );
}
