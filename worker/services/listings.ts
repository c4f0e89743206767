// Paginated listings: a repository's tags, the registry's catalog, and the referrers of a
// manifest (OCI distribution spec v1.1, "Listing Tags", "Listing Referrers").
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import type { Digest } from "../oci/digest";
import { OCI_INDEX } from "../oci/media-types";
import type { RepoName } from "../oci/names";
import type { Page } from "../oci/pagination";
import { database } from "../storage/db/client";
import { type ReferrerRow, listReferrers as listReferrerRows, listTags as listTagRows } from "../storage/db/queries/manifests";
import { readStoredBytes } from "../storage/blob-store";
import { annotationsOf } from "../oci/manifest";
import type { ProjectViewer } from "../storage/db/queries/principals";
import { listRepositories, listVisibleRepositories, repositoryExists } from "../storage/db/queries/repositories";

export interface Listing<T> {
  items: T[];
  /** Set when more entries follow: the `last` of the next page. */
  next: string | null;
}

export async function listTags(env: Bindings, repository: RepoName, page: Page): Promise<Listing<string>> {
  const db = database(env.DB);
  const rows = await listTagRows(db, repository, page.last, page.limit + 1);
  if (rows.length === 0 && page.last === null && !(await repositoryExists(db, repository))) {
    throw new RegistryError("NAME_UNKNOWN", `repository ${repository} is not known to this registry`);
  }
  return paginate(rows, page.limit, (tag) => tag);
}

/** The catalog as `viewer` may see it (worker/auth/access.ts catalogViewer); null: everything. */
export async function listCatalog(env: Bindings, page: Page, viewer: ProjectViewer | null): Promise<Listing<string>> {
  const db = database(env.DB);
  const rows = viewer === null ? await listRepositories(db, page.last, page.limit + 1) : await listVisibleRepositories(db, viewer, page.last, page.limit + 1);
  return paginate(rows, page.limit, (name) => name);
}

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** The referrers index: an OCI image index of the manifests whose subject is `subject`. */
export async function listReferrers(
  env: Bindings,
  repository: RepoName,
  subject: Digest,
  artifactType: string | null,
  page: Page,
): Promise<Listing<ReferrerDescriptor> & { mediaType: typeof OCI_INDEX }> {
  const rows = await listReferrerRows(database(env.DB), repository, subject, artifactType, page.last, page.limit + 1);
  const listing = paginate(rows, page.limit, (row) => row.digest);
  const items = await Promise.all(
    listing.items.map(async (row) => {
      const descriptor: ReferrerDescriptor = { mediaType: row.mediaType, digest: row.digest, size: row.size };
      if (row.artifactType !== null) descriptor.artifactType = row.artifactType;
      const annotations = await referrerAnnotations(env, row);
      if (annotations !== null) descriptor.annotations = annotations;
      return descriptor;
    }),
  );
  return { mediaType: OCI_INDEX, items, next: listing.next };
}

/** A referrer's annotations, read from the manifest itself (inline in D1 unless it is large). */
async function referrerAnnotations(env: Bindings, row: ReferrerRow): Promise<Record<string, string> | null> {
  let text = row.content;
  if (text === null) {
    const body = await readStoredBytes(env.BLOBS, row, null);
    if (body === null) return null;
    text = await new Response(body).text();
  }
  return annotationsOf(text);
}

/** Rows were fetched one past the page: the extra row only says whether a next page exists. */
function paginate<T>(rows: T[], limit: number, keyOf: (row: T) => string): Listing<T> {
  if (rows.length <= limit) return { items: rows, next: null };
  const items = rows.slice(0, limit);
  return { items, next: items.length > 0 ? keyOf(items[items.length - 1]!) : null };
}
