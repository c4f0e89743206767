// The D1 schema, the single source of truth for metadata (migrations/ is generated from it by
// `npm run db:generate`). Tables are keyed by repository name rather than a surrogate id: names
// never change, and the hot read (manifest by tag) then needs no extra join.
//
//   blobs                 where the bytes of each digest live, once for the whole registry
//   repository_blobs      which repository may serve which blob (no cross-repository oracle)
//   manifests             manifests a repository holds, with what the referrers API needs
//   tags                  tag → manifest digest, per repository
//   repositories          names for the catalog, recorded on first push
//   manifest_references   what each manifest points at (config, layers, children), for GC
//   gc_runs, gc_candidates, schedules, retention_*   storage lifecycle: lifecycle-schema.ts,
//                         re-exported below, so this module stays the one schema drizzle reads
//   remote_registries, replication_*, event_outbox, webhooks, webhook_deliveries
//                         replication, events and webhooks: replication-schema.ts, re-exported too
//   cache_*, cached_*, prefetch_jobs   pull-through cache state
//   users, projects, project_members, robots, robot_permissions, audit_logs   identity and access
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

const createdAt = () => integer("created_at").notNull().default(sql`(unixepoch())`);

export const repositories = sqliteTable("repositories", {
  name: text("name").primaryKey(),
  createdAt: createdAt(),
});

export const blobs = sqliteTable(
  "blobs",
  {
  digest: text("digest").primaryKey(),
  size: integer("size").notNull(),
  // Exactly one of the two is set: an R2 key (worker/storage/keys.ts), or, for small manifests,
  // the manifest itself, so that a manifest GET is one D1 query and no R2 round trip. Manifests
  // are valid UTF-8 JSON (checked on push), so TEXT holds their exact bytes; D1 would hand a
  // BLOB back as an array of numbers.
  objectKey: text("object_key"),
  content: text("content"),
  createdAt: createdAt(),
  /**
   * `deleting` is the garbage collector's tombstone (durable-objects/registry-lock.ts): set, in
   * one conditional statement, only on a blob no repository links and no manifest row names;
   * from then on no writer links it (every link insert requires `live`), and a writer that
   * needs the digest stores the bytes again under a key of its own and revives the row.
   */
  state: text("state", { enum: ["live", "deleting"] }).notNull().default("live"),
  /** When a writer last relied on the row (recorded, or found while pushing the same bytes), ms. */
  touchedAt: integer("touched_at").notNull().default(0),
}, (table) => [index("blobs_object_key").on(table.objectKey), index("blobs_state").on(table.state)]);

export const repositoryBlobs = sqliteTable(
  "repository_blobs",
  {
    repository: text("repository").notNull(),
    digest: text("digest").notNull(),
    createdAt: createdAt(),
    /** When the link was last written (a push, a mount, a fill), ms: the GC grace window counts from it. */
    linkedAt: integer("linked_at").notNull().default(0),
  },
  (table) => [primaryKey({ columns: [table.repository, table.digest] }), index("repository_blobs_digest").on(table.digest)],
);

export const manifests = sqliteTable(
  "manifests",
  {
    repository: text("repository").notNull(),
    digest: text("digest").notNull(),
    mediaType: text("media_type").notNull(),
    size: integer("size").notNull(),
    // The referrers API lists manifests by subject, filtered by artifact type. Annotations are
    // read from the manifest itself: they can be megabytes, and a D1 row holds at most 2 MB.
    subject: text("subject"),
    artifactType: text("artifact_type"),
    createdAt: createdAt(),
    /** When the manifest was last pushed to this repository, ms (retention's "latest pushed"). */
    pushedAt: integer("pushed_at").notNull().default(0),
    /** Pull statistics, written off the response path (worker/storage/pull-records.ts). */
    lastPulledAt: integer("last_pulled_at"),
    pullCount: integer("pull_count").notNull().default(0),
    /**
     * Whether manifest_references holds this manifest's references. Rows written before
     * references were recorded say false until the backfill (worker/lifecycle) has read them;
     * garbage collection does not mark while any row says false.
     */
    referencesRecorded: integer("references_recorded", { mode: "boolean" }).notNull().default(false),
  },
  (table) => [
    primaryKey({ columns: [table.repository, table.digest] }),
    index("manifests_subject").on(table.repository, table.subject, table.digest),
    index("manifests_digest").on(table.digest),
  ],
);

export const tags = sqliteTable(
  "tags",
  {
    repository: text("repository").notNull(),
    name: text("name").notNull(),
    digest: text("digest").notNull(),
    updatedAt: integer("updated_at").notNull().default(sql`(unixepoch())`),
  },
  (table) => [primaryKey({ columns: [table.repository, table.name] }), index("tags_digest").on(table.repository, table.digest)],
);

/**
 * What a manifest points at in its repository: `blob` (config, layers) or `manifest` (an
 * index's children). Written in the same batch as the manifest row, deleted with it
 * (worker/storage/content.ts), so that "does any manifest of this repository still need
 * this digest?" is one indexed lookup for the garbage collector. The subject is the
 * manifest's own `subject` column.
 */
export const manifestReferences = sqliteTable(
  "manifest_references",
  {
    repository: text("repository").notNull(),
    manifest: text("manifest").notNull(),
    target: text("target").notNull(),
    kind: text("kind", { enum: ["blob", "manifest"] }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.repository, table.manifest, table.target] }), index("manifest_references_target").on(table.repository, table.target)],
);

// --- Pull-through cache (worker/proxy) --------------------------------------------------------
// Cached manifests and blobs live in the tables above, under the cache name
// `<upstream>/<upstream repository>` (also the prefixed path clients may use). These tables
// hold what only a cache needs: how fresh a tag is, what upstream said was missing, who pulls
// what, and the counters behind GET /api/v1/cache/stats.

/**
 * What upstream last said a reference (tag, or a digest it did not have) resolves to, and when
 * it said so (ms). `digest` null is a negative answer (upstream 404), kept briefly.
 */
export const cacheReferences = sqliteTable(
  "cache_references",
  {
    repository: text("repository").notNull(),
    reference: text("reference").notNull(),
    digest: text("digest"),
    checkedAt: integer("checked_at").notNull(),
  },
  (table) => [primaryKey({ columns: [table.repository, table.reference] })],
);

/** One row per cached artifact: retention by last pull and the portal read this. */
export const cachedArtifacts = sqliteTable(
  "cached_artifacts",
  {
    upstream: text("upstream").notNull(),
    repository: text("repository").notNull(),
    digest: text("digest").notNull(),
    kind: text("kind", { enum: ["manifest", "blob"] }).notNull(),
    size: integer("size").notNull(),
    pullCount: integer("pull_count").notNull().default(0),
    lastPulledAt: integer("last_pulled_at").notNull(),
    cachedAt: integer("cached_at").notNull(),
  },
  (table) => [primaryKey({ columns: [table.upstream, table.repository, table.digest] }), index("cached_artifacts_last_pulled").on(table.lastPulledAt)],
);

/** Running totals per upstream; each request adds to them (batched, see worker/proxy/cache-stats.ts). */
export const cacheCounters = sqliteTable("cache_counters", {
  upstream: text("upstream").primaryKey(),
  /** Requests answered from the cache (fresh or revalidated). */
  hits: integer("hits").notNull().default(0),
  /** Requests that had to fetch from upstream. */
  misses: integer("misses").notNull().default(0),
  /** Requests answered from the cache because upstream failed. */
  staleServes: integer("stale_serves").notNull().default(0),
  upstreamErrors: integer("upstream_errors").notNull().default(0),
  bytesServed: integer("bytes_served").notNull().default(0),
  bytesFetched: integer("bytes_fetched").notNull().default(0),
  updatedAt: integer("updated_at").notNull().default(0),
  /** What cache eviction removed (worker/lifecycle/cache-eviction.ts): bytes and artifacts. */
  bytesEvicted: integer("bytes_evicted").notNull().default(0),
  artifactsEvicted: integer("artifacts_evicted").notNull().default(0),
});

/** Cache pre-warming requests (POST /api/v1/cache/prefetch), run by the JOBS queue consumer. */
export const prefetchJobs = sqliteTable("prefetch_jobs", {
  id: text("id").primaryKey(),
  upstream: text("upstream").notNull(),
  repository: text("repository").notNull(),
  reference: text("reference").notNull(),
  platform: text("platform"),
  status: text("status", { enum: ["queued", "running", "done", "failed"] }).notNull(),
  manifestsDone: integer("manifests_done").notNull().default(0),
  blobsTotal: integer("blobs_total").notNull().default(0),
  blobsDone: integer("blobs_done").notNull().default(0),
  bytesFetched: integer("bytes_fetched").notNull().default(0),
  error: text("error"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

// --- Identity and access (worker/auth) ----------------------------------------------------------
// Principals are users and robot accounts, named by their login names (which never change, so
// they key the tables directly). Secrets are stored only as PBKDF2 hashes (worker/auth/passwords.ts).
//
// Revocation (worker/auth/account-state.ts): every account has a random `id`, drawn when it is
// created, and two counters that tokens carry and must still match. A deleted account that is
// created again under the same name gets a new id, so it inherits no token. `credential_epoch`
// moves when the secret changes or the account is disabled: every token and refresh token
// issued before stops working. `access_epoch` moves when what the account may do shrinks
// (a membership removed, a role lowered, a project deleted): access tokens, which carry the
// access decided when they were issued, stop working; refresh tokens, which carry none, go on.
const accountColumns = () => ({
  id: text("id")
    .notNull()
    .unique()
    .$defaultFn(() => crypto.randomUUID()),
  credentialEpoch: integer("credential_epoch").notNull().default(0),
  accessEpoch: integer("access_epoch").notNull().default(0),
});

export const users = sqliteTable("users", {
  username: text("username").primaryKey(),
  ...accountColumns(),
  passwordHash: text("password_hash").notNull(),
  /** System administrators may do everything, in every project. */
  isAdmin: integer("is_admin", { mode: "boolean" }).notNull().default(false),
  disabled: integer("disabled", { mode: "boolean" }).notNull().default(false),
  createdAt: createdAt(),
});

/**
 * A project is the first segment of a repository name. `local` projects hold pushed content;
 * `proxy` projects are the upstreams of the pull-through cache (read-only), named after them.
 */
export const projects = sqliteTable("projects", {
  name: text("name").primaryKey(),
  kind: text("kind", { enum: ["local", "proxy"] }).notNull(),
  public: integer("public", { mode: "boolean" }).notNull().default(false),
  /**
   * When the project last stopped being public (ms since the epoch), or null. A token issued
   * before then was decided while the project was public: its pulls are decided again.
   */
  restrictedAt: integer("restricted_at"),
  /**
   * Storage quota in bytes; -1 is unlimited. Usage is not stored: it is computed from the
   * project's links and manifests (each digest once), so it is exact under any concurrency
   * (worker/storage/db/queries/quotas.ts).
   */
  storageLimitBytes: integer("storage_limit_bytes").notNull().default(-1),
  /** Tag immutability rules, JSON: [{"repositories": "**", "tags": "v*"}] (worker/lifecycle/immutability.ts). */
  immutableTagRules: text("immutable_tag_rules").notNull().default("[]"),
  createdBy: text("created_by"),
  createdAt: createdAt(),
});

/** A user's role in a project (worker/auth/permissions.ts says what each role may do). */
export const projectMembers = sqliteTable(
  "project_members",
  {
    project: text("project").notNull(),
    username: text("username").notNull(),
    role: text("role", { enum: ["projectAdmin", "maintainer", "developer", "guest", "limitedGuest"] }).notNull(),
    createdAt: createdAt(),
  },
  (table) => [primaryKey({ columns: [table.project, table.username] }), index("project_members_user").on(table.username)],
);

/** Robot accounts: a login name, a hashed secret, an expiry; system robots span projects. */
export const robots = sqliteTable("robots", {
  name: text("name").primaryKey(),
  ...accountColumns(),
  level: text("level", { enum: ["system", "project"] }).notNull(),
  secretHash: text("secret_hash").notNull(),
  description: text("description"),
  /** ms since the epoch; null: never expires. */
  expiresAt: integer("expires_at"),
  disabled: integer("disabled", { mode: "boolean" }).notNull().default(false),
  createdBy: text("created_by"),
  createdAt: createdAt(),
});

/** What a robot may do, per project: explicit, never more (pull, push, delete…). */
export const robotPermissions = sqliteTable(
  "robot_permissions",
  {
    robot: text("robot").notNull(),
    project: text("project").notNull(),
    action: text("action").notNull(),
  },
  (table) => [primaryKey({ columns: [table.robot, table.project, table.action] }), index("robot_permissions_project").on(table.project)],
);

/** Who did what, to which resource, when, from where, and with which result. */
export const auditLogs = sqliteTable(
  "audit_logs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** ms since the epoch. */
    at: integer("at").notNull(),
    principal: text("principal").notNull(),
    action: text("action").notNull(),
    resource: text("resource").notNull(),
    /** The project the resource belongs to, for project admins' views; null for system-wide actions. */
    project: text("project"),
    result: text("result", { enum: ["success", "failure", "denied"] }).notNull(),
    ip: text("ip"),
    /** How many times it happened: failed sign-ins are one record per name, address and minute. */
    count: integer("count").notNull().default(1),
    /** Set on aggregated records (failed sign-ins): the key further ones of the same minute add to. */
    aggregateKey: text("aggregate_key").unique(),
  },
  // Listed newest first by (at, id): pulls and pushes are written a second after they happen
  // (worker/storage/deferred-writes.ts), so ids alone are not in time order. An index holds the
  // rowid after its columns, so both indexes serve that order without a sort.
  (table) => [index("audit_logs_at").on(table.at), index("audit_logs_project_at").on(table.project, table.at)],
);

export * from "./lifecycle-schema";
export * from "./replication-schema";
