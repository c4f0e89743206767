// authenticate(): the Authorization header turned into a Principal; wrong credentials are
// UNAUTHORIZED with a challenge, never anonymous. identityOf(): the account behind a token.
import { env } from "cloudflare:test";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { authenticate, identityOf, tokenParties } from "../../worker/auth/authenticate";
import { loadSigningKey } from "../../worker/auth/signing-key";
import { issueToken } from "../../worker/auth/tokens";
import { configFrom, parseConfig } from "../../worker/config";
import { findUser } from "../../worker/storage/db/queries/principals";
import { setRobotDisabled } from "../../worker/storage/db/queries/robots";
import { REQUIRED_SECRETS } from "../helpers/secrets";
import { ADMIN, basic, db, newProject, newRobot, newUser, refusal } from "../helpers/identities";

const URL_ = "http://registry.test/v2/";
const config = configFrom(env);
const PARTIES = { issuer: "http://registry.test", service: "registry.test" };
const CHALLENGE = 'Bearer realm="http://registry.test/token",service="registry.test"';

function signIn(authorization: string | null) {
  return authenticate(env, config, { authorization, ip: null, url: URL_ });
}

async function tokenFor(subject: string, claims: Record<string, unknown> = {}): Promise<string> {
  const key = await loadSigningKey(env.PIER_SIGNING_KEY);
  if (Object.keys(claims).length === 0) return (await issueToken(key, { ...PARTIES, subject, access: [] })).token;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: PARTIES.issuer, sub: subject, aud: PARTIES.service, iat: now, nbf: now, exp: now + 60, jti: crypto.randomUUID(), access: [], ...claims })
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
    expect(await signIn(basic(ADMIN))).toEqual({ kind: "user", name: "admin", isAdmin: true });
    expect(await findUser(db, "admin")).toMatchObject({ isAdmin: true, disabled: false });
  });

  it("reads the scheme case-insensitively", async () => {
    expect(await signIn(basic(ADMIN).replace("Basic", "basic"))).toMatchObject({ name: "admin" });
  });

  it("signs a user in from the users table", async () => {
    const gina = await newUser();
    expect(await signIn(basic(gina))).toEqual({ kind: "user", name: gina.username, isAdmin: false });
  });

  it("signs a robot in with its grants", async () => {
    const project = await newProject();
    const robot = await newRobot([{ project, action: "pull" }]);
    expect(await signIn(basic(robot))).toEqual({ kind: "robot", name: robot.username, level: "project", grants: [{ project, action: "pull" }] });
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
  it("accepts a token this Pier signed, with its subject and access", async () => {
    const key = await loadSigningKey(env.PIER_SIGNING_KEY);
    const access = [{ type: "repository" as const, name: "team/app", actions: ["pull"] }];
    const { token } = await issueToken(key, { ...PARTIES, subject: "gina", access });
    expect(await signIn(`Bearer ${token}`)).toEqual({ kind: "token", subject: "gina", access });
  });

  it("refuses an expired token with a challenge", async () => {
    const now = Math.floor(Date.now() / 1000);
    const error = await refusal(signIn(`Bearer ${await tokenFor("gina", { iat: now - 3600, nbf: now - 3600, exp: now - 600 })}`));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.headers["WWW-Authenticate"]).toBe(CHALLENGE);
  });

  it("refuses a token signed by another key", async () => {
    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const other = await loadSigningKey(JSON.stringify(await crypto.subtle.exportKey("jwk", pair.privateKey)));
    const { token } = await issueToken(other, { ...PARTIES, subject: "admin", access: [] });
    expect((await refusal(signIn(`Bearer ${token}`))).code).toBe("UNAUTHORIZED");
  });

  it("refuses a token issued for another public URL", async () => {
    const elsewhere = parseConfig({ ...REQUIRED_SECRETS, PUBLIC_URL: "https://registry.example.com" });
    const key = await loadSigningKey(env.PIER_SIGNING_KEY);
    const { token } = await issueToken(key, { ...tokenParties(elsewhere, URL_), subject: "admin", access: [] });
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
  it("resolves a token's subject to the user as it is now", async () => {
    const gina = await newUser({ isAdmin: true });
    expect(await identityOf(env, { kind: "token", subject: gina.username, access: [] })).toEqual({ kind: "user", name: gina.username, isAdmin: true });
  });

  it("resolves a robot's token to the robot and its grants", async () => {
    const project = await newProject();
    const robot = await newRobot([{ project, action: "push" }]);
    expect(await identityOf(env, { kind: "token", subject: robot.username, access: [] })).toMatchObject({ kind: "robot", grants: [{ project, action: "push" }] });
  });

  it("refuses the token of a robot disabled since", async () => {
    const robot = await newRobot([]);
    await setRobotDisabled(db, robot.username, true);
    expect((await refusal(identityOf(env, { kind: "token", subject: robot.username, access: [] }))).code).toBe("UNAUTHORIZED");
  });

  it("keeps an anonymous token anonymous", async () => {
    expect(await identityOf(env, { kind: "token", subject: "", access: [] })).toEqual({ kind: "anonymous" });
  });
});
