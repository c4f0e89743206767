// A project always keeps at least one project admin (issue 9): removing or demoting the last
// one is a CONFLICT, unless a system admin does it. The check is part of the write itself, so
// two project admins removing each other at once cannot both succeed.
import { describe, expect, it } from "vitest";
import { api, apiJson, apiProject, expectError, member } from "../helpers/management";

describe("the last project admin", () => {
  it("cannot remove themselves: 409, and stays project admin", async () => {
    const project = await apiProject();
    const owner = await member(project, "projectAdmin");
    await expectError(await api(`/projects/${project}/members/${owner.username}`, { method: "DELETE", as: owner }), 409, "CONFLICT");
    const { items } = await apiJson<{ items: { username: string; role: string }[] }>(`/projects/${project}/members`);
    expect(items).toContainEqual({ username: owner.username, role: "projectAdmin" });
  });

  it("cannot demote themselves: 409", async () => {
    const project = await apiProject();
    const owner = await member(project, "projectAdmin");
    await expectError(await api(`/projects/${project}/members`, { body: { username: owner.username, role: "developer" }, as: owner }), 409, "CONFLICT");
  });

  it("can step down once another member is project admin", async () => {
    const project = await apiProject();
    const owner = await member(project, "projectAdmin");
    const next = await member(project, "developer");
    await apiJson(`/projects/${project}/members`, { body: { username: next.username, role: "projectAdmin" }, as: owner }, 201);
    expect((await api(`/projects/${project}/members/${owner.username}`, { method: "DELETE", as: owner })).status).toBe(204);
  });

  it("leaves one project admin when two remove each other at the same moment", async () => {
    const project = await apiProject();
    const [a, b] = [await member(project, "projectAdmin"), await member(project, "projectAdmin")];
    const answers = await Promise.all([
      api(`/projects/${project}/members/${b.username}`, { method: "DELETE", as: a }),
      api(`/projects/${project}/members/${a.username}`, { method: "DELETE", as: b }),
    ]);
    const statuses = answers.map((answer) => answer.status).sort();
    // One wins; the other is refused, either as the last admin or as no longer a member (404).
    expect(statuses[0]).toBe(204);
    expect([403, 404, 409]).toContain(statuses[1]);
    const { items } = await apiJson<{ items: { role: string }[] }>(`/projects/${project}/members`);
    expect(items.filter((item) => item.role === "projectAdmin")).toHaveLength(1);
  });

  it("can be removed or demoted by a system admin", async () => {
    const project = await apiProject();
    const owner = await member(project, "projectAdmin");
    await apiJson(`/projects/${project}/members`, { body: { username: owner.username, role: "guest" } }, 201);
    expect((await api(`/projects/${project}/members/${owner.username}`, { method: "DELETE" })).status).toBe(204);
  });

  it("does not stop other members from being removed", async () => {
    const project = await apiProject();
    const owner = await member(project, "projectAdmin");
    const dev = await member(project, "developer");
    expect((await api(`/projects/${project}/members/${dev.username}`, { method: "DELETE", as: owner })).status).toBe(204);
  });
});
