// The D1 schema, the single source of truth for metadata (migrations/ is generated from it by
// `npm run db:generate`). Tables are keyed by repository name rather than a surrogate id: names
// never change, and the hot read (manifest by tag) then needs no extra join.
//
//   blobs                 where the bytes of each digest live, once for the whole registry
//   repository_blobs      which repository may serve which blob (no cross-repository oracle)
//   manifests             manifests a repository holds, with what the referrers API needs
//   tags                  tag → manifest digest, per repository
//   repositories          names for the catalog, recorded on first push
//   cache_*, cached_*, prefetch_jobs   pull-through cache state (bottom of this file)
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

const createdAt = () => integer("created_at").notNull().default(sql`(unixepoch())`);

export const repositories = sqliteTable("repositories", {
  name: text("name").primaryKey(),
  createdAt: createdAt(),
});

export const blobs = sqliteTable("blobs", {
  digest: text("digest").primaryKey(),
  size: integer("size").notNull(),
  // Exactly one of the two is set: an R2 key (worker/storage/keys.ts), or, for small manifests,
  // the manifest itself, so that a manifest GET is one D1 query and no R2 round trip. Manifests
  // are valid UTF-8 JSON (checked on push), so TEXT holds their exact bytes; D1 would hand a
  // BLOB back as an array of numbers.
  objectKey: text("object_key"),
  content: text("content"),
  createdAt: createdAt(),
});

export const repositoryBlobs = sqliteTable(
  "repository_blobs",
  {
    repository: text("repository").notNull(),
    digest: text("digest").notNull(),
    createdAt: createdAt(),
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
