// Bearer tokens already verified by this isolate, until they expire. A client sends the same
// token with every request of a pull; checking its ES256 signature each time would make every
// signed-in pull pay for a public-key operation that the anonymous pull of a public project does
// not (issue 4: "the token check must not slow pulls"). A remembered token is exactly as valid
// as a freshly verified one: it was verified, and it is dropped the moment it expires.
import type { Config } from "../config";
import { expiringMapsBy } from "../expiring-map";
import type { TokenParties, VerifiedToken } from "./tokens";

// Per configuration, so that another signing key never meets this one's tokens.
const rememberedFor = expiringMapsBy<Config, VerifiedToken>(5_000);

/** `verify` runs only for a token this isolate has not verified for these parties, or that expired. */
export async function verifiedOnce(config: Config, token: string, parties: TokenParties, verify: () => Promise<VerifiedToken | null>): Promise<VerifiedToken | null> {
  const remembered = rememberedFor(config);
  // The issuer is the request's origin when PUBLIC_URL is not set: a token is valid for one.
  const key = `${parties.issuer} ${parties.service} ${token}`;
  const hit = remembered.get(key);
  if (hit !== undefined) return hit;
  const claims = await verify();
  if (claims !== null) remembered.set(key, claims, claims.expiresAt.getTime());
  return claims;
}
