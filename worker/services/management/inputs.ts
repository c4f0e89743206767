// What the management API's bodies and queries may hold, parsed into typed inputs before any
// service runs. Every refusal is 400 INVALID_REQUEST with a message naming the field, so a
// portal or a script can show it as it is. Pure: no I/O.
import { PROJECT_ROLES, type ProjectRole, ROBOT_PERMISSIONS, type RobotPermission, isRobotPermission } from "../../auth/permissions";
import { MIN_ADMIN_PASSWORD_LENGTH } from "../../config";
import { RegistryError } from "../../errors";
import { tryParseRepoName } from "../../oci/names";

export type Body = Record<string, unknown>;

// Usernames are login names: they must survive Basic credentials (no ":"), never look like a
// robot's (robots own "$" and "+"), and read the same whatever case a client types, so lowercase.
const USERNAME = /^[a-z0-9](?:[a-z0-9._@-]{0,62}[a-z0-9])?$/;
// A robot's own name becomes part of `robot$<project>+<name>`: one repository-name component,
// which holds neither "$" nor "+", so the login name splits back unambiguously.
const ROBOT_NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const MAX_ROBOT_NAME = 64;
/** The same floor as ADMIN_PASSWORD: every account is reachable from the whole internet. */
export const MIN_PASSWORD_LENGTH = MIN_ADMIN_PASSWORD_LENGTH;
/** PBKDF2 hashes any length, but a bound keeps a request from buying seconds of CPU. */
const MAX_PASSWORD_LENGTH = 1024;
/** A hundred years: "never" is -1; anything longer is a mistake, and would overflow a date. */
const MAX_EXPIRY_DAYS = 36_500;
const MAX_DESCRIPTION = 1024;
/** Bounds what one request writes to D1 (one statement per project permission). */
const MAX_ROBOT_PROJECTS = 50;

export function invalid(message: string): RegistryError {
  return new RegistryError("INVALID_REQUEST", message);
}

/** A JSON object (the request body, or an object inside it), or 400. */
export function parseObject(value: unknown, what = "the body"): Body {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid(`${what} must be a JSON object`);
  return value as Body;
}

export function parseUsername(value: unknown, field = "username"): string {
  if (typeof value !== "string" || !USERNAME.test(value)) {
    throw invalid(`"${field}" must be 1 to 64 lowercase letters, digits and . _ @ -, starting and ending with a letter or digit`);
  }
  return value;
}

/** A project name is one repository-name segment: it becomes the first segment of every name in it. */
export function parseProjectName(value: unknown, field = "name"): string {
  if (typeof value !== "string" || value.includes("/") || tryParseRepoName(value) === null) {
    throw invalid(`"${field}" must be one repository-name segment: lowercase letters and digits, joined by . _ __ or -`);
  }
  return value;
}

export function parseRobotName(value: unknown): string {
  if (typeof value !== "string" || value.length > MAX_ROBOT_NAME || !ROBOT_NAME.test(value)) {
    throw invalid(`"name" must be at most ${MAX_ROBOT_NAME} lowercase letters and digits, joined by . _ __ or -`);
  }
  return value;
}

export function parseRole(value: unknown): ProjectRole {
  if (typeof value !== "string" || !(PROJECT_ROLES as readonly string[]).includes(value)) {
    throw invalid(`"role" must be one of ${PROJECT_ROLES.join(", ")}`);
  }
  return value as ProjectRole;
}

export function parseFlag(body: Body, field: string): boolean {
  const value = body[field];
  if (typeof value !== "boolean") throw invalid(`"${field}" must be true or false`);
  return value;
}

export function optionalFlag(body: Body, field: string, fallback: boolean): boolean {
  return body[field] === undefined ? fallback : parseFlag(body, field);
}

export interface NewUser {
  username: string;
  password: string;
}

export function parseNewUser(body: Body): NewUser {
  const password = parsePassword(body.password);
  return { username: parseUsername(body.username), password };
}

/** What PATCH /users/{username} changes: at least one of the two. */
export interface UserUpdate {
  disabled?: boolean;
  password?: string;
}

export function parseUserUpdate(body: Body): UserUpdate {
  if (body.disabled === undefined && body.password === undefined) throw invalid('the body must set "disabled", "password" or both');
  return {
    ...(body.disabled !== undefined && { disabled: parseFlag(body, "disabled") }),
    ...(body.password !== undefined && { password: parsePassword(body.password) }),
  };
}

function parsePassword(password: unknown): string {
  if (typeof password !== "string" || password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw invalid(`"password" must be a string of ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`);
  }
  return password;
}

export interface NewProject {
  name: string;
  public: boolean;
}

export function parseNewProject(body: Body): NewProject {
  // Proxy projects mirror PIER_UPSTREAMS; Pier makes them from the configuration, never on request.
  if (body.kind !== undefined && body.kind !== "local") throw invalid('"kind" may only be "local": proxy projects come from PIER_UPSTREAMS');
  return { name: parseProjectName(body.name), public: optionalFlag(body, "public", false) };
}

/** What PATCH /projects/{project} changes: at least one of the two. */
export interface ProjectUpdate {
  public?: boolean;
  /** Bytes, or -1 for no limit. */
  storageLimitBytes?: number;
}

export function parseProjectUpdate(body: Body): ProjectUpdate {
  const { storageLimitBytes } = body;
  if (body.public === undefined && storageLimitBytes === undefined) throw invalid('the body must set "public", "storageLimitBytes" or both');
  if (storageLimitBytes !== undefined && (typeof storageLimitBytes !== "number" || !Number.isSafeInteger(storageLimitBytes) || storageLimitBytes < -1)) {
    throw invalid('"storageLimitBytes" must be a whole number of bytes from 0, or -1 for no limit');
  }
  return { ...(body.public !== undefined && { public: parseFlag(body, "public") }), ...(storageLimitBytes !== undefined && { storageLimitBytes }) };
}

export interface Membership {
  username: string;
  role: ProjectRole;
}

export function parseMembership(body: Body): Membership {
  return { username: parseUsername(body.username), role: parseRole(body.role) };
}

export interface NewRobot {
  name: string;
  description: string | null;
  /** ms since the epoch, or null for never. */
  expiresAt: number | null;
}

export interface NewProjectRobot extends NewRobot {
  permissions: RobotPermission[];
}

export interface NewSystemRobot extends NewRobot {
  projects: { project: string; permissions: RobotPermission[] }[];
}

export function parseNewProjectRobot(body: Body, now: number): NewProjectRobot {
  return { ...parseRobotBasics(body, now), permissions: parsePermissions(body.permissions, "permissions") };
}

export function parseNewSystemRobot(body: Body, now: number): NewSystemRobot {
  const { projects } = body;
  if (!Array.isArray(projects) || projects.length === 0 || projects.length > MAX_ROBOT_PROJECTS) {
    throw invalid(`"projects" must be a list of 1 to ${MAX_ROBOT_PROJECTS} {"project", "permissions"} entries`);
  }
  const seen = new Set<string>();
  const parsed = projects.map((entry: unknown, index) => {
    const item = parseObject(entry, `projects[${index}]`);
    const project = parseProjectName(item.project, `projects[${index}].project`);
    if (seen.has(project)) throw invalid(`"projects" names "${project}" twice`);
    seen.add(project);
    return { project, permissions: parsePermissions(item.permissions, `projects[${index}].permissions`) };
  });
  return { ...parseRobotBasics(body, now), projects: parsed };
}

function parseRobotBasics(body: Body, now: number): NewRobot {
  const { description } = body;
  if (description !== undefined && (typeof description !== "string" || description.length > MAX_DESCRIPTION)) {
    throw invalid(`"description" must be a string of at most ${MAX_DESCRIPTION} characters`);
  }
  return { name: parseRobotName(body.name), description: description ?? null, expiresAt: parseExpiry(body.expiresInDays, now) };
}

/** `expiresInDays`: a positive whole number of days from now; -1 or absent for never. */
export function parseExpiry(value: unknown, now: number): number | null {
  if (value === undefined || value === null || value === -1) return null;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_EXPIRY_DAYS) {
    throw invalid(`"expiresInDays" must be a whole number of days from 1 to ${MAX_EXPIRY_DAYS}, or -1 for never`);
  }
  return now + value * 86_400_000;
}

function parsePermissions(value: unknown, field: string): RobotPermission[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((item) => typeof item === "string" && isRobotPermission(item))) {
    // A robot without permissions could do nothing; one with an unknown permission would be a typo.
    throw invalid(`"${field}" must be a non-empty list of: ${ROBOT_PERMISSIONS.join(", ")}`);
  }
  return [...new Set(value as RobotPermission[])];
}

/** A page size: default `fallback`, at most `max`. */
export function parsePageSize(value: string | undefined, fallback: number, max: number): number {
  if (value === undefined || value === "") return fallback;
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) throw invalid(`"n" must be a whole number from 1, got "${value.slice(0, 20)}"`);
  return Math.min(Number(value), max);
}

/** An id cursor (`next` of a previous page). */
/** The audit log's `next`: `<at>.<id>` of the last record on the previous page. */
export function parseCursor(value: string | undefined): { at: number; id: number } | undefined {
  if (value === undefined || value === "") return undefined;
  const match = /^(\d{1,15})\.(\d{1,15})$/.exec(value);
  if (match === null) throw invalid(`"next" must be the "next" value of a previous page, got "${value.slice(0, 20)}"`);
  return { at: Number(match[1]), id: Number(match[2]) };
}
