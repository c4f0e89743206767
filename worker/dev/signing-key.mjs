// A token-signing key for local runs: `npm start` calls this once when .dev.vars has no
// PIER_SIGNING_KEY and keeps the result there, so tokens stay valid across restarts (a key made
// afresh on every start would log every client out). Production keys are made the same way and
// stored with `wrangler secret put PIER_SIGNING_KEY`; `npm run rotate-signing-key` makes the
// next one and keeps the old one's public part as PIER_SIGNING_KEY_PREVIOUS. The format is
// what worker/auth/signing-key.ts reads: a private ES256 JWK as one line of JSON.
// Only the standard WebCrypto global is used, so this runs in Node and in workerd alike.

/** A new P-256 private key as a JSON string: {"kty":"EC","crv":"P-256","x","y","d"}. */
export async function generateSigningKeyJwk() {
  const pair = await globalThis.crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const jwk = await globalThis.crypto.subtle.exportKey("jwk", pair.privateKey);
  // Only the key itself: Node's export adds key_ops and ext, which say nothing about the key.
  return JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d });
}

/**
 * The public part of a P-256 JWK (private or public) as a JSON string {"kty","crv","x","y"}:
 * what PIER_SIGNING_KEY_PREVIOUS needs, since the previous key only verifies. Throws (without
 * repeating the value, a secret) when `jwkJson` is not a P-256 JWK.
 */
export function publicSigningKeyJwk(jwkJson) {
  let jwk;
  try {
    jwk = JSON.parse(jwkJson);
  } catch {
    throw new Error("the key is not JSON");
  }
  if (jwk === null || typeof jwk !== "object" || jwk.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.x !== "string" || typeof jwk.y !== "string") {
    throw new Error('the key is not a P-256 JWK ({"kty":"EC","crv":"P-256","x":…,"y":…})');
  }
  return JSON.stringify({ kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y });
}

/**
 * The key's `kid` as Pier names it: its RFC 7638 thumbprint, SHA-256 over the required members
 * (crv, kty, x, y for EC, §3.2) in lexicographic order without whitespace, base64url-encoded.
 */
export async function signingKeyId(jwkJson) {
  const { crv, kty, x, y } = JSON.parse(publicSigningKeyJwk(jwkJson));
  const canonical = JSON.stringify({ crv, kty, x, y });
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical)));
  return btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
