// PIER_UPSTREAMS and PIER_MIRROR_DEFAULT: accepted shapes, defaults, and loud refusals.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../worker/config";
import { isAllowed, normalizeDockerHubName, parseUpstreams } from "../../worker/proxy/upstreams";

const hub = {
  name: "hub",
  url: "https://registry-1.docker.io",
  type: "dockerhub",
  usernameSecret: "HUB_USER",
  passwordSecret: "HUB_TOKEN",
  tagTtlSeconds: 600,
  allow: ["library/*"],
  timeoutMs: 10000,
  maxBytes: 107374182400,
  maxIdleDays: 30,
};

describe("parseUpstreams", () => {
  it("accepts the documented example, as a JSON string (.dev.vars) and as an array ([vars])", () => {
    for (const value of [JSON.stringify([hub]), [hub]]) {
      const { upstreams, mirrorDefault } = parseUpstreams(value, "hub");
      expect(mirrorDefault).toBe("hub");
      expect(upstreams).toEqual([
        {
          ...hub,
          hosts: ["registry-1.docker.io", "docker.io", "index.docker.io"],
        },
      ]);
    }
  });

  it("configures nothing when unset or empty", () => {
    expect(parseUpstreams(undefined, undefined)).toEqual({ upstreams: [], mirrorDefault: null });
    expect(parseUpstreams("", "")).toEqual({ upstreams: [], mirrorDefault: null });
  });

  it("fills defaults: type oci, allow everything, 600 s tag TTL, 10 s timeout, no credentials, no size bound, 30 idle days", () => {
    const [upstream] = parseUpstreams([{ name: "local", url: "http://127.0.0.1:5000" }], undefined).upstreams;
    expect(upstream).toMatchObject({ type: "oci", allow: ["**"], tagTtlSeconds: 600, timeoutMs: 10000, usernameSecret: null, passwordSecret: null, maxBytes: null, maxIdleDays: 30 });
    expect(upstream!.hosts).toEqual(["127.0.0.1:5000"]);
  });

  it.each([
    ["not JSON", "[{"],
    ["not an array", { name: "hub" }],
    ["an entry that is not an object", ["hub"]],
    ["a missing url", [{ name: "hub" }]],
    ["a url with a path", [{ name: "hub", url: "https://example.com/v2" }]],
    ["a url with credentials", [{ name: "hub", url: "https://user:pw@example.com" }]],
    ["a non-http url", [{ name: "hub", url: "ftp://example.com" }]],
    ["an unknown type", [{ name: "hub", url: "https://example.com", type: "harbor" }]],
    ["a name with a slash", [{ name: "docker/hub", url: "https://example.com" }]],
    ["an uppercase name", [{ name: "Hub", url: "https://example.com" }]],
    ["an inline password instead of a secret name", [{ name: "hub", url: "https://example.com", usernameSecret: "U", passwordSecret: "hunter2!" }]],
    ["a username without a password", [{ name: "hub", url: "https://example.com", usernameSecret: "U" }]],
    ["a negative TTL", [{ name: "hub", url: "https://example.com", tagTtlSeconds: -1 }]],
    ["a zero timeout", [{ name: "hub", url: "https://example.com", timeoutMs: 0 }]],
    ["an empty allow list", [{ name: "hub", url: "https://example.com", allow: [] }]],
    ["an allow pattern that is no name", [{ name: "hub", url: "https://example.com", allow: ["Library/*"] }]],
    ["a zero maxBytes", [{ name: "hub", url: "https://example.com", maxBytes: 0 }]],
    ["a fractional maxBytes", [{ name: "hub", url: "https://example.com", maxBytes: 1.5 }]],
    ["a maxBytes with a unit", [{ name: "hub", url: "https://example.com", maxBytes: "100GiB" }]],
    ["a zero maxIdleDays (everything would go)", [{ name: "hub", url: "https://example.com", maxIdleDays: 0 }]],
    ["a negative maxIdleDays", [{ name: "hub", url: "https://example.com", maxIdleDays: -30 }]],
    ["an unknown field (a typo)", [{ name: "hub", url: "https://example.com", timeout: 5 }]],
    ["a duplicate name", [{ name: "hub", url: "https://a.example" }, { name: "hub", url: "https://b.example" }]],
  ])("refuses %s with a ConfigError", (_, value) => {
    expect(() => parseUpstreams(value, undefined)).toThrow(ConfigError);
  });

  it("refuses a PIER_MIRROR_DEFAULT that names no upstream", () => {
    expect(() => parseUpstreams([hub], "ghcr")).toThrow(/PIER_MIRROR_DEFAULT/);
  });

  it("names the upstream and the field in its message", () => {
    expect(() => parseUpstreams([{ name: "quay", url: "https://quay.io", timeoutMs: "soon" }], undefined)).toThrow(/"quay".*timeoutMs/);
    expect(() => parseUpstreams([{ name: "quay", url: "https://quay.io", maxBytes: "100GiB" }], undefined)).toThrow(/"quay": "maxBytes" must be a whole number >= 1/);
    expect(() => parseUpstreams([{ name: "quay", url: "https://quay.io", maxIdleDays: 0 }], undefined)).toThrow(/"quay": "maxIdleDays" must be a whole number >= 1/);
  });
});

describe("credentials and plain HTTP", () => {
  const withCredentials = (url: string) => [{ name: "mirror", url, usernameSecret: "MIRROR_USER", passwordSecret: "MIRROR_TOKEN" }];

  it("refuses credentials for a plain-http url on another host, naming the upstream and why", () => {
    expect(() => parseUpstreams(withCredentials("http://registry.example.com"), undefined)).toThrow(ConfigError);
    expect(() => parseUpstreams(withCredentials("http://10.0.0.5:5000"), undefined)).toThrow(/"mirror".*plain http.*clear text/);
  });

  it.each(["http://127.0.0.1:5000", "http://127.1.2.3", "http://[::1]:5000", "http://localhost:5000"])("accepts credentials for %s, which is this machine", (url) => {
    expect(parseUpstreams(withCredentials(url), undefined).upstreams[0]!.usernameSecret).toBe("MIRROR_USER");
  });

  it("accepts credentials over https, and a plain-http url on another host without credentials", () => {
    expect(parseUpstreams(withCredentials("https://registry.example.com"), undefined).upstreams).toHaveLength(1);
    expect(parseUpstreams([{ name: "mirror", url: "http://registry.example.com" }], undefined).upstreams).toHaveLength(1);
  });
});

describe("allow patterns", () => {
  it("matches * within one path segment only", () => {
    expect(isAllowed(["library/*"], "library/alpine")).toBe(true);
    expect(isAllowed(["library/*"], "library/alpine/extra")).toBe(false);
    expect(isAllowed(["team/app-*"], "team/app-web")).toBe(true);
    expect(isAllowed(["team/app-*"], "team/db")).toBe(false);
  });

  it("matches ** across segments", () => {
    expect(isAllowed(["team/**"], "team/a/b/c")).toBe(true);
    expect(isAllowed(["team/**"], "other/a")).toBe(false);
    expect(isAllowed(["**"], "anything/at/all")).toBe(true);
  });

  it("treats dots in patterns literally", () => {
    expect(isAllowed(["a.b/*"], "axb/c")).toBe(false);
  });
});

describe("Docker Hub names", () => {
  it("puts one-segment official images under library/", () => {
    expect(normalizeDockerHubName("alpine")).toBe("library/alpine");
    expect(normalizeDockerHubName("bitnami/redis")).toBe("bitnami/redis");
  });
});
