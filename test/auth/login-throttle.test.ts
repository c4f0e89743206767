// Password guessing is throttled per login name and per client IP (token buckets in RateLimiter
// objects), answering TOOMANYREQUESTS with Retry-After; verified logins are remembered.
import { describe, expect, it, vi } from "vitest";
import { LOGIN_RULES } from "../../worker/auth/authenticate";
import { getToken, type Login, newUser, postToken, unique } from "../helpers/identities";

function wrong(login: Login): Login {
  return { ...login, password: "a wrong guess" };
}

/** Spends the name's whole bucket on wrong passwords, each answered 401. */
async function exhaust(login: Login): Promise<void> {
  for (let attempt = 0; attempt < LOGIN_RULES.user.capacity; attempt++) {
    expect((await getToken([], wrong(login))).status).toBe(401);
  }
}

describe("login throttling", () => {
  it("answers 429 with Retry-After once a name's wrong passwords exceed its budget", async () => {
    const gina = await newUser();
    await exhaust(gina);
    const response = await getToken([], wrong(gina));
    expect(response.status).toBe(429);
    expect(Number(response.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    expect(await response.json()).toMatchObject({ errors: [{ code: "TOOMANYREQUESTS" }] });
  });

  it("refuses even the right password until the name's bucket refills", async () => {
    const gina = await newUser();
    await exhaust(gina);
    expect((await getToken([], gina)).status).toBe(429);
  });

  it("throttles the password grant of POST /token alike", async () => {
    const gina = await newUser();
    await exhaust(gina);
    expect((await postToken({ grant_type: "password", username: gina.username, password: gina.password })).status).toBe(429);
  });

  it("throttles one client IP guessing across many names", async () => {
    const ip = { "CF-Connecting-IP": unique("203.0.113.7") };
    for (let attempt = 0; attempt < LOGIN_RULES.ip.capacity; attempt++) {
      expect((await getToken([], { username: unique("nobody"), password: "guess" }, ip)).status).toBe(401);
    }
    expect((await getToken([], { username: unique("nobody"), password: "guess" }, ip)).status).toBe(429);
  });

  it("throttles a name whichever IP the next attempt comes from", async () => {
    const gina = await newUser();
    await exhaust(gina);
    expect((await getToken([], gina, { "CF-Connecting-IP": unique("elsewhere") })).status).toBe(429);
  });

  it("remembers a verified login, so a client sending Basic on every request is not throttled", async () => {
    const gina = await newUser();
    expect((await getToken([], gina)).status).toBe(200);
    for (let attempt = 1; attempt < LOGIN_RULES.user.capacity; attempt++) await getToken([], wrong(gina));
    expect((await getToken([], wrong(gina))).status).toBe(429);
    expect((await getToken([], gina)).status).toBe(200);
  });

  it("checks a lapsed login again without spending a sign-in attempt: a busy robot never runs out each minute", async () => {
    const gina = await newUser();
    expect((await getToken([], gina)).status).toBe(200);
    vi.setSystemTime(Date.now() + 61_000);
    try {
      await exhaust(gina);
      expect((await getToken([], wrong(gina))).status).toBe(429);
      // The remembered login lapsed a second ago: it is checked again (PBKDF2), not throttled.
      expect((await getToken([], gina)).status).toBe(200);
    } finally {
      vi.useRealTimers();
    }
  });
});
