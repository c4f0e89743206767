// What the management API answers with: storage rows turned into the API's JSON shapes, with
// ISO 8601 times and never a secret hash.
import type { ProjectRow, UserRow } from "../../storage/db/queries/principals";
import type { RobotGrant, RobotRow } from "../../storage/db/queries/robots";

/** One page of a listing; `next` goes back as `?next=` for the page after, null on the last. */
export interface Page<T> {
  items: T[];
  next: string | null;
}

export interface UserView {
  username: string;
  admin: boolean;
  disabled: boolean;
  createdAt: string;
}

export interface ProjectView {
  name: string;
  public: boolean;
  kind: "local" | "proxy";
  createdBy: string | null;
  createdAt: string;
  /** -1: no limit. */
  storageLimitBytes: number;
  /** Counted when one project is shown; listings leave it out (it is a sum over the project's content). */
  storageUsedBytes?: number;
}

export interface RobotView {
  name: string;
  level: "system" | "project";
  description: string | null;
  /** Per project: what the robot may do there (a project robot has one entry). */
  projects: { project: string; permissions: string[] }[];
  expiresAt: string | null;
  expired: boolean;
  disabled: boolean;
  createdBy: string | null;
  createdAt: string;
}

/** A robot's view in one project's listing: its permissions there, at the top level. */
export interface ProjectRobotView extends RobotView {
  permissions: string[];
}

export function userView(row: UserRow): UserView {
  return { username: row.username, admin: row.isAdmin, disabled: row.disabled, createdAt: fromSeconds(row.createdAt) };
}

export function projectView(row: ProjectRow, storageUsedBytes?: number): ProjectView {
  const view = { name: row.name, public: row.public, kind: row.kind, createdBy: row.createdBy, createdAt: fromSeconds(row.createdAt), storageLimitBytes: row.storageLimitBytes };
  return storageUsedBytes === undefined ? view : { ...view, storageUsedBytes };
}

export function robotView(row: RobotRow, grants: RobotGrant[], now = Date.now()): RobotView {
  const byProject = new Map<string, string[]>();
  for (const grant of grants) byProject.set(grant.project, [...(byProject.get(grant.project) ?? []), grant.action]);
  return {
    name: row.name,
    level: row.level,
    description: row.description,
    projects: [...byProject].map(([project, permissions]) => ({ project, permissions })),
    expiresAt: isoOrNull(row.expiresAt),
    expired: row.expiresAt !== null && row.expiresAt <= now,
    disabled: row.disabled,
    createdBy: row.createdBy,
    createdAt: fromSeconds(row.createdAt),
  };
}

export function projectRobotView(row: RobotRow, grants: RobotGrant[], project: string): ProjectRobotView {
  const view = robotView(row, grants);
  return { ...view, permissions: view.projects.find((entry) => entry.project === project)?.permissions ?? [] };
}

/** A page from `limit + 1` rows: the extra row only says that another page follows. */
export function pageOf<Row, T>(rows: Row[], limit: number, view: (row: Row) => T, cursor: (row: Row) => string): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items: items.map(view), next: rows.length > limit && last !== undefined ? cursor(last) : null };
}

/** A nullable time column in milliseconds, as the API shows it: null stays null ("not yet", "never"). */
export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** The schema's created_at columns hold seconds (unixepoch()). */
function fromSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}
