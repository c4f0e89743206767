// POST /api/v1/registries/{name}/ping: GET /v2/ through the token flow with the stored
// credentials, reported rather than thrown (reachable, authenticated, status, message). And
// where those credentials go: the token realm the challenge names and the registry's own
// origin only, never over plain HTTP elsewhere, never in a log line.
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadRemoteRegistry, pingRemote } from "../../worker/replication/remote-registry";
import { closeRemote, createRemote, PUSH_PASSWORD, PUSH_USERNAME, remoteLog } from "../helpers/fake-remote";
import { api, apiJson } from "../helpers/management";
import { registerRemote } from "../helpers/remote-registries";
import { expectNoServerErrors } from "../helpers/registry";
import { scriptUpstream, uniqueOrigin } from "../helpers/scripted-upstream";

expectNoServerErrors();

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

interface PingResult {
  reachable: boolean;
  authenticated: boolean | null;
  status: number | null;
  message: string;
}

function ping(name: string): Promise<PingResult> {
  return apiJson<PingResult>(`/registries/${name}/ping`, { method: "POST" });
}

describe("POST /api/v1/registries/{name}/ping", () => {
  it("reports a registry that accepts its credentials: reachable, authenticated, HTTP 200", async () => {
    const remote = await createRemote({ auth: "token" });
    const result = await ping(await registerRemote(remote.url));
    expect(result).toMatchObject({ reachable: true, authenticated: true, status: 200 });
    expect(result.message).toContain(PUSH_USERNAME);
  });

  it("reports a registry spoken to anonymously: authenticated null", async () => {
    const remote = await createRemote({ auth: "none" });
    expect(await ping(await registerRemote(remote.url, { credentials: null }))).toMatchObject({ reachable: true, authenticated: null, status: 200 });
  });

  it("reports wrong credentials as authenticated false, naming the status, and never the password", async () => {
    const remote = await createRemote({ auth: "token" });
    const result = await ping(await registerRemote(remote.url, { credentials: { username: PUSH_USERNAME, password: "wrong-password-123" } }));
    expect(result).toMatchObject({ reachable: true, authenticated: false, status: 401 });
    expect(result.message).toContain("401");
    expect(result.message).not.toContain("wrong-password-123");
  });

  it("reports wrong credentials on a Basic-auth registry the same way", async () => {
    const remote = await createRemote({ auth: "basic" });
    const result = await ping(await registerRemote(remote.url, { credentials: { username: PUSH_USERNAME, password: "wrong-password-123" } }));
    expect(result).toMatchObject({ reachable: true, authenticated: false, status: 401 });
  });

  it("reports a registry that needs credentials when none are set", async () => {
    const remote = await createRemote({ auth: "basic" });
    const result = await ping(await registerRemote(remote.url, { credentials: null }));
    expect(result).toMatchObject({ reachable: true, authenticated: false, status: 401 });
    expect(result.message).toContain("none are set");
  });

  it("reports an unreachable registry: reachable false, no status, a message saying so", async () => {
    const remote = await createRemote({ auth: "token" });
    const name = await registerRemote(remote.url);
    await closeRemote(remote.id);
    const result = await ping(name);
    expect(result).toMatchObject({ reachable: false, authenticated: null, status: null });
    expect(result.message).toMatch(/could not be reached|did not answer/);
  });

  it("answers 404 NAME_UNKNOWN for a registry that does not exist", async () => {
    const response = await api("/registries/nothing-here/ping", { method: "POST" });
    expect(response.status).toBe(404);
    await response.body?.cancel();
  });

  it("uses a new password at once: no token fetched with the old one is reused", async () => {
    const remote = await createRemote({ auth: "token" });
    const name = await registerRemote(remote.url);
    expect((await ping(name)).authenticated).toBe(true);
    await apiJson(`/registries/${name}`, { method: "PATCH", body: { password: "no-longer-right" } });
    expect((await ping(name)).authenticated).toBe(false);
  });
});

describe("where a remote registry's credentials go", () => {
  it("to the token realm the challenge names, and never to the registry itself, which sees only the token", async () => {
    const remote = await createRemote({ auth: "token", separateRealm: true });
    await ping(await registerRemote(remote.url));
    const log = await remoteLog(remote.id);
    expect(log.filter((entry) => entry.server === "realm").map((entry) => [entry.authScheme, entry.authUser])).toEqual([["Basic", PUSH_USERNAME]]);
    expect(log.filter((entry) => entry.server === "registry").every((entry) => entry.authScheme !== "Basic")).toBe(true);
  });

  it("not to a token realm on plain HTTP on another host: the realm is never asked", async () => {
    const origin = uniqueOrigin();
    const name = await registerRemote(origin);
    const scripted = scriptUpstream(origin, "http://auth.example.test/token");
    const result = await pingRemote((await loadRemoteRegistry(env, name))!);
    expect(result).toMatchObject({ reachable: true, authenticated: null, status: null });
    expect(result.message).toMatch(/plain HTTP/);
    expect(scripted.tokenRequests()).toEqual([]);
    expect(scripted.requests.every((request) => request.authorization === null)).toBe(true);
  });

  it("into no log line: creating, changing and pinging with a password prints it nowhere", async () => {
    const printed: unknown[][] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void printed.push(args));
    const remote = await createRemote({ auth: "token" });
    const name = await registerRemote(remote.url);
    await apiJson(`/registries/${name}`, { method: "PATCH", body: { password: "wrong-password-456" } });
    await ping(name);
    const text = JSON.stringify(printed);
    expect(text).not.toContain(PUSH_PASSWORD);
    expect(text).not.toContain("wrong-password-456");
  });
});
