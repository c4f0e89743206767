/** A fresh ES256 private JWK (kty, crv, x, y, d) as JSON, for PIER_SIGNING_KEY. */
export function generateSigningKeyJwk(): Promise<string>;
