// The signature of a webhook delivery: `X-Pier-Signature: sha256=<hex>`, the HMAC-SHA256 of the
// exact body bytes under the webhook's secret (the scheme GitHub's X-Hub-Signature-256 made
// familiar). A receiver computes the same over the raw body it received, before parsing it, and
// compares in constant time.
import { toHex } from "../oci/digest";

export const SIGNATURE_HEADER = "X-Pier-Signature";

export async function signatureOf(secret: string, body: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return `sha256=${toHex(await crypto.subtle.sign("HMAC", key, encoder.encode(body)))}`;
}

/** What a webhook's sealed secret is bound to (worker/auth/sealed.ts): it opens for that webhook only. */
export function secretContext(project: string, name: string): string {
  return `webhook:${project}/${name}`;
}
