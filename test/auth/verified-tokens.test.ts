// verifiedOnce: a bearer token's signature is checked once per isolate, and the token is
// trusted exactly until it expires, for the parties it was verified for, and never when invalid.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../worker/config";
import type { VerifiedToken } from "../../worker/auth/tokens";
import { verifiedOnce } from "../../worker/auth/verified-tokens";
import { REQUIRED_SECRETS } from "../helpers/secrets";

const parties = { issuer: "http://registry.test", service: "registry.test" };

function claims(expiresInMs: number): VerifiedToken {
  return { subject: "gina", account: { id: "gina-account", credentialEpoch: 0, accessEpoch: 0 }, access: [], issuedAt: new Date(), expiresAt: new Date(Date.now() + expiresInMs), id: crypto.randomUUID() };
}

describe("verifiedOnce", () => {
  it("verifies a token once, then answers from memory with the same claims", async () => {
    const config = parseConfig({ ...REQUIRED_SECRETS });
    let calls = 0;
    const verified = claims(60_000);
    const verify = async () => (calls++, verified);
    expect(await verifiedOnce(config, "t1", parties, verify)).toBe(verified);
    expect(await verifiedOnce(config, "t1", parties, verify)).toBe(verified);
    expect(calls).toBe(1);
  });

  it("verifies again once the token has expired, and for other parties", async () => {
    const config = parseConfig({ ...REQUIRED_SECRETS });
    let calls = 0;
    const verify = async () => (calls++, claims(-1));
    await verifiedOnce(config, "t2", parties, verify);
    await verifiedOnce(config, "t2", parties, verify);
    expect(calls).toBe(2);
    const fresh = async () => (calls++, claims(60_000));
    await verifiedOnce(config, "t3", parties, fresh);
    await verifiedOnce(config, "t3", { issuer: "http://other.test", service: "other.test" }, fresh);
    expect(calls).toBe(4);
  });

  it("never remembers a token that failed verification", async () => {
    const config = parseConfig({ ...REQUIRED_SECRETS });
    let calls = 0;
    const verify = async () => (calls++, null);
    expect(await verifiedOnce(config, "bad", parties, verify)).toBeNull();
    expect(await verifiedOnce(config, "bad", parties, verify)).toBeNull();
    expect(calls).toBe(2);
  });
});
