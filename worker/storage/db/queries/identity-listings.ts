// Paged listings of the identity tables for the management API: users, the projects one
// principal may see, robots of one level. Kept apart from principals.ts and robots.ts only
// because those were being edited at the same time; they may move there.
import { and, asc, eq, gt, inArray, or, type SQL } from "drizzle-orm";
import type { Database } from "../client";
import { projectMembers, projects, robots, users } from "../schema";
import type { ProjectRow, UserRow } from "./principals";
import type { RobotRow } from "./robots";

/** D1 binds at most 100 parameters per statement; a robot's projects are bound one each. */
const MAX_BOUND_PROJECTS = 90;

/** Users in name order, after `last`. */
export async function listUsers(db: Database, last: string | null, limit: number): Promise<UserRow[]> {
  return db
    .select()
    .from(users)
    .where(last === null ? undefined : gt(users.username, last))
    .orderBy(asc(users.username))
    .limit(limit);
}

/** Who sees which projects besides public ones: a user's memberships, or a robot's projects. */
export type ProjectViewer = { member: string } | { projects: string[] };

/** Public projects and those the viewer belongs to, in name order, after `last`. */
export async function listVisibleProjects(db: Database, viewer: ProjectViewer, last: string | null, limit: number): Promise<ProjectRow[]> {
  const own: SQL =
    "member" in viewer
      ? inArray(projects.name, db.select({ project: projectMembers.project }).from(projectMembers).where(eq(projectMembers.username, viewer.member)))
      : inArray(projects.name, viewer.projects.slice(0, MAX_BOUND_PROJECTS));
  const visible = or(eq(projects.public, true), own)!;
  return db
    .select()
    .from(projects)
    .where(last === null ? visible : and(visible, gt(projects.name, last)))
    .orderBy(asc(projects.name))
    .limit(limit);
}

/** Robots of one level in name order, after `last`. */
export async function listRobotsOfLevel(db: Database, level: RobotRow["level"], last: string | null, limit: number): Promise<RobotRow[]> {
  const ofLevel = eq(robots.level, level);
  return db
    .select()
    .from(robots)
    .where(last === null ? ofLevel : and(ofLevel, gt(robots.name, last)))
    .orderBy(asc(robots.name))
    .limit(limit);
}
