// The permission table: who may do what in a project. It is data (PERMISSION_TABLE), read by
// isAllowed and rendered into the README by renderPermissionTable, so the documented table and
// the enforced one cannot drift apart (test/auth/permissions.test.ts compares them).
//
// The roles keep Harbor's meanings (goharbor.io, "User Permissions By Role", and the role
// policies in Harbor's src/common/rbac/project/rbac_role.go); each row says where Pier follows
// Harbor and where it is stricter. Where Harbor's documentation and its code disagree, the
// stricter of the two wins.
//
// Three rules sit outside the cells, because they hold whoever asks:
// - a private project is invisible to those without a role in it (no cell grants them anything
//   unless the project is public);
// - a public project lets everybody pull and list its repositories, nothing more;
// - a proxy project (an upstream of the pull-through cache) is read-only: actions that change
//   content are refused there even to system administrators, because its content mirrors an
//   upstream that Pier does not own.
//
// Pure: no I/O. The caller resolves the principal's grant and the project's facts first.

/** A user's role in one project; the strings are fixed by the management API. */
export type ProjectRole = "projectAdmin" | "maintainer" | "developer" | "guest" | "limitedGuest";
export const PROJECT_ROLES: readonly ProjectRole[] = ["projectAdmin", "maintainer", "developer", "guest", "limitedGuest"];

/** What may be done inside one project. */
export type Action =
  | "pull"
  | "push"
  | "delete"
  | "listRepositories"
  | "listMembers"
  | "manageMembers"
  | "listRobots"
  | "manageRobots"
  | "readLogs"
  | "manageProject";

/** What concerns the registry as a whole rather than one project. */
export type SystemAction = "createProject" | "manageUsers";

/** What a robot's permission list may name: repository content only, never management. */
export type RobotPermission = "pull" | "push" | "delete" | "listRepositories";
export const ROBOT_PERMISSIONS: readonly RobotPermission[] = ["pull", "push", "delete", "listRepositories"];

export interface ProjectFacts {
  kind: "local" | "proxy";
  public: boolean;
}

/** Registry-wide switches that system actions depend on. */
export interface SystemSettings {
  /** Issue 4: projects are created by admins, "and a setting to let any user create their own". */
  usersMayCreateProjects: boolean;
}

/**
 * What one principal holds, as far as one project is concerned: a system administrator; a
 * signed-in user with their role in this project (null: no role here); nobody signed in; or a
 * robot with its permission list for this project (empty when it has none here).
 */
export type Grant =
  | { kind: "systemAdmin" }
  | { kind: "member"; role: ProjectRole | null }
  | { kind: "anonymous" }
  | { kind: "robot"; permissions: readonly RobotPermission[] };

/** The table's columns: one per kind of grant, a member's role standing for the member. */
export type Column = "systemAdmin" | ProjectRole | "robot" | "noRole" | "anonymous";
export const COLUMNS: readonly Column[] = [
  "systemAdmin",
  "projectAdmin",
  "maintainer",
  "developer",
  "guest",
  "limitedGuest",
  "robot",
  "noRole",
  "anonymous",
];

/**
 * When a cell allows its action; a cell holds a list of these, any one of which suffices, and
 * the empty list denies.
 * - `always`: whatever the project.
 * - `public`: only in a public project.
 * - `granted`: only if the robot's permission list names the action.
 * - `enabled`: only if SystemSettings.usersMayCreateProjects is on.
 */
export type Condition = "always" | "public" | "granted" | "enabled";
export type Cell = readonly Condition[];

export interface PermissionRow {
  /** One line for the README: what the action covers. */
  covers: string;
  /** Changes repository content: refused in proxy projects, whoever asks. */
  changesContent: boolean;
  cells: Readonly<Record<Column, Cell>>;
}

const Y: Cell = ["always"];
const N: Cell = [];
const PUBLIC: Cell = ["public"];
// A robot holds exactly its list: unlike Harbor, push does not bring pull along (docker needs
// both to push, so whoever creates a pushing robot grants both, as the API's example does).
const GRANTED: Cell = ["granted"];
// A robot is a principal like any other, so it gets what a public project gives everybody:
// Harbor adds the public-project policies to robots too, and refusing it would only stop a CI
// robot from building FROM a public base image in the same registry, while the same pull
// works without credentials. Never anything beyond its list on a private project.
const GRANTED_OR_PUBLIC: Cell = ["granted", "public"];
const ENABLED: Cell = ["enabled"];

function row(covers: string, changesContent: boolean, cells: [Cell, Cell, Cell, Cell, Cell, Cell, Cell, Cell, Cell]): PermissionRow {
  const [systemAdmin, projectAdmin, maintainer, developer, guest, limitedGuest, robot, noRole, anonymous] = cells;
  return { covers, changesContent, cells: { systemAdmin, projectAdmin, maintainer, developer, guest, limitedGuest, robot, noRole, anonymous } };
}

// The cells line up with COLUMNS, so each row reads across like the README's table.
export const PERMISSION_TABLE: Readonly<Record<Action | SystemAction, PermissionRow>> = {
  //                                                                                 sysAdm  projAdm maint dev guest limGst robot              noRole  anon
  // Harbor: every role pulls; on a public project everybody does.
  pull: row("pull manifests and blobs, list tags", false,                          [Y,      Y,      Y,    Y,  Y,    Y,     GRANTED_OR_PUBLIC, PUBLIC, PUBLIC]),
  // Harbor's table and code both let a limited guest see the list of repositories; what it
  // may not see is members and logs. Tags are listed with pull anyway (the token protocol
  // asks `repository:<name>:pull` for them), so hiding the catalog would hide little.
  listRepositories: row("see the project's repositories in the catalog", false,     [Y,      Y,      Y,    Y,  Y,    Y,     GRANTED_OR_PUBLIC, PUBLIC, PUBLIC]),
  // Harbor: developers read and write; guests only read.
  push: row("push manifests, tags and blobs (creates repositories)", true,         [Y,      Y,      Y,    Y,  N,    N,     GRANTED,           N,      N]),
  // Harbor: deleting images and repositories starts at maintainer; developers create, never delete.
  delete: row("delete manifests, tags and blobs", true,                            [Y,      Y,      Y,    N,  N,    N,     GRANTED,           N,      N]),
  // Harbor: guests and up see the member list; hiding members is what makes a guest "limited".
  listMembers: row("see the project's members and their roles", false,             [Y,      Y,      Y,    Y,  Y,    N,     N,                 N,      N]),
  // Harbor: only the project admin adds, changes or removes members; a maintainer cannot.
  manageMembers: row("add, change and remove members", false,                      [Y,      Y,      N,    N,  N,    N,     N,                 N,      N]),
  // Harbor documents the robot list from maintainer up (its code also shows it to guests and
  // developers); the documented, stricter answer wins, since robot names are login names.
  listRobots: row("see the project's robot accounts", false,                       [Y,      Y,      Y,    N,  N,    N,     N,                 N,      N]),
  // Harbor: only the project admin creates, changes or deletes project robots.
  manageRobots: row("create, disable, refresh and delete project robots", false,   [Y,      Y,      N,    N,  N,    N,     N,                 N,      N]),
  // Harbor lets guests and up list project logs; issue 4 limits audit logs to "admins and
  // project admins only", the stricter answer.
  readLogs: row("read the project's audit log", false,                             [Y,      Y,      N,    N,  N,    N,     N,                 N,      N]),
  // Harbor: only the project admin edits the project's configuration or deletes the project.
  manageProject: row("change settings (public/private), delete the project", false,[Y,      Y,      N,    N,  N,    N,     N,                 N,      N]),
  // A role belongs to one project, so it means nothing before the project exists: every
  // signed-in user is alike here. Robots never create projects (no management for robots).
  createProject: row("create a project (system-wide)", false,                      [Y,      ENABLED, ENABLED, ENABLED, ENABLED, ENABLED, N,    ENABLED, N]),
  // Harbor: only the system administrator manages user accounts.
  manageUsers: row("create, change and delete users (system-wide)", false,         [Y,      N,      N,    N,  N,    N,     N,                 N,      N]),
};

const SYSTEM_ACTIONS: ReadonlySet<string> = new Set<SystemAction>(["createProject", "manageUsers"]);
export const ACTIONS: readonly Action[] = (Object.keys(PERMISSION_TABLE) as (Action | SystemAction)[]).filter(
  (action): action is Action => !SYSTEM_ACTIONS.has(action),
);

/** The column a grant is read from. */
function columnOf(grant: Grant): Column {
  switch (grant.kind) {
    case "systemAdmin":
      return "systemAdmin";
    case "member":
      return grant.role ?? "noRole";
    case "anonymous":
      return "anonymous";
    case "robot":
      return "robot";
  }
}

/** Whether `grant` may perform `action` in a project with these facts. */
export function isAllowed(grant: Grant, action: Action, project: ProjectFacts): boolean {
  const { changesContent, cells } = PERMISSION_TABLE[action];
  if (changesContent && project.kind === "proxy") return false;
  const granted = grant.kind === "robot" && (grant.permissions as readonly string[]).includes(action);
  // `enabled` is a setting for system actions; no project action depends on one.
  return cellAllows(cells[columnOf(grant)], { public: project.public, granted, enabled: false });
}

/** Whether `grant` may perform a registry-wide action. A member's role is irrelevant here. */
export function isAllowedSystem(grant: Grant, action: SystemAction, settings: SystemSettings): boolean {
  // There is no project to be public and no robot permission for these.
  return cellAllows(PERMISSION_TABLE[action].cells[columnOf(grant)], { public: false, granted: false, enabled: settings.usersMayCreateProjects });
}

/** A cell allows when any of its conditions holds; `always` always does. */
function cellAllows(cell: Cell, holds: Readonly<Record<Exclude<Condition, "always">, boolean>>): boolean {
  return cell.some((condition) => condition === "always" || holds[condition]);
}

/**
 * The roles that may do something in a project that `role` may not: a member moved from one of
 * these to `role` loses access, so tokens issued under the old role must stop working
 * (worker/auth/account-state.ts). Read from the table, in a private local project, where roles
 * differ most.
 */
export function rolesLosingAccessTo(role: ProjectRole): ProjectRole[] {
  const facts: ProjectFacts = { kind: "local", public: false };
  const may = (grant: Grant, action: Action) => isAllowed(grant, action, facts);
  return PROJECT_ROLES.filter((other) => ACTIONS.some((action) => may({ kind: "member", role: other }, action) && !may({ kind: "member", role }, action)));
}

/** Validates one entry of a robot's permission list (as stored, or as sent to the API). */
export function isRobotPermission(text: string): text is RobotPermission {
  return (ROBOT_PERMISSIONS as readonly string[]).includes(text);
}

const COLUMN_TITLES: Readonly<Record<Column, string>> = {
  systemAdmin: "system admin",
  projectAdmin: "project admin",
  maintainer: "maintainer",
  developer: "developer",
  guest: "guest",
  limitedGuest: "limited guest",
  robot: "robot",
  noRole: "signed in, no role",
  anonymous: "anonymous",
};

const CONDITION_TEXT: Readonly<Record<Condition, string>> = {
  always: "✓",
  public: "public",
  granted: "granted",
  enabled: "if enabled",
};

/** The table as Markdown, exactly as README.md shows it (a test holds them equal). */
export function renderPermissionTable(): string {
  const header = `| action | ${COLUMNS.map((column) => COLUMN_TITLES[column]).join(" | ")} |`;
  const rule = `| --- | ${COLUMNS.map(() => "---").join(" | ")} |`;
  const rows = (Object.keys(PERMISSION_TABLE) as (Action | SystemAction)[]).map((action) => {
    const { covers, changesContent, cells } = PERMISSION_TABLE[action];
    const label = `\`${action}\`: ${covers}${changesContent ? " ¹" : ""}`;
    const texts = COLUMNS.map((column) => (cells[column].length === 0 ? "—" : cells[column].map((c) => CONDITION_TEXT[c]).join(" or ")));
    return `| ${label} | ${texts.join(" | ")} |`;
  });
  const legend = [
    "",
    "✓ allowed; — refused; public: only in a public project; granted: only if the robot's",
    "permission list names the action; if enabled: only when users may create projects. Without a",
    "role (or signed out), a private project is invisible.",
    "",
    "¹ Never in a proxy project (an upstream of the pull-through cache is read-only), not even for",
    "a system admin.",
  ];
  return [header, rule, ...rows, ...legend].join("\n");
}
