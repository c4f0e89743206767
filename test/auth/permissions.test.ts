/// <reference types="vite/client" />
// worker/auth/permissions.ts: the permission table, cell by cell. The expectations below are
// written out independently of PERMISSION_TABLE (Harbor's role meanings, issue 4's rules), so
// a wrong cell in the code fails here instead of being compared with itself.
import { describe, expect, it } from "vitest";
import readme from "../../README.md?raw";
import {
  type Action,
  type Grant,
  type ProjectFacts,
  type ProjectRole,
  type RobotPermission,
  ACTIONS,
  ROBOT_PERMISSIONS,
  isAllowed,
  isAllowedSystem,
  isRobotPermission,
  renderPermissionTable,
} from "../../worker/auth/permissions";

const MANAGEMENT: readonly Action[] = ["listMembers", "manageMembers", "listRobots", "manageRobots", "readLogs", "manageProject"];
const CONTENT_CHANGES: readonly Action[] = ["push", "delete"];
const PUBLIC_BASELINE: readonly Action[] = ["pull", "listRepositories"];

/** What each role may do in a local project it has that role in, public or private. */
const ROLE_ACTIONS: Record<ProjectRole, readonly Action[]> = {
  projectAdmin: ["pull", "listRepositories", "push", "delete", ...MANAGEMENT],
  maintainer: ["pull", "listRepositories", "push", "delete", "listMembers", "listRobots"],
  developer: ["pull", "listRepositories", "push", "listMembers"],
  guest: ["pull", "listRepositories", "listMembers"],
  limitedGuest: ["pull", "listRepositories"],
};

type Who = "systemAdmin" | ProjectRole | "noRole" | "anonymous";
const GRANTS: Record<Who, Grant> = {
  systemAdmin: { kind: "systemAdmin" },
  projectAdmin: { kind: "member", role: "projectAdmin" },
  maintainer: { kind: "member", role: "maintainer" },
  developer: { kind: "member", role: "developer" },
  guest: { kind: "member", role: "guest" },
  limitedGuest: { kind: "member", role: "limitedGuest" },
  noRole: { kind: "member", role: null },
  anonymous: { kind: "anonymous" },
};

const PROJECTS: Record<string, ProjectFacts> = {
  "public local": { kind: "local", public: true },
  "private local": { kind: "local", public: false },
  "public proxy": { kind: "proxy", public: true },
  "private proxy": { kind: "proxy", public: false },
};

function expected(who: Who, action: Action, project: ProjectFacts): boolean {
  if (project.kind === "proxy" && CONTENT_CHANGES.includes(action)) return false;
  if (who === "systemAdmin") return true;
  if (who === "noRole" || who === "anonymous") return project.public && PUBLIC_BASELINE.includes(action);
  return ROLE_ACTIONS[who].includes(action);
}

const cells = (Object.keys(GRANTS) as Who[]).flatMap((who) =>
  ACTIONS.flatMap((action) =>
    Object.entries(PROJECTS).map(([projectName, project]) => ({ who, action, projectName, project, allowed: expected(who, action, project) })),
  ),
);

describe("the permission table, every cell", () => {
  it("covers every action the management API and the registry need", () => {
    expect([...ACTIONS].sort()).toEqual(
      ["delete", "listMembers", "listRepositories", "listRobots", "manageMembers", "manageProject", "manageRobots", "pull", "push", "readLogs"].sort(),
    );
  });

  it.each(cells)("$who may $action in a $projectName project: $allowed", ({ who, action, project, allowed }) => {
    expect(isAllowed(GRANTS[who], action, project)).toBe(allowed);
  });
});

describe("project visibility", () => {
  it.each(["anonymous", "noRole"] as const)("a %s visitor may pull from a public project", (who) => {
    expect(isAllowed(GRANTS[who], "pull", PROJECTS["public local"]!)).toBe(true);
  });

  it.each(["anonymous", "noRole"] as const)("a %s visitor may do nothing at all in a private project", (who) => {
    for (const action of ACTIONS) expect(isAllowed(GRANTS[who], action, PROJECTS["private local"]!)).toBe(false);
  });

  it.each(["anonymous", "noRole"] as const)("a %s visitor may neither push nor delete in a public project", (who) => {
    for (const action of CONTENT_CHANGES) expect(isAllowed(GRANTS[who], action, PROJECTS["public local"]!)).toBe(false);
  });

  it("a limited guest sees neither members, robots nor logs, even of a public project", () => {
    for (const action of ["listMembers", "listRobots", "readLogs"] as const) {
      expect(isAllowed(GRANTS.limitedGuest, action, PROJECTS["public local"]!)).toBe(false);
    }
  });
});

describe("proxy projects are read-only", () => {
  it.each(CONTENT_CHANGES)("a system admin may not %s in a proxy project", (action) => {
    expect(isAllowed(GRANTS.systemAdmin, action, PROJECTS["private proxy"]!)).toBe(false);
  });

  it("a system admin may still pull from a private proxy project", () => {
    expect(isAllowed(GRANTS.systemAdmin, "pull", PROJECTS["private proxy"]!)).toBe(true);
  });

  it("a project admin may still make a proxy project private (manageProject)", () => {
    expect(isAllowed(GRANTS.projectAdmin, "manageProject", PROJECTS["public proxy"]!)).toBe(true);
  });

  it.each(CONTENT_CHANGES)("a robot granted %s may not use it in a proxy project", (action) => {
    expect(isAllowed({ kind: "robot", permissions: ROBOT_PERMISSIONS }, action, PROJECTS["private proxy"]!)).toBe(false);
  });
});

describe("robots", () => {
  const robot = (...permissions: RobotPermission[]): Grant => ({ kind: "robot", permissions });
  const privateLocal = PROJECTS["private local"]!;

  it.each(ROBOT_PERMISSIONS)("a robot granted only %s may do exactly that in a private project", (permission) => {
    const allowed = ACTIONS.filter((action) => isAllowed(robot(permission), action, privateLocal));
    expect(allowed).toEqual([permission]);
  });

  it("a robot without permissions here may do nothing in a private project", () => {
    expect(ACTIONS.filter((action) => isAllowed(robot(), action, privateLocal))).toEqual([]);
  });

  it("a robot granted push does not get pull with it", () => {
    expect(isAllowed(robot("push"), "pull", privateLocal)).toBe(false);
  });

  it.each(MANAGEMENT)("a robot holding every permission may never %s", (action) => {
    for (const project of Object.values(PROJECTS)) expect(isAllowed(robot(...ROBOT_PERMISSIONS), action, project)).toBe(false);
  });

  it("a robot without permissions here gets what everybody gets in a public project, no more", () => {
    expect(ACTIONS.filter((action) => isAllowed(robot(), action, PROJECTS["public local"]!))).toEqual(["pull", "listRepositories"]);
  });

  it("ignores an unknown entry smuggled into a permission list", () => {
    const grant = { kind: "robot", permissions: ["manageMembers"] } as unknown as Grant;
    expect(isAllowed(grant, "manageMembers", privateLocal)).toBe(false);
  });

  it.each(["pull", "push", "delete", "listRepositories"])("accepts %j as a robot permission", (text) => {
    expect(isRobotPermission(text)).toBe(true);
  });

  it.each(["manageMembers", "manageRobots", "readLogs", "createProject", "*", "PULL", ""])("refuses %j as a robot permission", (text) => {
    expect(isRobotPermission(text)).toBe(false);
  });
});

describe("system actions", () => {
  const enabled = { usersMayCreateProjects: true };
  const disabled = { usersMayCreateProjects: false };

  it("a system admin may create a project whatever the setting", () => {
    expect(isAllowedSystem(GRANTS.systemAdmin, "createProject", disabled)).toBe(true);
  });

  it.each(["projectAdmin", "guest", "noRole"] as const)("a signed-in user (%s elsewhere) may create a project only when the setting allows", (who) => {
    expect(isAllowedSystem(GRANTS[who], "createProject", enabled)).toBe(true);
    expect(isAllowedSystem(GRANTS[who], "createProject", disabled)).toBe(false);
  });

  it("an anonymous visitor may never create a project", () => {
    expect(isAllowedSystem(GRANTS.anonymous, "createProject", enabled)).toBe(false);
  });

  it("a robot may never create a project", () => {
    expect(isAllowedSystem({ kind: "robot", permissions: ROBOT_PERMISSIONS }, "createProject", enabled)).toBe(false);
  });

  it("only a system admin may manage users", () => {
    const allowed = (Object.keys(GRANTS) as Who[]).filter((who) => isAllowedSystem(GRANTS[who], "manageUsers", enabled));
    expect(allowed).toEqual(["systemAdmin"]);
  });
});

describe("the README's table", () => {
  it("is exactly renderPermissionTable()'s output, between its markers", () => {
    const between = /<!-- permission-table:start -->\n([\s\S]*?)\n<!-- permission-table:end -->/.exec(readme);
    expect(between?.[1]).toBe(renderPermissionTable());
  });

  it("has one row per action and one column per kind of grant", () => {
    const lines = renderPermissionTable().split("\n").filter((line) => line.startsWith("| `"));
    expect(lines).toHaveLength(ACTIONS.length + 2);
    for (const line of lines) expect(line.split(" | ")).toHaveLength(10);
  });
});
