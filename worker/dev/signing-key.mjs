// A token-signing key for local runs: `npm start` calls this once when .dev.vars has no
// PIER_SIGNING_KEY and keeps the result there, so tokens stay valid across restarts (a key made
// afresh on every start would log every client out). Production keys are made the same way and
// stored with `wrangler secret put PIER_SIGNING_KEY`. The format is what
// worker/auth/signing-key.ts reads: a private ES256 JWK as one line of JSON.
// Only the standard WebCrypto global is used, so this runs in Node and in workerd alike.

/** A new P-256 private key as a JSON string: {"kty":"EC","crv":"P-256","x","y","d"}. */
export async function generateSigningKeyJwk() {
  const pair = await globalThis.crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const jwk = await globalThis.crypto.subtle.exportKey("jwk", pair.privateKey);
  // Only the key itself: Node's export adds key_ops and ext, which say nothing about the key.
  return JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d });
}
