// Project robots (issue 4): accounts for CI and deployments inside one project, with explicit
// permissions, an expiry and a secret shown once. Their login name is `robot$<project>+<name>`
// (Harbor's form), so the name alone says which project a robot belongs to. Managing them is
// the project admin's (manageRobots); maintainers may list them (listRobots).
import { grantIn } from "../../auth/access";
import { isAllowed } from "../../auth/permissions";
import { ROBOT_PREFIX } from "../../auth/principal";
import { projectFacts } from "../../auth/project-facts";
import type { Bindings } from "../../env";
import { database } from "../../storage/db/client";
import { listProjectRobots } from "../../storage/db/queries/robots";
import { type Actor, isSystemAdmin } from "./actor";
import { projectFor } from "./guard";
import type { NewProjectRobot } from "./inputs";
import { insertRobot, refreshSecret, type RobotSecret, removeRobot, setDisabled, storedRobot } from "./robot-accounts";
import { type ProjectRobotView, projectRobotView } from "./views";

export function projectRobotLogin(project: string, name: string): string {
  return `${ROBOT_PREFIX}${project}+${name}`;
}

export async function createProjectRobot(env: Bindings, actor: Actor, project: string, robot: NewProjectRobot): Promise<ProjectRobotView & RobotSecret> {
  const login = projectRobotLogin(project, robot.name);
  await projectFor(env, actor, project, "manageRobots", { action: "robot.create", resource: login });
  const grants = robot.permissions.map((action) => ({ project, action }));
  const { secret, row } = await insertRobot(env, actor, { ...robot, login, level: "project" }, grants, project);
  return { ...projectRobotView(row, row.grants, project), secret };
}

/**
 * The project's robots, never their secrets; system robots with permissions here included.
 * A system robot's grants elsewhere are shown only on projects the caller can see itself: a
 * project admin must not learn the names of private projects through a shared robot.
 */
export async function listProjectRobotViews(env: Bindings, actor: Actor, project: string): Promise<{ items: ProjectRobotView[] }> {
  await projectFor(env, actor, project, "listRobots", { action: "robot.list", resource: project });
  const robots = await listProjectRobots(database(env.DB), project);
  const visible = await visibleProjects(env, actor, new Set(robots.flatMap((robot) => robot.grants.map((grant) => grant.project))));
  return { items: robots.map((robot) => projectRobotView(robot, robot.grants.filter((grant) => visible.has(grant.project)), project)) };
}

/** Which of `names` the actor may see (pull), the project asked about among them. */
async function visibleProjects(env: Bindings, actor: Actor, names: Set<string>): Promise<Set<string>> {
  if (isSystemAdmin(actor)) return names;
  const seen = await Promise.all(
    [...names].map(async (name) => {
      const [facts, grant] = await Promise.all([projectFacts(env, name), grantIn(env, actor.principal, name)]);
      return facts !== null && isAllowed(grant, "pull", facts) ? [name] : [];
    }),
  );
  return new Set(seen.flat());
}

export async function getProjectRobot(env: Bindings, actor: Actor, project: string, name: string): Promise<ProjectRobotView> {
  const login = projectRobotLogin(project, name);
  await projectFor(env, actor, project, "listRobots", { action: "robot.read", resource: login });
  const robot = await storedRobot(env, login, "project");
  return projectRobotView(robot, robot.grants, project);
}

export async function setProjectRobotDisabled(env: Bindings, actor: Actor, project: string, name: string, disabled: boolean): Promise<ProjectRobotView> {
  const login = projectRobotLogin(project, name);
  await projectFor(env, actor, project, "manageRobots", { action: disabled ? "robot.disable" : "robot.enable", resource: login });
  const robot = await setDisabled(env, actor, await storedRobot(env, login, "project"), disabled, project);
  return projectRobotView(robot, robot.grants, project);
}

export async function refreshProjectRobotSecret(env: Bindings, actor: Actor, project: string, name: string): Promise<RobotSecret> {
  const login = projectRobotLogin(project, name);
  await projectFor(env, actor, project, "manageRobots", { action: "robot.secret", resource: login });
  return refreshSecret(env, actor, await storedRobot(env, login, "project"), project);
}

export async function deleteProjectRobot(env: Bindings, actor: Actor, project: string, name: string): Promise<void> {
  const login = projectRobotLogin(project, name);
  await projectFor(env, actor, project, "manageRobots", { action: "robot.delete", resource: login });
  await removeRobot(env, actor, await storedRobot(env, login, "project"), project);
}
