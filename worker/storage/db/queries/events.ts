// The event outbox (worker/events): one row per thing that happened to content, written in the
// batch that made the change where there is one, deleted once its handler fanned it out. A row
// older than a minute is one whose queue message was lost or whose handler crashed: the sweep
// (worker/events/outbox-sweep.ts) sends it again.
import { asc, eq, inArray, lt } from "drizzle-orm";
import { type Database, statement } from "../client";
import { eventOutbox } from "../schema";

export type OutboxRow = typeof eventOutbox.$inferSelect;

/** The row, inserted unconditionally: an event with no write to batch with (a refusal, a summary). */
export function insertEvent(db: Database, row: OutboxRow): D1PreparedStatement {
  return insertEventFrom(db, row, null, {});
}

/**
 * The row, inserted only when `source` yields a row: SQL after FROM, over ?6, ?7, … bound to
 * `params` (?1-?5 are the row's own values). `facts` sets paths of the event's JSON to SQL
 * expressions over the source's columns, read in the same statement as the change they describe:
 * {"$.data.digest": "t.digest"} records the digest a tag pointed at just before it was deleted.
 * Batched before (a delete) or after (an insert) the change, it makes the event exactly as
 * durable as the change: both or neither.
 */
export function insertEventFrom(db: Database, row: OutboxRow, source: string | null, facts: Record<string, string>, ...params: unknown[]): D1PreparedStatement {
  const pairs = Object.entries(facts).map(([path, expression]) => `'${path}', ${expression}`);
  const data = pairs.length === 0 ? "?4" : `json_set(?4, ${pairs.join(", ")})`;
  const from = source === null ? "" : ` FROM ${source} LIMIT 1`;
  return statement(
    db,
    `INSERT INTO event_outbox (id, type, project, data, created_at) SELECT ?1, ?2, ?3, ${data}, ?5${from}`,
    row.id,
    row.type,
    row.project,
    row.data,
    row.createdAt,
    ...params,
  );
}

export async function findEvent(db: Database, id: string): Promise<OutboxRow | null> {
  const rows = await db.select().from(eventOutbox).where(eq(eventOutbox.id, id)).limit(1);
  return rows[0] ?? null;
}

export async function deleteEvent(db: Database, id: string): Promise<void> {
  await db.delete(eventOutbox).where(eq(eventOutbox.id, id));
}

/**
 * Up to `limit` rows created before `before`, oldest first, claimed for a new attempt: their
 * created_at moves to `now`, so that a row whose message is merely slow is sent again at most
 * once per sweep interval rather than on every sweep.
 */
export async function claimStrandedEvents(db: Database, before: number, now: number, limit: number): Promise<string[]> {
  const stranded = db.select({ id: eventOutbox.id }).from(eventOutbox).where(lt(eventOutbox.createdAt, before)).orderBy(asc(eventOutbox.createdAt)).limit(limit);
  const rows = await db.update(eventOutbox).set({ createdAt: now }).where(inArray(eventOutbox.id, stranded)).returning({ id: eventOutbox.id });
  return rows.map((row) => row.id);
}
