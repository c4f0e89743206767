// `n` / `last` pagination and the `Link` header (OCI distribution spec v1.1, "Listing Tags"
// and the catalog, which follows the same rules).
import { RegistryError } from "../errors";

export interface Page {
  /** Most entries to return; null when the client did not ask for a number. */
  limit: number;
  last: string | null;
}

/** Answers are capped so that one request never reads an unbounded number of rows. */
export const MAX_PAGE_SIZE = 1000;

export function parsePage(n: string | undefined, last: string | undefined): Page {
  let limit = MAX_PAGE_SIZE;
  if (n !== undefined && n !== "") {
    if (!/^\d+$/.test(n)) throw new RegistryError("UNSUPPORTED", `n must be a whole number, got "${n.slice(0, 20)}"`, { status: 400 });
    limit = Math.min(Number(n), MAX_PAGE_SIZE);
  }
  return { limit, last: last === undefined || last === "" ? null : last };
}

/** `<path?n=…&last=…>; rel="next"` for the page after `lastEntry`. */
export function nextLink(path: string, limit: number, lastEntry: string, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams({ ...extra, n: String(limit), last: lastEntry });
  return `<${path}?${query.toString()}>; rel="next"`;
}
