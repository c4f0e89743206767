import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_MAX_BODY_BYTES, parseConfig } from "../../worker/config";
import { REQUIRED_SECRETS } from "../helpers/secrets";

describe("PIER_MAX_BODY_BYTES", () => {
  it("defaults to Cloudflare's Free and Pro plan limit of 100 MB", () => {
    expect(parseConfig({ ...REQUIRED_SECRETS }).maxBodyBytes).toBe(DEFAULT_MAX_BODY_BYTES);
    expect(DEFAULT_MAX_BODY_BYTES).toBe(100_000_000);
  });

  it("takes a whole number of bytes", () => {
    expect(parseConfig({ ...REQUIRED_SECRETS, PIER_MAX_BODY_BYTES: "200000000" }).maxBodyBytes).toBe(200_000_000);
  });

  it.each(["-1", "0", "10MB", "1e9", "12.5", "  "])("refuses %j with a message naming the setting", (value) => {
    expect(() => parseConfig({ ...REQUIRED_SECRETS, PIER_MAX_BODY_BYTES: value })).toThrow(ConfigError);
    expect(() => parseConfig({ ...REQUIRED_SECRETS, PIER_MAX_BODY_BYTES: value })).toThrow(/PIER_MAX_BODY_BYTES/);
  });
});

describe("the access-control settings", () => {
  it("refuse to start without ADMIN_PASSWORD", () => {
    expect(() => parseConfig({ PIER_SIGNING_KEY: REQUIRED_SECRETS.PIER_SIGNING_KEY })).toThrow(/ADMIN_PASSWORD is not set/);
  });

  it("refuse an ADMIN_PASSWORD shorter than 12 characters", () => {
    expect(() => parseConfig({ ...REQUIRED_SECRETS, ADMIN_PASSWORD: "short" })).toThrow(/ADMIN_PASSWORD must be at least 12/);
  });

  it.each([undefined, "", "not json", '{"kty":"RSA"}'])("refuse a PIER_SIGNING_KEY of %j, naming the setting", (value) => {
    expect(() => parseConfig({ ...REQUIRED_SECRETS, PIER_SIGNING_KEY: value })).toThrow(/PIER_SIGNING_KEY/);
  });

  it("take PUBLIC_URL as an origin, and refuse one with a path", () => {
    expect(parseConfig({ ...REQUIRED_SECRETS, PUBLIC_URL: "https://registry.example.com/" }).auth.publicUrl).toBe("https://registry.example.com");
    expect(() => parseConfig({ ...REQUIRED_SECRETS, PUBLIC_URL: "https://example.com/pier" })).toThrow(/PUBLIC_URL/);
  });

  it("default to 15-minute tokens and admin-only project creation", () => {
    expect(parseConfig({ ...REQUIRED_SECRETS }).auth).toMatchObject({ tokenLifetimeSeconds: 900, usersMayCreateProjects: false, publicUrl: null });
  });

  it("refuse PIER_USERS_CREATE_PROJECTS other than true or false", () => {
    expect(parseConfig({ ...REQUIRED_SECRETS, PIER_USERS_CREATE_PROJECTS: "true" }).auth.usersMayCreateProjects).toBe(true);
    expect(() => parseConfig({ ...REQUIRED_SECRETS, PIER_USERS_CREATE_PROJECTS: "yes" })).toThrow(/PIER_USERS_CREATE_PROJECTS/);
  });
});
