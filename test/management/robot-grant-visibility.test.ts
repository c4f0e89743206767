// A project admin listing its project's robots sees a system robot's grants only on projects
// that admin can see itself (issue 9): a robot shared with another, private project must not
// tell them that project's name.
import { describe, expect, it } from "vitest";
import { apiJson, apiProject, member, unique } from "../helpers/management";

interface RobotList {
  items: { name: string; projects: { project: string; permissions: string[] }[]; permissions: string[] }[];
}

async function systemRobotIn(projects: string[]): Promise<string> {
  const name = unique("sys");
  await apiJson("/robots", { body: { name, projects: projects.map((project) => ({ project, permissions: ["pull"] })) } }, 201);
  return `robot$${name}`;
}

describe("a project's robot list", () => {
  it("hides a system robot's grants on private projects the caller cannot see", async () => {
    const [mine, secret] = [await apiProject(), await apiProject()];
    const owner = await member(mine, "projectAdmin");
    const robot = await systemRobotIn([mine, secret]);
    const { items } = await apiJson<RobotList>(`/projects/${mine}/robots`, { as: owner });
    const listed = items.find((item) => item.name === robot)!;
    expect(listed.projects.map((entry) => entry.project)).toEqual([mine]);
    expect(JSON.stringify(items)).not.toContain(secret);
  });

  it("shows grants on public projects and on projects where the caller has a role", async () => {
    const [mine, shared, open] = [await apiProject(), await apiProject(), await apiProject({ public: true })];
    const owner = await member(mine, "projectAdmin");
    await apiJson(`/projects/${shared}/members`, { body: { username: owner.username, role: "guest" } }, 201);
    const robot = await systemRobotIn([mine, shared, open]);
    const { items } = await apiJson<RobotList>(`/projects/${mine}/robots`, { as: owner });
    expect(items.find((item) => item.name === robot)!.projects.map((entry) => entry.project).sort()).toEqual([mine, shared, open].sort());
  });

  it("shows a system admin every grant", async () => {
    const [mine, secret] = [await apiProject(), await apiProject()];
    const robot = await systemRobotIn([mine, secret]);
    const { items } = await apiJson<RobotList>(`/projects/${mine}/robots`);
    expect(items.find((item) => item.name === robot)!.projects.map((entry) => entry.project).sort()).toEqual([mine, secret].sort());
  });
});
