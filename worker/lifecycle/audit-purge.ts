// The audit log's retention: records older than PIER_AUDIT_RETENTION_DAYS are deleted by the
// scheduled job "audit-purge" (daily by default). A busy registry writes a record per pull, so
// a day's backlog can be millions of rows: each run deletes in bounded statements and stops at
// a bound that fits one invocation, then asks to run again a minute later until it catches up.
import { configFrom } from "../config";
import type { Bindings } from "../env";
import { database } from "../storage/db/client";
import { deleteAuditBefore } from "../storage/db/queries/audit";
import type { ScheduledJob } from "./scheduled-jobs";

const DAY = 86_400_000;

export interface PurgeBounds {
  /** Records per DELETE statement: small enough to stay far inside D1's 30 s per query. */
  pageSize: number;
  /**
   * Statements per invocation. Each is a subrequest, and an invocation may make 50 on the Free
   * plan (shared with the scheduler's own few queries and the other jobs due that minute).
   */
  maxPages: number;
}

export const DEFAULT_PURGE_BOUNDS: PurgeBounds = { pageSize: 5_000, maxPages: 20 };
const MAX_PAGE_SIZE = 10_000;
const MAX_PAGES = 10_000;

export interface AuditPurge {
  deleted: number;
  /** Records older than this (ms) were purged. */
  before: number;
  /** false when the run stopped at its bound with records possibly left. */
  complete: boolean;
}

export async function purgeAuditLogs(env: Bindings, now: number, bounds: PurgeBounds = DEFAULT_PURGE_BOUNDS): Promise<AuditPurge> {
  const before = now - configFrom(env).lifecycle.auditRetentionDays * DAY;
  const db = database(env.DB);
  let deleted = 0;
  for (let page = 0; page < bounds.maxPages; page++) {
    const count = await deleteAuditBefore(db, before, bounds.pageSize);
    deleted += count;
    // A short page was the last of them.
    if (count < bounds.pageSize) return { deleted, before, complete: true };
  }
  return { deleted, before, complete: false };
}

/**
 * The job "audit-purge". Its options may raise or lower the bounds: {"maxPages": 200} suits the
 * Paid plan's subrequest allowance; records per statement stay at most MAX_PAGE_SIZE.
 */
export const auditPurgeJob: ScheduledJob = async (env, options, now, run) => {
  const purge = await purgeAuditLogs(env, now, purgeBounds(options));
  if (!purge.complete) run.runAgain();
  const rest = purge.complete ? "" : " (stopped at this run's bound; continuing in a minute)";
  return `deleted ${purge.deleted} audit records older than ${new Date(purge.before).toISOString()}${rest}`;
};

function purgeBounds(options: unknown): PurgeBounds {
  const { pageSize = DEFAULT_PURGE_BOUNDS.pageSize, maxPages = DEFAULT_PURGE_BOUNDS.maxPages } = options as Partial<Record<keyof PurgeBounds, unknown>>;
  if (!wholeNumberUpTo(pageSize, MAX_PAGE_SIZE)) throw new Error(`the option "pageSize" must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  if (!wholeNumberUpTo(maxPages, MAX_PAGES)) throw new Error(`the option "maxPages" must be a whole number from 1 to ${MAX_PAGES}`);
  return { pageSize, maxPages };
}

function wholeNumberUpTo(value: unknown, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= max;
}
