// The D1 schema, the single source of truth for metadata (migrations/ is generated from it by
// `npm run db:generate`). Tables are keyed by repository name rather than a surrogate id: names
// never change, and the hot read (manifest by tag) then needs no extra join.
//
//   blobs                 where the bytes of each digest live, once for the whole registry
//   repository_blobs      which repository may serve which blob (no cross-repository oracle)
//   manifests             manifests a repository holds, with what the referrers API needs
//   tags                  tag → manifest digest, per repository
//   repositories          names for the catalog, recorded on first push
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
