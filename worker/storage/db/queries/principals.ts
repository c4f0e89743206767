// Users, projects and memberships: who may sign in, which projects exist, who has which role.
import { and, asc, eq, gt, inArray, or, type SQL } from "drizzle-orm";
import { type Database, inBatches } from "../client";
import { projectMembers, projects, users } from "../schema";

export type UserRow = typeof users.$inferSelect;
export type ProjectRow = typeof projects.$inferSelect;
/** The roles the schema allows (worker/auth/permissions.ts says what each may do). */
export type MemberRole = (typeof projectMembers.$inferSelect)["role"];

export async function findUser(db: Database, username: string): Promise<UserRow | null> {
  const rows = await db.select().from(users).where(eq(users.username, username)).limit(1);
  return rows[0] ?? null;
}

/** Users in name order, after `last` (pagination). */
export async function listUsers(db: Database, last: string | null, limit: number): Promise<UserRow[]> {
  return db
    .select()
    .from(users)
    .where(last === null ? undefined : gt(users.username, last))
    .orderBy(asc(users.username))
    .limit(limit);
}

/** Creates the user; false when the name is taken. */
export async function createUser(db: Database, user: { username: string; passwordHash: string; isAdmin?: boolean }): Promise<boolean> {
  const inserted = await db.insert(users).values(user).onConflictDoNothing().returning({ username: users.username });
  return inserted.length > 0;
}

/** Changes the user's flags or password hash in one statement; the row as it is now, or null when there is no such user. */
export async function updateUser(db: Database, username: string, changes: { disabled?: boolean; passwordHash?: string }): Promise<UserRow | null> {
  const rows = await db.update(users).set(changes).where(eq(users.username, username)).returning();
  return rows[0] ?? null;
}

/** Deletes the user and their project memberships together (one batch); false when there was no such user. */
export async function deleteUser(db: Database, username: string): Promise<boolean> {
  const [, deleted] = await db.batch([
    db.delete(projectMembers).where(eq(projectMembers.username, username)),
    db.delete(users).where(eq(users.username, username)).returning({ username: users.username }),
  ]);
  return deleted.length > 0;
}

/** The `admin` user from ADMIN_PASSWORD: created, or given the current password hash. */
export async function upsertAdmin(db: Database, username: string, passwordHash: string): Promise<void> {
  await db
    .insert(users)
    .values({ username, passwordHash, isAdmin: true })
    .onConflictDoUpdate({ target: users.username, set: { passwordHash, isAdmin: true, disabled: false } });
}

export async function findProject(db: Database, name: string): Promise<ProjectRow | null> {
  const rows = await db.select().from(projects).where(eq(projects.name, name)).limit(1);
  return rows[0] ?? null;
}

/** Creates the project; false when the name is taken. */
export async function createProject(db: Database, project: { name: string; kind: "local" | "proxy"; public: boolean; createdBy: string | null }): Promise<boolean> {
  const inserted = await db.insert(projects).values(project).onConflictDoNothing().returning({ name: projects.name });
  return inserted.length > 0;
}

/** Projects in name order, after `last` (pagination). */
export async function listProjects(db: Database, last: string | null, limit: number): Promise<ProjectRow[]> {
  return db
    .select()
    .from(projects)
    .where(last === null ? undefined : gt(projects.name, last))
    .orderBy(asc(projects.name))
    .limit(limit);
}

/** D1 binds at most 100 parameters per statement; a robot's projects are bound one each. */
const MAX_BOUND_PROJECTS = 90;

/** Who sees which projects besides public ones: a user's memberships, or a robot's projects. */
export type ProjectViewer = { member: string } | { projects: string[] };

/** Public projects and those the viewer belongs to, in name order, after `last`. */
export async function listVisibleProjects(db: Database, viewer: ProjectViewer, last: string | null, limit: number): Promise<ProjectRow[]> {
  const visible = isVisibleTo(db, viewer);
  return db
    .select()
    .from(projects)
    .where(last === null ? visible : and(visible, gt(projects.name, last)))
    .orderBy(asc(projects.name))
    .limit(limit);
}

/** The names of the projects `viewer` sees, as a subquery (the catalog filters by it). */
export function visibleProjectNames(db: Database, viewer: ProjectViewer) {
  return db.select({ name: projects.name }).from(projects).where(isVisibleTo(db, viewer));
}

function isVisibleTo(db: Database, viewer: ProjectViewer): SQL {
  const own: SQL =
    "member" in viewer
      ? inArray(projects.name, db.select({ project: projectMembers.project }).from(projectMembers).where(eq(projectMembers.username, viewer.member)))
      : inArray(projects.name, viewer.projects.slice(0, MAX_BOUND_PROJECTS));
  return or(eq(projects.public, true), own)!;
}

/** Which of `names` are projects (one statement per 90 names). */
export async function existingProjects(db: Database, names: string[]): Promise<Set<string>> {
  return inBatches(names, async (slice) => (await db.select({ name: projects.name }).from(projects).where(inArray(projects.name, slice))).map((row) => row.name));
}

export async function setProjectPublic(db: Database, name: string, isPublic: boolean): Promise<boolean> {
  const updated = await db.update(projects).set({ public: isPublic }).where(eq(projects.name, name)).returning({ name: projects.name });
  return updated.length > 0;
}

/** Adds a member or changes their role. */
export async function setMember(db: Database, project: string, username: string, role: MemberRole): Promise<void> {
  await db
    .insert(projectMembers)
    .values({ project, username, role })
    .onConflictDoUpdate({ target: [projectMembers.project, projectMembers.username], set: { role } });
}

export async function removeMember(db: Database, project: string, username: string): Promise<boolean> {
  const deleted = await db
    .delete(projectMembers)
    .where(and(eq(projectMembers.project, project), eq(projectMembers.username, username)))
    .returning({ username: projectMembers.username });
  return deleted.length > 0;
}

/** The user's role in the project, or null. */
export async function roleIn(db: Database, project: string, username: string): Promise<MemberRole | null> {
  const rows = await db
    .select({ role: projectMembers.role })
    .from(projectMembers)
    .where(and(eq(projectMembers.project, project), eq(projectMembers.username, username)))
    .limit(1);
  return rows[0]?.role ?? null;
}

export async function listMembers(db: Database, project: string): Promise<{ username: string; role: MemberRole }[]> {
  return db
    .select({ username: projectMembers.username, role: projectMembers.role })
    .from(projectMembers)
    .where(eq(projectMembers.project, project))
    .orderBy(asc(projectMembers.username));
}
