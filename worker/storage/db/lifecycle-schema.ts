// The storage lifecycle's tables (worker/lifecycle, durable-objects/registry-lock.ts), part of
// the D1 schema: schema.ts re-exports them, and drizzle-kit reads them from there.
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** One garbage collection, as GET /api/v1/system/gc shows it; the RegistryLock object runs it. */
export const gcRuns = sqliteTable(
  "gc_runs",
  {
    id: text("id").primaryKey(),
    status: text("status", { enum: ["running", "succeeded", "failed", "stopped"] }).notNull(),
    dryRun: integer("dry_run", { mode: "boolean" }).notNull(),
    deleteUntagged: integer("delete_untagged", { mode: "boolean" }).notNull(),
    /** What started it: "manual" (the API) or "schedule". */
    trigger: text("trigger").notNull(),
    /** The phase running now (or last run), for progress. */
    phase: text("phase").notNull(),
    steps: integer("steps").notNull().default(0),
    manifestsDeleted: integer("manifests_deleted").notNull().default(0),
    linksDeleted: integer("links_deleted").notNull().default(0),
    blobsDeleted: integer("blobs_deleted").notNull().default(0),
    bytesFreed: integer("bytes_freed").notNull().default(0),
    /** The most D1 and R2 calls one step made, and the longest step (ms): what the platform limits bound. */
    largestStepCalls: integer("largest_step_calls").notNull().default(0),
    largestStepMs: integer("largest_step_ms").notNull().default(0),
    error: text("error"),
    requestedBy: text("requested_by"),
    /** ms since the epoch. */
    startedAt: integer("started_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (table) => [index("gc_runs_started").on(table.startedAt)],
);

/**
 * What a dry run found would go (a real run deletes instead of writing here): later phases of
 * the same dry run count these as gone, so that the totals match what a real run would free.
 */
export const gcCandidates = sqliteTable(
  "gc_candidates",
  {
    run: text("run").notNull(),
    kind: text("kind", { enum: ["manifest", "link", "blob"] }).notNull(),
    repository: text("repository").notNull(),
    digest: text("digest").notNull(),
    size: integer("size").notNull(),
  },
  (table) => [primaryKey({ columns: [table.run, table.kind, table.repository, table.digest] }), index("gc_candidates_digest").on(table.run, table.kind, table.digest)],
);

/**
 * Recurring lifecycle work, started by the Cron Trigger (worker/lifecycle/scheduler.ts): one
 * row per job, e.g. `gc`, `audit-purge`, `cache-eviction`, `retention:<project>`.
 */
export const schedules = sqliteTable("schedules", {
  name: text("name").primaryKey(),
  /** "hourly", "daily", "weekly", or a five-field cron expression (UTC). */
  cron: text("cron").notNull(),
  /** The job's options as JSON (e.g. {"deleteUntagged": false} for gc). */
  options: text("options").notNull().default("{}"),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  /** ms since the epoch: when it is next due, when it last started, and how that went. */
  nextRunAt: integer("next_run_at").notNull(),
  lastRunAt: integer("last_run_at"),
  lastResult: text("last_result"),
});

/** A project's retention policy (worker/lifecycle/retention*.ts): rules as JSON, and how often it runs. */
export const retentionPolicies = sqliteTable("retention_policies", {
  project: text("project").primaryKey(),
  /** [{"template", "n", "repositories": {"include", "exclude"}, "tags": {"include", "exclude"}, "untagged"}] */
  rules: text("rules").notNull(),
  /** "hourly", "daily", "weekly", a cron expression, or null: only run when asked. */
  schedule: text("schedule"),
  updatedAt: integer("updated_at").notNull(),
});

/** One retention run of a project, real or dry. */
export const retentionRuns = sqliteTable(
  "retention_runs",
  {
    id: text("id").primaryKey(),
    project: text("project").notNull(),
    dryRun: integer("dry_run", { mode: "boolean" }).notNull(),
    trigger: text("trigger").notNull(),
    status: text("status", { enum: ["running", "succeeded", "failed"] }).notNull(),
    /** Artifacts examined, and removed (or, dry, that would be). */
    examined: integer("examined").notNull().default(0),
    removed: integer("removed").notNull().default(0),
    error: text("error"),
    startedAt: integer("started_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (table) => [index("retention_runs_project").on(table.project, table.startedAt)],
);

/** What a retention run removed (or would remove): one row per artifact, with the tags it had. */
export const retentionRunItems = sqliteTable(
  "retention_run_items",
  {
    run: text("run").notNull(),
    repository: text("repository").notNull(),
    digest: text("digest").notNull(),
    /** JSON array of the tags it carried. */
    tags: text("tags").notNull(),
    pushedAt: integer("pushed_at").notNull(),
    lastPulledAt: integer("last_pulled_at"),
  },
  (table) => [primaryKey({ columns: [table.run, table.repository, table.digest] })],
);

