// authenticate(): the Authorization header turned into a Principal; wrong credentials are
// UNAUTHORIZED with a challenge, never anonymous. identityOf(): the account behind a token.
import { env } from "cloudflare:test";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { authenticate, identityOf, tokenParties } from "../../worker/auth/authenticate";
import type { Principal } from "../../worker/auth/principal";
import { loadSigningKey } from "../../worker/auth/signing-key";
import { issueToken } from "../../worker/auth/tokens";
import { configFrom, parseConfig } from "../../worker/config";
import { findUser } from "../../worker/storage/db/queries/principals";
import { setRobotDisabled } from "../../worker/storage/db/queries/robots";
import { REQUIRED_SECRETS } from "../helpers/secrets";
import type { AccountStamp } from "../../worker/auth/account-stamp";
import { ADMIN, adminStamp, basic, db, newProject, newRobot, newUser, refusal, stampOf } from "../helpers/identities";

const URL_ = "http://registry.test/v2/";
const config = configFrom(env);
const PARTIES = { issuer: "http://registry.test", service: "registry.test" };
const CHALLENGE = 'Bearer realm="http://registry.test/token",service="registry.test"';

/** Authenticates as a request whose account must be current; what it leaves for after the answer is awaited. */
async function signIn(authorization: string | null) {
  const pending: Promise<unknown>[] = [];
  try {
    return await authenticate(env, config, { authorization, ip: null, url: URL_, freshness: "change", waitUntil: (promise) => void pending.push(promise) });
  } finally {
    await Promise.all(pending);
  }
}

/** A token signed by this Pier for `subject` and its account, with `claims` overriding the usual ones. */
async function tokenFor(subject: string, account: AccountStamp, claims: Record<string, unknown>): Promise<string> {
  const key = await loadSigningKey(env.PIER_SIGNING_KEY);
  const now = Math.floor(Date.now() / 1000);
  const stamp = { id: account.id, credential_epoch: account.credentialEpoch, access_epoch: account.accessEpoch };
  return new SignJWT({ iss: PARTIES.issuer, sub: subject, aud: PARTIES.service, iat: now, nbf: now, exp: now + 60, jti: crypto.randomUUID(), access: [], account: stamp, ...claims })
    .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: key.kid })
    .sign(key.privateKey);
}

describe("authenticate without credentials", () => {
  it("is anonymous without an Authorization header", async () => {
    expect(await signIn(null)).toEqual({ kind: "anonymous" });
  });

  it("is anonymous with an empty Authorization header", async () => {
    expect(await signIn("  ")).toEqual({ kind: "anonymous" });
  });

  it("refuses an unknown scheme with a challenge", async () => {
    const error = await refusal(signIn("Digest username=admin"));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.headers["WWW-Authenticate"]).toBe(CHALLENGE);
  });
});

describe("authenticate with Basic credentials", () => {
  it("signs the admin in from ADMIN_PASSWORD, and records the admin user", async () => {
    const principal = await signIn(basic(ADMIN));
    expect(await findUser(db, "admin")).toMatchObject({ isAdmin: true, disabled: false });
    expect(principal).toEqual({ kind: "user", name: "admin", isAdmin: true, account: await stampOf("admin") });
  });

  it("reads the scheme case-insensitively", async () => {
    expect(await signIn(basic(ADMIN).replace("Basic", "basic"))).toMatchObject({ name: "admin" });
  });

  it("signs a user in from the users table", async () => {
    const gina = await newUser();
    expect(await signIn(basic(gina))).toEqual({ kind: "user", name: gina.username, isAdmin: false, account: await stampOf(gina.username) });
  });

  it("signs a robot in with its grants", async () => {
    const project = await newProject();
    const robot = await newRobot([{ project, action: "pull" }]);
    expect(await signIn(basic(robot))).toEqual({ kind: "robot", name: robot.username, level: "project", grants: [{ project, action: "pull" }], account: await stampOf(robot.username) });
  });

  it("refuses a wrong password with a challenge, never as anonymous", async () => {
    const error = await refusal(signIn(basic({ ...ADMIN, password: "wrong-password" })));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.headers["WWW-Authenticate"]).toBe(CHALLENGE);
  });

  it("refuses a robot's secret with a user's name", async () => {
    const robot = await newRobot([]);
    const gina = await newUser();
    expect((await refusal(signIn(basic({ username: gina.username, password: robot.password })))).code).toBe("UNAUTHORIZED");
  });
});

describe("authenticate with a bearer token", () => {
  it("accepts a token this Pier signed, with its subject, account, access and time of issue", async () => {
    const gina = await newUser();
    const account = await stampOf(gina.username);
    const key = await loadSigningKey(env.PIER_SIGNING_KEY);
    const access = [{ type: "repository" as const, name: "team/app", actions: ["pull"] }];
    const { token, issuedAt } = await issueToken(key, { ...PARTIES, subject: gina.username, account, access });
    expect(await signIn(`Bearer ${token}`)).toEqual({ kind: "token", subject: gina.username, access, account, issuedAt: Date.parse(issuedAt) });
  });

  it("accepts an anonymous token, which names no account", async () => {
    const key = await loadSigningKey(env.PIER_SIGNING_KEY);
    const { token } = await issueToken(key, { ...PARTIES, subject: "", account: null, access: [] });
    expect(await signIn(`Bearer ${token}`)).toMatchObject({ kind: "token", subject: "", access: [], account: null });
  });

  it("refuses an expired token with a challenge", async () => {
    const gina = await newUser();
    const now = Math.floor(Date.now() / 1000);
    const error = await refusal(signIn(`Bearer ${await tokenFor(gina.username, await stampOf(gina.username), { iat: now - 3600, nbf: now - 3600, exp: now - 600 })}`));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.headers["WWW-Authenticate"]).toBe(CHALLENGE);
  });

  it("refuses a token signed by another key", async () => {
    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const other = await loadSigningKey(JSON.stringify(await crypto.subtle.exportKey("jwk", pair.privateKey)));
    const { token } = await issueToken(other, { ...PARTIES, subject: "admin", account: await adminStamp(), access: [] });
    expect((await refusal(signIn(`Bearer ${token}`))).code).toBe("UNAUTHORIZED");
  });

  it("refuses a token issued for another public URL", async () => {
    const elsewhere = parseConfig({ ...REQUIRED_SECRETS, PUBLIC_URL: "https://registry.example.com" });
    const key = await loadSigningKey(env.PIER_SIGNING_KEY);
    const { token } = await issueToken(key, { ...tokenParties(elsewhere, URL_), subject: "admin", account: await adminStamp(), access: [] });
    expect((await refusal(signIn(`Bearer ${token}`))).code).toBe("UNAUTHORIZED");
  });
});

describe("tokenParties", () => {
  it("uses the request's origin without PUBLIC_URL", () => {
    expect(tokenParties(config, URL_)).toEqual({ ...PARTIES, realm: "http://registry.test/token" });
  });

  it("uses PUBLIC_URL when Pier sits behind another hostname", () => {
    const behind = parseConfig({ ...REQUIRED_SECRETS, PUBLIC_URL: "https://registry.example.com:8443" });
    expect(tokenParties(behind, URL_)).toEqual({ issuer: "https://registry.example.com:8443", service: "registry.example.com:8443", realm: "https://registry.example.com:8443/token" });
  });
});

describe("identityOf", () => {
  /** The principal a verified token for `subject`, issued now with `account`, becomes. */
  function tokenPrincipal(subject: string, account: AccountStamp | null): Principal {
    return { kind: "token", subject, access: [], account, issuedAt: Date.now() };
  }

  it("resolves a token's subject to the user as it is now", async () => {
    const gina = await newUser({ isAdmin: true });
    const account = await stampOf(gina.username);
    expect(await identityOf(env, tokenPrincipal(gina.username, account))).toEqual({ kind: "user", name: gina.username, isAdmin: true, account });
  });

  it("resolves a robot's token to the robot and its grants", async () => {
    const project = await newProject();
    const robot = await newRobot([{ project, action: "push" }]);
    expect(await identityOf(env, tokenPrincipal(robot.username, await stampOf(robot.username)))).toMatchObject({ kind: "robot", grants: [{ project, action: "push" }] });
  });

  it("refuses the token of a robot disabled since", async () => {
    const robot = await newRobot([]);
    const account = await stampOf(robot.username);
    await setRobotDisabled(db, robot.username, true);
    expect((await refusal(identityOf(env, tokenPrincipal(robot.username, account), "now"))).code).toBe("UNAUTHORIZED");
  });

  it("keeps an anonymous token anonymous", async () => {
    expect(await identityOf(env, tokenPrincipal("", null))).toEqual({ kind: "anonymous" });
  });
});
