// Robot accounts and their explicit per-project permissions.
import { and, asc, eq, gt, inArray, sql, type SQL } from "drizzle-orm";
import type { Database } from "../client";
import { robotPermissions, robots } from "../schema";

export type RobotRow = typeof robots.$inferSelect;
export interface RobotGrant {
  project: string;
  action: string;
}
/** A robot with its permissions, as the management API shows it. */
export type StoredRobot = RobotRow & { grants: RobotGrant[] };

/** Creates the robot and its permissions in one batch; false when the name is taken. */
export async function createRobot(db: Database, robot: typeof robots.$inferInsert, grants: RobotGrant[]): Promise<boolean> {
  if ((await findRobot(db, robot.name)) !== null) return false;
  const statements = [
    db.insert(robots).values(robot),
    ...grants.map((grant) => db.insert(robotPermissions).values({ robot: robot.name, ...grant }).onConflictDoNothing()),
  ];
  await db.batch(statements as [(typeof statements)[number], ...(typeof statements)[number][]]);
  return true;
}

export async function findRobot(db: Database, name: string): Promise<StoredRobot | null> {
  const [rows, grants] = await db.batch([
    db.select().from(robots).where(eq(robots.name, name)).limit(1),
    db.select({ project: robotPermissions.project, action: robotPermissions.action }).from(robotPermissions).where(eq(robotPermissions.robot, name)),
  ]);
  const robot = rows[0];
  return robot === undefined ? null : { ...robot, grants };
}

/** Robots holding any permission in the project, by name, each with all its grants. */
export async function listProjectRobots(db: Database, project: string): Promise<StoredRobot[]> {
  const names = db.selectDistinct({ robot: robotPermissions.robot }).from(robotPermissions).where(eq(robotPermissions.project, project));
  return withGrants(db, inArray(robots.name, names));
}

/** Robots of one level in name order, after `last` (pagination), each with its grants. */
export async function listRobotsOfLevel(db: Database, level: RobotRow["level"], last: string | null, limit: number): Promise<StoredRobot[]> {
  const ofLevel = eq(robots.level, level);
  const page = db
    .select({ name: robots.name })
    .from(robots)
    .where(last === null ? ofLevel : and(ofLevel, gt(robots.name, last)))
    .orderBy(asc(robots.name))
    .limit(limit);
  return withGrants(db, inArray(robots.name, page));
}

/** The robots `which` selects, by name, with their grants: one batch of two statements however many robots. */
async function withGrants(db: Database, which: SQL): Promise<StoredRobot[]> {
  const [rows, grants] = await db.batch([
    db.select().from(robots).where(which).orderBy(asc(robots.name)),
    db
      .select({ robot: robotPermissions.robot, project: robotPermissions.project, action: robotPermissions.action })
      .from(robotPermissions)
      .where(inArray(robotPermissions.robot, db.select({ name: robots.name }).from(robots).where(which))),
  ]);
  const byRobot = new Map<string, RobotGrant[]>();
  for (const { robot, ...grant } of grants) byRobot.set(robot, [...(byRobot.get(robot) ?? []), grant]);
  return rows.map((row) => ({ ...row, grants: byRobot.get(row.name) ?? [] }));
}

/** Disables or enables the robot; disabling moves its credential epoch, so enabling it again revives no old token. */
export async function setRobotDisabled(db: Database, name: string, disabled: boolean): Promise<boolean> {
  const updated = await db
    .update(robots)
    .set({ disabled, ...(disabled && { credentialEpoch: sql`${robots.credentialEpoch} + 1` }) })
    .where(eq(robots.name, name))
    .returning({ name: robots.name });
  return updated.length > 0;
}

/** Replaces the robot's secret and moves its credential epoch: the old secret and every token issued with it stop working. */
export async function setRobotSecret(db: Database, name: string, secretHash: string): Promise<boolean> {
  const updated = await db
    .update(robots)
    .set({ secretHash, credentialEpoch: sql`${robots.credentialEpoch} + 1` })
    .where(eq(robots.name, name))
    .returning({ name: robots.name });
  return updated.length > 0;
}

export async function deleteRobot(db: Database, name: string): Promise<boolean> {
  const [, deleted] = await db.batch([
    db.delete(robotPermissions).where(eq(robotPermissions.robot, name)),
    db.delete(robots).where(eq(robots.name, name)).returning({ name: robots.name }),
  ]);
  return deleted.length > 0;
}
