// Users, projects and memberships: who may sign in, which projects exist, who has which role.
import { and, asc, eq, gt, inArray, or, sql, type SQL } from "drizzle-orm";
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

/**
 * Changes the user's flags or password hash in one statement; the row as it is now, or null
 * when there is no such user. A new password or a disable moves the credential epoch in the
 * same statement, so every token and remembered login issued before stops working (as for
 * robots: robots.ts).
 */
export async function updateUser(db: Database, username: string, changes: { disabled?: boolean; passwordHash?: string }): Promise<UserRow | null> {
  const revoke = changes.passwordHash !== undefined || changes.disabled === true;
  const rows = await db
    .update(users)
    .set({ ...changes, ...(revoke && { credentialEpoch: sql`${users.credentialEpoch} + 1` }) })
    .where(eq(users.username, username))
    .returning();
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

/**
 * The `admin` user from ADMIN_PASSWORD: created, or given the current password hash with a new
 * credential epoch (the caller found that the secret changed: the old password's tokens die).
 */
export async function upsertAdmin(db: Database, username: string, passwordHash: string): Promise<UserRow> {
  const rows = await db
    .insert(users)
    .values({ username, passwordHash, isAdmin: true })
    .onConflictDoUpdate({ target: users.username, set: { passwordHash, isAdmin: true, disabled: false, credentialEpoch: sql`${users.credentialEpoch} + 1` } })
    .returning();
  return rows[0]!;
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

/** Makes the project public or private; making it private records when (tokens issued before are decided again). */
export async function setProjectPublic(db: Database, name: string, isPublic: boolean, now = Date.now()): Promise<boolean> {
  const updated = await db
    .update(projects)
    .set({ public: isPublic, ...(!isPublic && { restrictedAt: now }) })
    .where(eq(projects.name, name))
    .returning({ name: projects.name });
  return updated.length > 0;
}

/** How a membership change went: `lastAdmin` when it would have left the project without a project admin. */
export type MembershipChange = "done" | "missing" | "lastAdmin";

export interface MembershipRules {
  /** Refuse to remove or demote the project's last project admin (everyone but system admins). */
  keepAnAdmin: boolean;
}

/**
 * Adds a member or changes their role, in one batch: when the old role is among `losingRoles`
 * (roles that may do more than the new one), the user's access epoch moves too, so tokens
 * carrying the old role's access stop working. Both statements hold the last-admin guard.
 */
export async function setMember(db: Database, project: string, username: string, role: MemberRole, losingRoles: MemberRole[], rules: MembershipRules): Promise<MembershipChange> {
  const currentRole = sql`(${db.select({ role: projectMembers.role }).from(projectMembers).where(memberIs(project, username))})`;
  const demotes = role !== "projectAdmin" && rules.keepAnAdmin;
  const upsert = db
    .insert(projectMembers)
    .values({ project, username, role })
    .onConflictDoUpdate({ target: [projectMembers.project, projectMembers.username], set: { role }, ...(demotes && { setWhere: keepsAnAdmin(db, project, projectMembers.role) }) })
    .returning({ role: projectMembers.role });
  if (losingRoles.length === 0) return (await upsert).length > 0 ? "done" : "lastAdmin";
  const loses = and(eq(users.username, username), inArray(currentRole, losingRoles), demotes ? keepsAnAdmin(db, project, currentRole) : undefined);
  const [, written] = await db.batch([db.update(users).set({ accessEpoch: sql`${users.accessEpoch} + 1` }).where(loses), upsert]);
  return written.length > 0 ? "done" : "lastAdmin";
}

/** Removes a member, moving their access epoch in the same batch (their tokens carry the old access). */
export async function removeMember(db: Database, project: string, username: string, rules: MembershipRules): Promise<MembershipChange> {
  const member = memberIs(project, username);
  const currentRole = sql`(${db.select({ role: projectMembers.role }).from(projectMembers).where(member)})`;
  const [, deleted, exists] = await db.batch([
    db
      .update(users)
      .set({ accessEpoch: sql`${users.accessEpoch} + 1` })
      .where(and(eq(users.username, username), sql`${currentRole} IS NOT NULL`, rules.keepAnAdmin ? keepsAnAdmin(db, project, currentRole) : undefined)),
    db
      .delete(projectMembers)
      .where(and(member, rules.keepAnAdmin ? keepsAnAdmin(db, project, projectMembers.role) : undefined))
      .returning({ username: projectMembers.username }),
    db.select({ username: projectMembers.username }).from(projectMembers).where(member),
  ]);
  if (deleted.length > 0) return "done";
  return exists.length > 0 ? "lastAdmin" : "missing";
}

function memberIs(project: string, username: string): SQL {
  return and(eq(projectMembers.project, project), eq(projectMembers.username, username))!;
}

/**
 * True unless the member whose role is `role` is the project's only project admin: the
 * condition every removal and demotion carries, evaluated inside its own statement, so two
 * concurrent removals of the last two admins cannot both pass.
 */
function keepsAnAdmin(db: Database, project: string, role: SQL | typeof projectMembers.role): SQL {
  const admins = db
    .select({ count: sql<number>`count(*)` })
    .from(projectMembers)
    .where(and(eq(projectMembers.project, project), eq(projectMembers.role, "projectAdmin")));
  return sql`(${role} IS NOT 'projectAdmin' OR (${admins}) > 1)`;
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
