// Deleting a project: only an empty one (no manifest in any repository under `<project>/`),
// with everything that refers to it by name: its members, its project robots
// (`robot$<project>+…`), every robot's permissions in it, its retention policy, schedule and
// runs, its webhooks and their delivery log, and its repositories' names and blob links (blobs without a manifest are unreachable;
// their bytes are garbage collection's). All in one batch (one D1 transaction), every statement
// guarded by the same emptiness check, so either the project and its references go together or
// nothing does: a project created later under the same name never inherits an old member or robot.
import { and, eq, inArray, notExists, sql } from "drizzle-orm";
import { ROBOT_PREFIX } from "../../../auth/principal";
import type { Database } from "../client";
import {
  manifests,
  projectMembers,
  projects,
  repositories,
  repositoryBlobs,
  retentionPolicies,
  retentionRunItems,
  retentionRuns,
  robotPermissions,
  robots,
  schedules,
  users,
  webhookDeliveries,
  webhooks,
} from "../schema";

/** `affected`: the login names whose access changed (members, robots with grants, deleted robots). */
export type ProjectDeletion = { deleted: true; affected: string[] } | { deleted: false; reason: "missing" | "notEmpty" };

export async function deleteEmptyProject(db: Database, name: string): Promise<ProjectDeletion> {
  const prefix = `${name}/`;
  // substr, not LIKE: a project name may hold "_", which LIKE reads as a wildcard.
  const under = (column: typeof repositories.name | typeof manifests.repository | typeof repositoryBlobs.repository) => sql`substr(${column}, 1, ${prefix.length}) = ${prefix}`;
  const empty = notExists(db.select({ one: sql`1` }).from(manifests).where(under(manifests.repository)));
  const robotPrefix = `${ROBOT_PREFIX}${name}+`;
  const ownRobot = and(eq(robots.level, "project"), sql`substr(${robots.name}, 1, ${robotPrefix.length}) = ${robotPrefix}`);
  // Whoever held access in the project loses it: their access epochs move first, in the same
  // batch, so a token decided while the project existed opens nothing in a namesake created later.
  const members = db.select({ username: projectMembers.username }).from(projectMembers).where(eq(projectMembers.project, name));
  const grantees = db.select({ robot: robotPermissions.robot }).from(robotPermissions).where(eq(robotPermissions.project, name));
  const [affectedMembers, affectedRobots, , , deletedRobots, , , , , deleted] = await db.batch([
    members,
    grantees,
    db.update(users).set({ accessEpoch: sql`${users.accessEpoch} + 1` }).where(and(inArray(users.username, members), empty)),
    db.update(robots).set({ accessEpoch: sql`${robots.accessEpoch} + 1` }).where(and(inArray(robots.name, grantees), empty)),
    db.delete(robots).where(and(ownRobot, empty)).returning({ name: robots.name }),
    db.delete(robotPermissions).where(and(eq(robotPermissions.project, name), empty)),
    db.delete(projectMembers).where(and(eq(projectMembers.project, name), empty)),
    db.delete(repositoryBlobs).where(and(under(repositoryBlobs.repository), empty)),
    db.delete(repositories).where(and(under(repositories.name), empty)),
    db.delete(projects).where(and(eq(projects.name, name), empty)).returning({ name: projects.name }),
    // Its retention policy, the schedule that runs it (worker/lifecycle/retention.ts names it) and its runs.
    db.delete(retentionPolicies).where(and(eq(retentionPolicies.project, name), empty)),
    db.delete(schedules).where(and(eq(schedules.name, `retention:${name}`), empty)),
    db.delete(retentionRunItems).where(and(inArray(retentionRunItems.run, db.select({ id: retentionRuns.id }).from(retentionRuns).where(eq(retentionRuns.project, name))), empty)),
    db.delete(retentionRuns).where(and(eq(retentionRuns.project, name), empty)),
    // Its webhooks (a namesake must not notify someone else's receiver) and their delivery log.
    db.delete(webhooks).where(and(eq(webhooks.project, name), empty)),
    db.delete(webhookDeliveries).where(and(eq(webhookDeliveries.project, name), empty)),
  ]);
  if (deleted.length > 0) return { deleted: true, affected: [...new Set([...deletedRobots.map((robot) => robot.name), ...affectedMembers.map((row) => row.username), ...affectedRobots.map((row) => row.robot)])] };
  const exists = await db.select({ name: projects.name }).from(projects).where(eq(projects.name, name)).limit(1);
  return { deleted: false, reason: exists.length === 0 ? "missing" : "notEmpty" };
}
