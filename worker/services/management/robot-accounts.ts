// What project and system robots share: a secret drawn at creation or refresh, shown once and
// stored only as a PBKDF2 hash, and the changes an account can go through (disable, enable,
// new secret, delete). Authorisation is the caller's (project-robots.ts, system-robots.ts).
import { forgetAccount } from "../../auth/account-state";
import { generateSecret, hashSecret } from "../../auth/passwords";
import type { Bindings } from "../../env";
import { RegistryError } from "../../errors";
import { database } from "../../storage/db/client";
import { createRobot, deleteRobot, findRobot, type RobotGrant, type RobotRow, setRobotDisabled, setRobotSecret, type StoredRobot } from "../../storage/db/queries/robots";
import { type Actor, loginName } from "./actor";
import { audit } from "./audit-trail";
import type { NewRobot } from "./inputs";

/** A robot's login name and its secret: the only answer that ever carries the secret. */
export interface RobotSecret {
  name: string;
  secret: string;
}

/** Where a robot's audit records go: its project, or null for a system robot. */
type AuditProject = string | null;

export async function insertRobot(
  env: Bindings,
  actor: Actor,
  robot: NewRobot & { login: string; level: RobotRow["level"] },
  grants: RobotGrant[],
  project: AuditProject,
): Promise<RobotSecret & { row: StoredRobot }> {
  const db = database(env.DB);
  const secret = generateSecret();
  const created = await createRobot(
    db,
    { name: robot.login, level: robot.level, secretHash: await hashSecret(secret), description: robot.description, expiresAt: robot.expiresAt, createdBy: loginName(actor) },
    grants,
  );
  if (!created) throw new RegistryError("CONFLICT", `the robot name "${robot.login}" is taken`);
  await audit(env, actor, { action: "robot.create", resource: robot.login, project });
  return { name: robot.login, secret, row: (await findRobot(db, robot.login))! };
}

/** The robot, when it exists at this level; 404 otherwise. */
export async function storedRobot(env: Bindings, login: string, level: RobotRow["level"]): Promise<StoredRobot> {
  const robot = await findRobot(database(env.DB), login);
  if (robot === null || robot.level !== level) throw new RegistryError("NAME_UNKNOWN", `no robot account is named "${login}"`);
  return robot;
}

/** Disables or enables the robot: a disabled robot cannot sign in, nor use a token it holds. */
export async function setDisabled(env: Bindings, actor: Actor, robot: StoredRobot, disabled: boolean, project: AuditProject): Promise<StoredRobot> {
  await setRobotDisabled(database(env.DB), robot.name, disabled);
  // Disabling moves the credential epoch (robots.ts): its tokens die, here at once, elsewhere
  // within the bounds of worker/auth/account-state.ts.
  forgetAccount(env, robot.name);
  await audit(env, actor, { action: disabled ? "robot.disable" : "robot.enable", resource: robot.name, project });
  return { ...robot, disabled };
}

/** Draws a new secret; the old one stops working at once. */
export async function refreshSecret(env: Bindings, actor: Actor, robot: StoredRobot, project: AuditProject): Promise<RobotSecret> {
  const secret = generateSecret();
  await setRobotSecret(database(env.DB), robot.name, await hashSecret(secret));
  forgetAccount(env, robot.name);
  await audit(env, actor, { action: "robot.secret", resource: robot.name, project });
  return { name: robot.name, secret };
}

export async function removeRobot(env: Bindings, actor: Actor, robot: StoredRobot, project: AuditProject): Promise<void> {
  await deleteRobot(database(env.DB), robot.name);
  forgetAccount(env, robot.name);
  await audit(env, actor, { action: "robot.delete", resource: robot.name, project });
}
