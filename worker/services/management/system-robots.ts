// System robots (issue 4): one account with explicit permissions in several projects, e.g. a
// replication or scanning job. Only system admins manage them. Login name `robot$<name>`; a
// project robot's name holds a "+", which a system robot's cannot, so the two never collide.
import { ROBOT_PREFIX } from "../../auth/principal";
import type { Config } from "../../config";
import type { Bindings } from "../../env";
import { RegistryError } from "../../errors";
import { database } from "../../storage/db/client";
import { existingProjects } from "../../storage/db/queries/principals";
import { listRobotsOfLevel } from "../../storage/db/queries/robots";
import type { Actor } from "./actor";
import type { AuditEntry } from "./audit-trail";
import { requireSystem } from "./guard";
import type { NewSystemRobot } from "./inputs";
import { insertRobot, refreshSecret, type RobotSecret, removeRobot, setDisabled, storedRobot } from "./robot-accounts";
import { type Page, pageOf, type RobotView, robotView } from "./views";

export function systemRobotLogin(name: string): string {
  return `${ROBOT_PREFIX}${name}`;
}

export async function createSystemRobot(env: Bindings, config: Config, actor: Actor, robot: NewSystemRobot): Promise<RobotView & RobotSecret> {
  const login = systemRobotLogin(robot.name);
  await requireSystem(env, config, actor, "manageUsers", entry("robot.create", login));
  const existing = await existingProjects(database(env.DB), robot.projects.map(({ project }) => project));
  const missing = robot.projects.map(({ project }) => project).filter((project) => !existing.has(project));
  if (missing.length > 0) throw new RegistryError("NAME_UNKNOWN", `no project is named ${missing.map((name) => `"${name}"`).join(", ")}`);
  const grants = robot.projects.flatMap(({ project, permissions }) => permissions.map((action) => ({ project, action })));
  const { secret, row } = await insertRobot(env, actor, { ...robot, login, level: "system" }, grants, null);
  return { ...robotView(row, row.grants), secret };
}

export async function listSystemRobots(env: Bindings, config: Config, actor: Actor, limit: number, last: string | null): Promise<Page<RobotView>> {
  await requireSystem(env, config, actor, "manageUsers", entry("robot.list", "robots"));
  const rows = await listRobotsOfLevel(database(env.DB), "system", last, limit + 1);
  return pageOf(rows, limit, (robot) => robotView(robot, robot.grants), (robot) => robot.name);
}

export async function getSystemRobot(env: Bindings, config: Config, actor: Actor, name: string): Promise<RobotView> {
  const login = systemRobotLogin(name);
  await requireSystem(env, config, actor, "manageUsers", entry("robot.read", login));
  const robot = await storedRobot(env, login, "system");
  return robotView(robot, robot.grants);
}

export async function setSystemRobotDisabled(env: Bindings, config: Config, actor: Actor, name: string, disabled: boolean): Promise<RobotView> {
  const login = systemRobotLogin(name);
  await requireSystem(env, config, actor, "manageUsers", entry(disabled ? "robot.disable" : "robot.enable", login));
  const robot = await setDisabled(env, actor, await storedRobot(env, login, "system"), disabled, null);
  return robotView(robot, robot.grants);
}

export async function refreshSystemRobotSecret(env: Bindings, config: Config, actor: Actor, name: string): Promise<RobotSecret> {
  const login = systemRobotLogin(name);
  await requireSystem(env, config, actor, "manageUsers", entry("robot.secret", login));
  return refreshSecret(env, actor, await storedRobot(env, login, "system"), null);
}

export async function deleteSystemRobot(env: Bindings, config: Config, actor: Actor, name: string): Promise<void> {
  const login = systemRobotLogin(name);
  await requireSystem(env, config, actor, "manageUsers", entry("robot.delete", login));
  await removeRobot(env, actor, await storedRobot(env, login, "system"), null);
}

function entry(action: string, resource: string): AuditEntry {
  return { action, resource, project: null };
}
