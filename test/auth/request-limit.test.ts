// Rate limits on registry requests (issue 4): one token bucket per signed-in principal or per
// anonymous client IP, held by a RateLimiter object and leased to isolates a few tokens at a time;
// over the limit is 429 TOOMANYREQUESTS with a Retry-After.
import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { limitKey, limitRequest } from "../../worker/auth/request-limit";
import { takeUpTo } from "../../worker/auth/token-bucket";
import { RegistryError } from "../../worker/errors";
import worker from "../../worker/index";
import { newUser } from "../helpers/identities";
import { errorCode, type Login, signedIn } from "../helpers/registry";

describe("a lease from a token bucket", () => {
  const rule = { capacity: 10, refillPerSecond: 2 };

  it("takes what is there, up to the lease size, and refuses with a Retry-After when not even one is", () => {
    const first = takeUpTo({ tokens: 10, updatedAt: 0 }, rule, 0, 4);
    expect(first.result).toEqual({ granted: 4 });
    const rest = takeUpTo(first.bucket, rule, 0, 100);
    expect(rest.result).toEqual({ granted: 6 });
    expect(takeUpTo(rest.bucket, rule, 0, 1).result).toEqual({ granted: 0, retryAfterSeconds: 1 });
    expect(takeUpTo(rest.bucket, rule, 500, 5).result).toEqual({ granted: 1 });
  });
});

describe("limitRequest", () => {
  it("lets exactly the bucket's capacity through, then refuses with TOOMANYREQUESTS and Retry-After", async () => {
    const key = `test:${crypto.randomUUID()}`;
    const rule = { capacity: 7, refillPerSecond: 0.01 };
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, () => limitRequest(env, rule, key)));
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled").length).toBe(7);
    const refused = outcomes.find((outcome) => outcome.status === "rejected")!.reason as RegistryError;
    expect(refused).toBeInstanceOf(RegistryError);
    expect(refused.code).toBe("TOOMANYREQUESTS");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers["Retry-After"])).toBeGreaterThanOrEqual(1);
  });

  it("counts signed-in requests by login name wherever they come from, anonymous ones by IP", () => {
    const account = { id: "gina-account", credentialEpoch: 0, accessEpoch: 0 };
    const user = { kind: "user" as const, name: "gina", isAdmin: false, account };
    expect(limitKey(user, "203.0.113.1")).toBe(limitKey(user, "203.0.113.2"));
    expect(limitKey({ kind: "token", subject: "gina", access: [], account, issuedAt: Date.now() }, null)).toBe(limitKey(user, null));
    expect(limitKey({ kind: "anonymous" }, "203.0.113.1")).not.toBe(limitKey({ kind: "anonymous" }, "203.0.113.2"));
    // An anonymous token (no subject) is counted like the anonymous request it is.
    expect(limitKey({ kind: "token", subject: "", access: [], account: null, issuedAt: Date.now() }, "203.0.113.1")).toBe(limitKey({ kind: "anonymous" }, "203.0.113.1"));
  });
});

describe("over HTTP, with PIER_RATE_LIMIT_PER_SECOND=1 (a burst of 20)", () => {
  const limited = { ...env, PIER_RATE_LIMIT_PER_SECOND: "1" };
  const send = (as: Login | null, ip: string) =>
    worker.fetch(new Request("http://registry.test/v2/", signedIn({ headers: { "CF-Connecting-IP": ip } }, as)), limited, createExecutionContext());

  it("answers 429 TOOMANYREQUESTS with Retry-After once an IP's burst is spent; another IP goes on", async () => {
    const ip = `198.51.100.${1 + Math.floor(Math.random() * 250)}-${crypto.randomUUID().slice(0, 4)}`;
    const statuses: number[] = [];
    for (let request = 0; request < 25; request++) statuses.push((await send(null, ip)).status);
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401)); // the challenge: counted, but not refused
    expect(statuses.slice(20)).toEqual(Array(5).fill(429));
    const refused = await send(null, ip);
    expect(refused.headers.get("Retry-After")).toMatch(/^[1-9]\d*$/);
    expect(await errorCode(refused)).toBe("TOOMANYREQUESTS");
    expect((await send(null, `${ip}-other`)).status).toBe(401);
  });

  it("counts a signed-in user's requests together, from any IP", async () => {
    const user = await newUser();
    const statuses: number[] = [];
    for (let request = 0; request < 22; request++) statuses.push((await send(user, `203.0.113.${request}`)).status);
    expect(statuses.filter((status) => status === 200).length).toBe(20);
    expect(statuses.slice(20)).toEqual([429, 429]);
  });
});
