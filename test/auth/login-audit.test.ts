// The token endpoint writes the audit log (issue 4, "Audit"): sign-ins, failed sign-ins, and
// tokens that carry less than was asked for.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index";
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

const recordsOf = async (principal: string) => (await listAudit(db, { principal }, 100)).map(({ action, resource, result, ip }) => ({ action, resource, result, ip }));

describe("the audit log of the token endpoint", () => {
  it("records a sign-in", async () => {
    const user = await newUser();
    expect((await tokenRequest("service=registry.test", basic(user), "203.0.113.1")).status).toBe(200);
    expect(await recordsOf(user.username)).toContainEqual({ action: "login", resource: "token", result: "success", ip: "203.0.113.1" });
  });

  it("records a failed sign-in under the name that was tried", async () => {
    const user = await newUser();
    const response = await tokenRequest("service=registry.test", basic({ ...user, password: "wrong-password-123" }), "203.0.113.2");
    expect(response.status).toBe(401);
    expect(await recordsOf(user.username)).toEqual([{ action: "login", resource: "token", result: "failure", ip: "203.0.113.2" }]);
  });

  it("records a refused scope with the actions that were not granted", async () => {
    const user = await newUser();
    const project = await newProject({ members: [[user, "guest"]] });
    const scope = encodeURIComponent(`repository:${project}/app:pull,push`);
    expect((await tokenRequest(`scope=${scope}`, basic(user), "203.0.113.3")).status).toBe(200);
    expect(await recordsOf(user.username)).toContainEqual({ action: "token.refuse", resource: `repository:${project}/app:push`, result: "denied", ip: "203.0.113.3" });
  });

  it("records nothing but the sign-in when every scope is granted", async () => {
    const user = await newUser();
    const project = await newProject({ members: [[user, "developer"]] });
    await tokenRequest(`scope=${encodeURIComponent(`repository:${project}/app:pull,push`)}`, basic(user), "203.0.113.4");
    expect((await recordsOf(user.username)).map((record) => record.action)).toEqual(["login"]);
  });
});
