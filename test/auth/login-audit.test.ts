// The token endpoint writes the audit log (issue 4, "Audit"): sign-ins, failed sign-ins, and
// tokens that carry less than was asked for. Sign-ins are counted, one record per result, name,
// address and minute (worker/auth/login-audit.ts).
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index";
import { flushLoginAudit } from "../../worker/auth/login-audit";
import { listAudit } from "../../worker/storage/db/queries/audit";
import { basic, db, newProject, newUser } from "../helpers/identities";

/** GET /token, waiting for what it writes after answering. */
async function tokenRequest(query: string, authorization: string | null, ip: string): Promise<Response> {
  const headers: Record<string, string> = { "CF-Connecting-IP": ip };
  if (authorization !== null) headers.Authorization = authorization;
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`http://registry.test/token?${query}`, { headers }), env, ctx);
  await response.arrayBuffer();
  await waitOnExecutionContext(ctx);
  return response;
}

/** The principal's records, once this isolate's pending sign-in records are written. */
async function recordsOf(principal: string) {
  await flushLoginAudit(env);
  return (await listAudit(db, { principal }, 100)).map(({ action, resource, result, ip, count }) => ({ action, resource, result, ip, count }));
}

describe("the audit log of the token endpoint", () => {
  it("records a sign-in", async () => {
    const user = await newUser();
    expect((await tokenRequest("service=registry.test", basic(user), "203.0.113.1")).status).toBe(200);
    expect(await recordsOf(user.username)).toContainEqual({ action: "login", resource: "token", result: "success", ip: "203.0.113.1", count: 1 });
  });

  it("records a failed sign-in under the name that was tried", async () => {
    const user = await newUser();
    const response = await tokenRequest("service=registry.test", basic({ ...user, password: "wrong-password-123" }), "203.0.113.2");
    expect(response.status).toBe(401);
    expect(await recordsOf(user.username)).toEqual([{ action: "login", resource: "token", result: "failure", ip: "203.0.113.2", count: 1 }]);
  });

  it("counts repeated failed sign-ins of a name from one address instead of listing each", async () => {
    const user = await newUser();
    const wrong = basic({ ...user, password: "wrong-password-123" });
    for (let attempt = 0; attempt < 3; attempt++) expect((await tokenRequest("service=registry.test", wrong, "203.0.113.5")).status).toBe(401);
    const failures = (await recordsOf(user.username)).filter((record) => record.result === "failure");
    // One record per minute: three attempts may straddle one minute's end, never two.
    expect(failures.length).toBeLessThanOrEqual(2);
    expect(failures.reduce((total, record) => total + record.count, 0)).toBe(3);
    expect(failures.every((record) => record.ip === "203.0.113.5")).toBe(true);
  });

  it("records a refused scope with the actions that were not granted", async () => {
    const user = await newUser();
    const project = await newProject({ members: [[user, "guest"]] });
    const scope = encodeURIComponent(`repository:${project}/app:pull,push`);
    expect((await tokenRequest(`scope=${scope}`, basic(user), "203.0.113.3")).status).toBe(200);
    expect(await recordsOf(user.username)).toContainEqual({ action: "token.refuse", resource: `repository:${project}/app:push`, result: "denied", ip: "203.0.113.3", count: 1 });
  });

  it("records nothing but the sign-in when every scope is granted", async () => {
    const user = await newUser();
    const project = await newProject({ members: [[user, "developer"]] });
    await tokenRequest(`scope=${encodeURIComponent(`repository:${project}/app:pull,push`)}`, basic(user), "203.0.113.4");
    expect((await recordsOf(user.username)).map((record) => record.action)).toEqual(["login"]);
  });
});
