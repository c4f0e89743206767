// The upstream part of the configuration as parseConfig sees it (worker/config.ts): the secrets
// an upstream names must be set, PIER_MIRROR_DEFAULT must name an upstream, and a Worker with a
// broken configuration refuses every request loudly. parseUpstreams' own field checks are in
// test/proxy/upstreams.test.ts.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../worker/app";
import { type ConfigSource, ConfigError, configFrom, parseConfig } from "../../worker/config";
import type { Bindings } from "../../worker/env";
import { refreshReference } from "../../worker/proxy/manifest-fetch";
import { proxyTarget } from "../../worker/proxy/routing";
import { upstreamFailureToError } from "../../worker/proxy/upstream-errors";
import { seedImage, uniqueRepo, upstreamLog } from "../helpers/fake-upstream";
import { errorCode } from "../helpers/registry";
import { REQUIRED_SECRETS } from "../helpers/secrets";

const ghcr = { name: "ghcr", url: "https://ghcr.io", usernameSecret: "GHCR_USER", passwordSecret: "GHCR_TOKEN" };
const hub = { name: "hub", url: "https://registry-1.docker.io", type: "dockerhub" };

/** parseConfig's error, which the test expects to be a ConfigError. */
function configErrorOf(source: ConfigSource): ConfigError {
  try {
    parseConfig({ ...REQUIRED_SECRETS, ...source });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  return expect.fail("parseConfig accepted the configuration");
}

describe("secrets named by an upstream", () => {
  it("refuses an upstream whose usernameSecret is not set, naming the secret", () => {
    const error = configErrorOf({ PIER_UPSTREAMS: [ghcr], GHCR_TOKEN: "t0ken" });
    expect(error.message).toContain("GHCR_USER");
    expect(error.message).toContain('"ghcr"');
  });

  it("refuses an upstream whose passwordSecret is not set, naming the secret", () => {
    expect(configErrorOf({ PIER_UPSTREAMS: [ghcr], GHCR_USER: "me" }).message).toContain("GHCR_TOKEN");
  });

  it("refuses a secret that is set to something other than a string", () => {
    expect(configErrorOf({ PIER_UPSTREAMS: [ghcr], GHCR_USER: "me", GHCR_TOKEN: 42 }).message).toContain("GHCR_TOKEN");
  });

  it("refuses an upstream whose credentials would go over plain http to another host, naming it", () => {
    const error = configErrorOf({ PIER_UPSTREAMS: [{ ...ghcr, url: "http://ghcr.example.com" }], GHCR_USER: "me", GHCR_TOKEN: "t0ken" });
    expect(error.message).toContain('"ghcr"');
    expect(error.message).toMatch(/plain http.*clear text/);
  });

  it("accepts the upstream once both secrets are set, keeping their names and never their values", () => {
    const config = parseConfig({ ...REQUIRED_SECRETS, PIER_UPSTREAMS: [ghcr], GHCR_USER: "me", GHCR_TOKEN: "t0ken" });
    expect(config.upstreams[0]).toMatchObject({ name: "ghcr", usernameSecret: "GHCR_USER", passwordSecret: "GHCR_TOKEN" });
    expect(JSON.stringify(config)).not.toContain("t0ken");
  });
});

describe("PIER_UPSTREAMS", () => {
  it("is accepted as a JSON string (.dev.vars)", () => {
    const config = parseConfig({ ...REQUIRED_SECRETS, PIER_UPSTREAMS: JSON.stringify([hub]) });
    expect(config.upstreams.map((upstream) => upstream.name)).toEqual(["hub"]);
  });

  it("is accepted as an array (wrangler.toml [vars])", () => {
    const config = parseConfig({ ...REQUIRED_SECRETS, PIER_UPSTREAMS: [hub] });
    expect(config.upstreams.map((upstream) => upstream.name)).toEqual(["hub"]);
  });

  it("configures no upstream and no mirror default when unset", () => {
    const config = parseConfig({ ...REQUIRED_SECRETS });
    expect(config.upstreams).toEqual([]);
    expect(config.mirrorDefault).toBeNull();
  });
});

describe("PIER_MIRROR_DEFAULT", () => {
  it("resolves to the upstream it names", () => {
    const config = parseConfig({ ...REQUIRED_SECRETS, PIER_UPSTREAMS: [hub, { name: "quay", url: "https://quay.io" }], PIER_MIRROR_DEFAULT: "hub" });
    expect(config.mirrorDefault).toBe(config.upstreams[0]);
  });

  it("is refused when it names no upstream, with a message naming the setting", () => {
    expect(configErrorOf({ PIER_UPSTREAMS: [hub], PIER_MIRROR_DEFAULT: "ghcr" }).message).toMatch(/PIER_MIRROR_DEFAULT.*ghcr/);
  });

  it("is refused when PIER_UPSTREAMS is empty", () => {
    expect(configErrorOf({ PIER_MIRROR_DEFAULT: "hub" }).message).toContain("PIER_MIRROR_DEFAULT");
  });
});

/** Runs one request through a fresh app with `env` overridden (a new object: configFrom caches per env). */
async function fetchWith(overrides: Record<string, unknown>, path = "/v2/"): Promise<Response> {
  const changedEnv = { ...env, ...overrides } as unknown as Bindings;
  const ctx = createExecutionContext();
  const response = await buildApp().fetch(new Request(`http://registry.test${path}`), changedEnv, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

describe("a Worker with a broken configuration", () => {
  it("answers 500 UNKNOWN saying it is misconfigured when PIER_UPSTREAMS is not JSON", async () => {
    const response = await fetchWith({ PIER_UPSTREAMS: "[{" });
    expect(response.status).toBe(500);
    const text = await response.clone().text();
    expect(text).toContain("misconfigured");
    expect(text).toContain("PIER_UPSTREAMS");
    expect(await errorCode(response)).toBe("UNKNOWN");
  });

  it("answers 500 naming the secret when an upstream's secret is not set", async () => {
    const response = await fetchWith({ PIER_UPSTREAMS: JSON.stringify([ghcr]), PIER_MIRROR_DEFAULT: "" }, "/v2/ghcr/library/alpine/manifests/latest");
    expect(response.status).toBe(500);
    expect(await response.text()).toMatch(/misconfigured.*GHCR_USER/);
  });

  it("answers 500 when PIER_MIRROR_DEFAULT names no upstream", async () => {
    const response = await fetchWith({ PIER_MIRROR_DEFAULT: "ghcr" }, "/v2/library/alpine/manifests/latest");
    expect(response.status).toBe(500);
    expect(await response.text()).toMatch(/misconfigured.*PIER_MIRROR_DEFAULT/);
  });
});

describe("secrets with the wrong value", () => {
  // Upstream lookups run in Durable Objects, which see the deployment's env, not a per-request
  // copy: the lookup itself is run here with the wrong secret.
  it.each(["private", "basic"])("make %s answer 502, saying the upstream refused Pier's credentials", async (name) => {
    const repo = uniqueRepo();
    await seedImage(repo, "v1");
    const wrongEnv = { ...env, FAKE_PASSWORD: "wrong" } as unknown as Bindings;
    const upstream = configFrom(wrongEnv).upstreams.find((candidate) => candidate.name === name)!;
    const result = await refreshReference(wrongEnv, proxyTarget(upstream, repo), "v1", null);
    if (result.kind !== "failed") expect.fail(`expected a failure, got ${JSON.stringify(result)}`);
    const error = upstreamFailureToError(name, result.failure);
    expect(error.status).toBe(502);
    expect(error.message).toMatch(/refused Pier's credentials/);
    expect((await upstreamLog(repo)).length).toBeGreaterThan(0);
  });
});
