/** A fresh ES256 private JWK (kty, crv, x, y, d) as JSON, for PIER_SIGNING_KEY. */
export function generateSigningKeyJwk(): Promise<string>;
/** The public part (kty, crv, x, y) of a P-256 JWK as JSON, for PIER_SIGNING_KEY_PREVIOUS. */
export function publicSigningKeyJwk(jwkJson: string): string;
/** The key's RFC 7638 thumbprint: the `kid` Pier's tokens and JWKS name it by. */
export function signingKeyId(jwkJson: string): Promise<string>;
