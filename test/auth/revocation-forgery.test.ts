// What a token's account claim must match, tried with tokens signed by Pier's own key (as a key
// that leaked, or a token issued by a bug, would be): the stamp is compared exactly, field by
// field, with the account the subject names now. A signature alone opens nothing.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AccountStamp } from "../../worker/auth/account-stamp";
import { loadSigningKey } from "../../worker/auth/signing-key";
import { issueToken } from "../../worker/auth/tokens";
import { newUser, stampOf } from "../helpers/identities";
import { apiProject } from "../helpers/management";
import { request } from "../helpers/registry";

const PARTIES = { issuer: "http://registry.test", service: "registry.test" };

async function tokenFor(subject: string, account: AccountStamp, repository: string): Promise<string> {
  const key = await loadSigningKey(env.PIER_SIGNING_KEY);
  return (await issueToken(key, { ...PARTIES, subject, account, access: [{ type: "repository", name: repository, actions: ["pull", "push"] }] })).token;
}

async function pushWith(token: string, repository: string): Promise<number> {
  return (await request(`/v2/${repository}/blobs/uploads/`, { method: "POST", headers: { Authorization: `Bearer ${token}` } }, null)).status;
}

describe("a signed token's account claim", () => {
  it("opens the account it names with the account's exact stamp", async () => {
    const repository = `${await apiProject()}/app`;
    const dev = await newUser();
    expect(await pushWith(await tokenFor(dev.username, await stampOf(dev.username), repository), repository)).toBe(202);
  });

  it("is refused when it names another account's id", async () => {
    const repository = `${await apiProject()}/app`;
    const [dev, other] = [await newUser(), await newUser()];
    const stamp = { ...(await stampOf(dev.username)), id: (await stampOf(other.username)).id };
    expect(await pushWith(await tokenFor(dev.username, stamp, repository), repository)).toBe(401);
  });

  it("is refused with an epoch ahead of the account's, not only behind it", async () => {
    const repository = `${await apiProject()}/app`;
    const dev = await newUser();
    const stamp = await stampOf(dev.username);
    for (const ahead of [{ ...stamp, credentialEpoch: stamp.credentialEpoch + 1 }, { ...stamp, accessEpoch: stamp.accessEpoch + 1 }]) {
      expect(await pushWith(await tokenFor(dev.username, ahead, repository), repository)).toBe(401);
    }
  });

  it("is refused for a subject with no account at all", async () => {
    const repository = `${await apiProject()}/app`;
    const dev = await newUser();
    expect(await pushWith(await tokenFor(`ghost-${crypto.randomUUID()}`, await stampOf(dev.username), repository), repository)).toBe(401);
  });
});
