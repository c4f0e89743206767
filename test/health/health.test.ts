// GET /healthz (worker/services/health.ts): public, uncached, and it says which of the
// configuration, D1 and R2 failed, without saying why. Every answer carries X-Request-Id.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Bindings } from "../../worker/env";
import { checkHealth } from "../../worker/services/health";
import { request } from "../helpers/registry";

describe("GET /healthz", () => {
  it("answers 200 with every check ok, to anybody, uncached", async () => {
    const response = await request("/healthz", {}, null);
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(await response.json()).toEqual({ status: "ok", checks: { config: "ok", database: "ok", storage: "ok" } });
  });

  it("says which check failed: a configuration without its secrets, a D1 that does not answer, an R2 that does not", async () => {
    const failing = { prepare: () => ({ first: () => Promise.reject(new Error("D1 is down")) }) } as unknown as D1Database;
    const unreadable = { head: () => Promise.reject(new Error("R2 is down")) } as unknown as R2Bucket;
    const broken = { ...env, ADMIN_PASSWORD: undefined, DB: failing, BLOBS: unreadable } as Bindings;
    expect(await checkHealth(broken)).toEqual({ status: "failing", checks: { config: "failed", database: "failed", storage: "failed" } });
    expect(await checkHealth({ ...env, DB: failing } as Bindings)).toEqual({ status: "failing", checks: { config: "ok", database: "failed", storage: "ok" } });
  });
});

describe("X-Request-Id", () => {
  it("names every answer, errors included, each request its own", async () => {
    const answers = await Promise.all([request("/v2/", {}, null), request("/v2/"), request("/no/such/endpoint"), request("/healthz")]);
    const ids = answers.map((response) => response.headers.get("X-Request-Id"));
    expect(answers.map((response) => response.status)).toEqual([401, 200, 404, 200]);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
