// One JSON log line per request (worker/request-log.ts): what the request was (route pattern,
// repository, principal, status, size, time), never what it carried (credentials, tokens, upload
// session ids), and none at all with PIER_REQUEST_LOG="off", which the rest of the suite runs with.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../worker/index";
import type { RequestLogLine } from "../../worker/request-log";
import { ADMIN, basic } from "../helpers/identities";
import { pushImage } from "../helpers/registry";

const BASE = "http://registry.test";

/** Calls the Worker with `vars` over the suite's bindings; returns the answer and the log lines it wrote. */
async function logged(path: string, init: RequestInit, vars: Record<string, string> = { PIER_REQUEST_LOG: "json" }) {
  const lines: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
  try {
    const ctx = createExecutionContext();
    const response = await worker.fetch!(new Request(`${BASE}${path}`, init) as never, { ...env, ...vars }, ctx);
    const body = await response.text();
    await waitOnExecutionContext(ctx);
    return { response, body, lines };
  } finally {
    spy.mockRestore();
  }
}

function requestLines(lines: string[]): RequestLogLine[] {
  return lines.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as RequestLogLine);
}

afterEach(() => vi.restoreAllMocks());

describe("the request log", () => {
  it("writes one line per request with its id, route, repository, principal, status, size and time", async () => {
    const image = await pushImage("logged/app", "v1");
    const { response, lines } = await logged("/v2/logged/app/manifests/v1", { headers: { Authorization: basic(ADMIN) } });
    expect(response.status).toBe(200);
    const [line, ...more] = requestLines(lines);
    expect(more).toEqual([]);
    expect(line).toEqual({
      requestId: response.headers.get("X-Request-Id"),
      method: "GET",
      route: "/v2/:name{.+}/manifests/:reference",
      repository: "logged/app",
      principal: "admin",
      status: 200,
      bytes: image.bytes.byteLength,
      durationMs: expect.any(Number),
      cache: null,
    });
  });

  it("names an anonymous or refused request's principal null, and logs errors too", async () => {
    const { response, lines } = await logged("/v2/logged/app/manifests/v1", {});
    expect(response.status).toBe(401);
    expect(requestLines(lines)).toEqual([expect.objectContaining({ status: 401, principal: null, repository: "logged/app" })]);
  });

  it("never holds a password, a token or an upload session id", async () => {
    const password = env.ADMIN_PASSWORD!;
    const token = await logged("/token?service=registry.test&scope=repository:logged/app:pull", { headers: { Authorization: basic(ADMIN) } });
    const issued = (JSON.parse(token.body) as { token?: string }).token;
    expect(issued).toEqual(expect.any(String));
    const upload = await logged("/v2/logged/app/blobs/uploads/", { method: "POST", headers: { Authorization: basic(ADMIN) } });
    const session = upload.response.headers.get("Location")!.split("/").pop()!;
    const withToken = await logged("/v2/logged/app/tags/list", { headers: { Authorization: `Bearer ${issued}` } });
    const text = [...token.lines, ...upload.lines, ...withToken.lines].join("\n");
    expect(requestLines(upload.lines)).toEqual([expect.objectContaining({ route: "/v2/:name{.+}/blobs/uploads/", status: 202 })]);
    expect(requestLines(withToken.lines)).toEqual([expect.objectContaining({ principal: "admin" })]);
    for (const secret of [password, basic(ADMIN).slice("Basic ".length), session, issued!]) expect(text).not.toContain(secret);
  });

  it("writes nothing with PIER_REQUEST_LOG=off", async () => {
    const { response, lines } = await logged("/v2/", { headers: { Authorization: basic(ADMIN) } }, { PIER_REQUEST_LOG: "off" });
    expect(response.status).toBe(200);
    expect(requestLines(lines)).toEqual([]);
  });
});
