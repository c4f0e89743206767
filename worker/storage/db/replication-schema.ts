// Replication, events and webhooks (worker/replication, worker/events, worker/webhooks), part of
// the D1 schema: schema.ts re-exports them, and drizzle-kit reads them from there.
// Times are ms since the epoch. Credentials and webhook secrets are sealed (worker/auth/sealed.ts):
// the column holds AES-GCM ciphertext under PIER_CREDENTIALS_KEY, never the secret itself.
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Another registry Pier replicates from or to (POST /api/v1/registries). */
export const remoteRegistries = sqliteTable("remote_registries", {
  name: text("name").primaryKey(),
  /** Origin only: https://registry-1.docker.io */
  url: text("url").notNull(),
  type: text("type", { enum: ["dockerhub", "oci", "pier"] }).notNull(),
  /** Sealed JSON {"username", "password"}; null for anonymous access. */
  credentials: text("credentials"),
  createdAt: integer("created_at").notNull(),
  /** Also names the credentials' generation: tokens cached for an older one are not reused. */
  updatedAt: integer("updated_at").notNull(),
});

/** What to copy, from where to where, and when (POST /api/v1/replication/policies). */
export const replicationPolicies = sqliteTable("replication_policies", {
  name: text("name").primaryKey(),
  /** A remote registry's name, or null for this Pier; exactly one of source/destination is null. */
  source: text("source"),
  destination: text("destination"),
  destinationNamespace: text("destination_namespace"),
  /** Repository pattern ("library/nginx", "team/**"), tag pattern ("1.*"), artifact types (JSON array). */
  repositoryFilter: text("repository_filter"),
  tagFilter: text("tag_filter"),
  artifactTypes: text("artifact_types"),
  trigger: text("trigger", { enum: ["manual", "scheduled", "event"] }).notNull(),
  /** For scheduled policies: the schedule, also in `schedules` as "replication:<name>". */
  cron: text("cron"),
  override: integer("override", { mode: "boolean" }).notNull().default(true),
  replicateDeletion: integer("replicate_deletion", { mode: "boolean" }).notNull().default(false),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  /** Copies of one execution in flight at once, and its bandwidth bound (null: none). */
  concurrency: integer("concurrency").notNull().default(4),
  bandwidthMbps: integer("bandwidth_mbps"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** One run of a policy: its tasks say what it copies and how each went. */
export const replicationExecutions = sqliteTable(
  "replication_executions",
  {
    id: text("id").primaryKey(),
    policy: text("policy").notNull(),
    trigger: text("trigger", { enum: ["manual", "scheduled", "event"] }).notNull(),
    status: text("status", { enum: ["running", "succeeded", "failed", "stopped"] }).notNull(),
    /** True once every task is recorded (listing finished); until then it cannot finish. */
    listed: integer("listed", { mode: "boolean" }).notNull().default(false),
    /** The event that started it (event triggers): one execution per event and policy. */
    eventId: text("event_id"),
    /** Why it failed as a whole (listing the source failed), apart from its tasks. */
    error: text("error"),
    /** A remote answered 429: no task of this execution starts before this time. */
    throttledUntil: integer("throttled_until"),
    startedAt: integer("started_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (table) => [index("replication_executions_policy").on(table.policy, table.startedAt), uniqueIndex("replication_executions_event").on(table.policy, table.eventId)],
);

/** One artifact to copy (or delete) in an execution. */
export const replicationTasks = sqliteTable(
  "replication_tasks",
  {
    id: text("id").primaryKey(),
    execution: text("execution").notNull(),
    operation: text("operation", { enum: ["copy", "delete"] }).notNull(),
    sourceRepository: text("source_repository").notNull(),
    destinationRepository: text("destination_repository").notNull(),
    /** A tag, or a digest for untagged artifacts and deletions by digest. */
    reference: text("reference").notNull(),
    /** The digest the reference resolved to at the source, once known. */
    digest: text("digest"),
    /** pending: not on the queue yet; queued: a message is on its way; running: a consumer has it. */
    status: text("status", { enum: ["pending", "queued", "running", "succeeded", "failed", "stopped"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    bytesCopied: integer("bytes_copied").notNull().default(0),
    blobsCopied: integer("blobs_copied").notNull().default(0),
    blobsSkipped: integer("blobs_skipped").notNull().default(0),
    /** Why it failed (or why the last attempt did), or what a succeeded task left alone. */
    error: text("error"),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
  },
  (table) => [
    uniqueIndex("replication_tasks_artifact").on(table.execution, table.operation, table.sourceRepository, table.reference),
    index("replication_tasks_status").on(table.execution, table.status),
  ],
);

/**
 * The outbox: what happened to content (a push, a delete, a quota refusal, …), written in the
 * same batch as the change where there is one, then delivered through the JOBS queue
 * (worker/events). A row is deleted once handled; one left behind is sent again by the sweep.
 */
export const eventOutbox = sqliteTable(
  "event_outbox",
  {
    id: text("id").primaryKey(),
    /** PUSH_ARTIFACT, PULL_ARTIFACT, DELETE_ARTIFACT, QUOTA_EXCEED, REPLICATION, TAG_RETENTION. */
    type: text("type").notNull(),
    project: text("project").notNull(),
    /** The event's facts as JSON (worker/events/events.ts). */
    data: text("data").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (table) => [index("event_outbox_created").on(table.createdAt)],
);

/** A project's webhook (POST /api/v1/projects/{p}/webhooks). */
export const webhooks = sqliteTable(
  "webhooks",
  {
    project: text("project").notNull(),
    name: text("name").notNull(),
    url: text("url").notNull(),
    /** JSON array of event types. */
    events: text("events").notNull(),
    format: text("format", { enum: ["harbor", "cloudevents"] }).notNull(),
    /** Sealed HMAC secret; null: deliveries are not signed. */
    secret: text("secret"),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (table) => [primaryKey({ columns: [table.project, table.name] })],
);

/** One event sent (or being sent) to one webhook: the delivery log. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    project: text("project").notNull(),
    webhook: text("webhook").notNull(),
    /** The outbox event it delivers ("test-…" for a test delivery): one delivery per event and webhook. */
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    /** The exact body sent (and signed). */
    payload: text("payload").notNull(),
    status: text("status", { enum: ["pending", "delivered", "failed"] }).notNull(),
    statusCode: integer("status_code"),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (table) => [uniqueIndex("webhook_deliveries_event").on(table.project, table.webhook, table.eventId), index("webhook_deliveries_log").on(table.project, table.webhook, table.createdAt)],
);
