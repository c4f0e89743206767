// The audit log: appended in batches, listed newest first with an id cursor, purged past its
// retention (worker/lifecycle/audit-purge.ts).
import { and, desc, eq, getTableColumns, inArray, lt, or, sql, type SQL } from "drizzle-orm";
import type { Database } from "../client";
import { auditLogs } from "../schema";

export type AuditRecord = Omit<typeof auditLogs.$inferInsert, "id">;
export type AuditRow = typeof auditLogs.$inferSelect;

/** D1 binds at most 100 parameters per statement; a record binds one per column at most. */
const RECORDS_PER_INSERT = Math.floor(100 / Object.keys(getTableColumns(auditLogs)).length);

export async function appendAudit(db: Database, records: AuditRecord[]): Promise<void> {
  await insertInBatches(db, records, false);
}

/**
 * Appends aggregated records (each with an aggregateKey): a record whose key is already in the
 * log adds its count to the one there instead of becoming another row.
 */
export async function addAuditCounts(db: Database, records: (AuditRecord & { aggregateKey: string; count: number })[]): Promise<void> {
  await insertInBatches(db, records, true);
}

async function insertInBatches(db: Database, records: AuditRecord[], aggregate: boolean): Promise<void> {
  const statements = [];
  for (let start = 0; start < records.length; start += RECORDS_PER_INSERT) {
    const insert = db.insert(auditLogs).values(records.slice(start, start + RECORDS_PER_INSERT));
    statements.push(aggregate ? insert.onConflictDoUpdate({ target: auditLogs.aggregateKey, set: { count: sql`${auditLogs.count} + excluded.count` } }) : insert);
  }
  if (statements.length > 0) await db.batch(statements as [(typeof statements)[number], ...(typeof statements)[number][]]);
}

/** Where a page ended: its last record's time and id (newest first by time, then id). */
export interface AuditCursor {
  at: number;
  id: number;
}

export interface AuditFilter {
  project?: string;
  principal?: string;
  action?: string;
  /** Only records listed after this one (the `next` cursor of the previous page). */
  before?: AuditCursor;
}

/** Newest first; `limit` rows at most. */
export async function listAudit(db: Database, filter: AuditFilter, limit: number): Promise<AuditRow[]> {
  const conditions: SQL[] = [];
  if (filter.project !== undefined) conditions.push(eq(auditLogs.project, filter.project));
  if (filter.principal !== undefined) conditions.push(eq(auditLogs.principal, filter.principal));
  if (filter.action !== undefined) conditions.push(eq(auditLogs.action, filter.action));
  if (filter.before !== undefined) {
    const { at, id } = filter.before;
    conditions.push(or(lt(auditLogs.at, at), and(eq(auditLogs.at, at), lt(auditLogs.id, id)))!);
  }
  return db
    .select()
    .from(auditLogs)
    .where(conditions.length === 0 ? undefined : and(...conditions))
    .orderBy(desc(auditLogs.at), desc(auditLogs.id))
    .limit(limit);
}

/**
 * Deletes up to `limit` records older than `before` (ms) in one statement, the oldest first;
 * returns how many went. Bounded so that one statement stays well inside D1's 30 s per query.
 */
export async function deleteAuditBefore(db: Database, before: number, limit: number): Promise<number> {
  const oldest = db.select({ id: auditLogs.id }).from(auditLogs).where(lt(auditLogs.at, before)).orderBy(auditLogs.at).limit(limit);
  const result = await db.delete(auditLogs).where(inArray(auditLogs.id, oldest)).run();
  return result.meta.changes;
}
