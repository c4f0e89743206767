import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_MAX_BODY_BYTES, parseConfig } from "../../worker/config";

describe("PIER_MAX_BODY_BYTES", () => {
  it("defaults to Cloudflare's Free and Pro plan limit of 100 MB", () => {
    expect(parseConfig({}).maxBodyBytes).toBe(DEFAULT_MAX_BODY_BYTES);
    expect(DEFAULT_MAX_BODY_BYTES).toBe(100_000_000);
  });

  it("takes a whole number of bytes", () => {
    expect(parseConfig({ PIER_MAX_BODY_BYTES: "200000000" }).maxBodyBytes).toBe(200_000_000);
  });

  it.each(["-1", "0", "10MB", "1e9", "12.5", "  "])("refuses %j with a message naming the setting", (value) => {
    expect(() => parseConfig({ PIER_MAX_BODY_BYTES: value })).toThrow(ConfigError);
    expect(() => parseConfig({ PIER_MAX_BODY_BYTES: value })).toThrow(/PIER_MAX_BODY_BYTES/);
  });
});
