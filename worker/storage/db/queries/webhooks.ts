// A project's webhooks and their delivery log (worker/webhooks). A delivery row holds the exact
// body sent, built once when the event is fanned out, so that every retry sends (and signs) the
// same bytes.
import { and, count, desc, eq, inArray, lt, or, sql } from "drizzle-orm";
import { d1Batch, type Database, statement } from "../client";
import { webhookDeliveries, webhooks } from "../schema";

export type WebhookRow = typeof webhooks.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type WebhookChange = Partial<Pick<WebhookRow, "url" | "events" | "format" | "secret" | "enabled">> & { updatedAt: number };

/** A delivery with what sending it needs of its webhook; `webhook` null when the webhook was deleted. */
export interface DeliveryTarget {
  delivery: DeliveryRow;
  webhook: Pick<WebhookRow, "url" | "format" | "secret" | "enabled"> | null;
}

/** Creates the webhook; false when the project has one of that name already. */
export async function insertWebhook(db: Database, row: WebhookRow): Promise<boolean> {
  const rows = await db.insert(webhooks).values(row).onConflictDoNothing().returning({ name: webhooks.name });
  return rows.length > 0;
}

export async function findWebhook(db: Database, project: string, name: string): Promise<WebhookRow | null> {
  const rows = await db
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.project, project), eq(webhooks.name, name)))
    .limit(1);
  return rows[0] ?? null;
}

/** The project's webhooks by name (a project has few: the service bounds them). */
export function listWebhooks(db: Database, project: string): Promise<WebhookRow[]> {
  return db.select().from(webhooks).where(eq(webhooks.project, project)).orderBy(webhooks.name);
}

export async function countWebhooks(db: Database, project: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(webhooks).where(eq(webhooks.project, project));
  return row?.n ?? 0;
}

/** The changed webhook, or null when there is none of that name. */
export async function updateWebhook(db: Database, project: string, name: string, change: WebhookChange): Promise<WebhookRow | null> {
  const rows = await db
    .update(webhooks)
    .set(change)
    .where(and(eq(webhooks.project, project), eq(webhooks.name, name)))
    .returning();
  return rows[0] ?? null;
}

/** Deletes the webhook and its delivery log in one batch; false when there was none. */
export async function deleteWebhook(db: Database, project: string, name: string): Promise<boolean> {
  const [deleted] = await db.batch([
    db
      .delete(webhooks)
      .where(and(eq(webhooks.project, project), eq(webhooks.name, name)))
      .returning({ name: webhooks.name }),
    db.delete(webhookDeliveries).where(and(eq(webhookDeliveries.project, project), eq(webhookDeliveries.webhook, name))),
  ]);
  return deleted.length > 0;
}

/** The project's enabled webhooks subscribed to `type`. */
export function subscribedWebhooks(db: Database, project: string, type: string): Promise<WebhookRow[]> {
  return db
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.project, project), eq(webhooks.enabled, true), sql`EXISTS (SELECT 1 FROM json_each(${webhooks.events}) WHERE value = ${type})`));
}

/** The event types some enabled webhook of the project is subscribed to. */
export async function subscribedTypes(db: Database, project: string): Promise<string[]> {
  const query = statement(db, "SELECT DISTINCT e.value AS type FROM webhooks w, json_each(w.events) e WHERE w.project = ?1 AND w.enabled = 1", project);
  return (await query.all<{ type: string }>()).results.map((row) => row.type);
}

/**
 * Records deliveries, each at most once per (project, webhook, event): a second fan-out of the
 * same event inserts nothing. Returns the ids of the rows inserted now.
 */
export async function insertDeliveries(db: Database, rows: DeliveryRow[]): Promise<string[]> {
  if (rows.length === 0) return [];
  const results = await d1Batch(
    db,
    rows.map((row) =>
      statement(
        db,
        `INSERT INTO webhook_deliveries (id, project, webhook, event_id, event_type, payload, status, status_code, attempts, last_error, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (project, webhook, event_id) DO NOTHING RETURNING id`,
        row.id,
        row.project,
        row.webhook,
        row.eventId,
        row.eventType,
        row.payload,
        row.status,
        row.statusCode,
        row.attempts,
        row.lastError,
        row.createdAt,
        row.updatedAt,
      ),
    ),
  );
  return results.flatMap((inserted) => inserted.map((row) => String(row.id)));
}

/** Takes back deliveries whose queue messages could not be sent (the event's next fan-out makes them again). */
export async function deleteDeliveries(db: Database, ids: string[]): Promise<void> {
  if (ids.length > 0) await db.delete(webhookDeliveries).where(inArray(webhookDeliveries.id, ids));
}

export async function findDeliveryTarget(db: Database, id: string): Promise<DeliveryTarget | null> {
  const rows = await db
    .select({ delivery: webhookDeliveries, url: webhooks.url, format: webhooks.format, secret: webhooks.secret, enabled: webhooks.enabled })
    .from(webhookDeliveries)
    .leftJoin(webhooks, and(eq(webhooks.project, webhookDeliveries.project), eq(webhooks.name, webhookDeliveries.webhook)))
    .where(eq(webhookDeliveries.id, id))
    .limit(1);
  const row = rows[0];
  if (row === undefined) return null;
  const { delivery, url, format, secret, enabled } = row;
  return { delivery, webhook: url === null || format === null || enabled === null ? null : { url, format, secret, enabled } };
}

export interface AttemptResult {
  status: DeliveryRow["status"];
  statusCode: number | null;
  lastError: string | null;
}

/**
 * Records one attempt of a pending delivery; false when it was no longer pending (another
 * attempt finished it meanwhile), and then nothing changes.
 */
export async function recordAttempt(db: Database, id: string, result: AttemptResult, now: number): Promise<boolean> {
  const rows = await db
    .update(webhookDeliveries)
    .set({ ...result, attempts: sql`${webhookDeliveries.attempts} + 1`, updatedAt: now })
    .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.status, "pending")))
    .returning({ id: webhookDeliveries.id });
  return rows.length > 0;
}

/** A pending delivery given up on: failed, keeping its last error (or `reason` when it has none). */
export async function markDeliveryFailed(db: Database, id: string, reason: string, now: number): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({ status: "failed", lastError: sql`coalesce(${webhookDeliveries.lastError}, ${reason})`, updatedAt: now })
    .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.status, "pending")));
}

export interface DeliveryCursor {
  createdAt: number;
  id: string;
}

/** A webhook's deliveries, newest first, after `cursor` (the last row of the previous page). */
export function listDeliveries(db: Database, project: string, webhook: string, cursor: DeliveryCursor | null, limit: number): Promise<DeliveryRow[]> {
  const conditions = [eq(webhookDeliveries.project, project), eq(webhookDeliveries.webhook, webhook)];
  if (cursor !== null) {
    conditions.push(
      or(lt(webhookDeliveries.createdAt, cursor.createdAt), and(eq(webhookDeliveries.createdAt, cursor.createdAt), lt(webhookDeliveries.id, cursor.id)))!,
    );
  }
  return db
    .select()
    .from(webhookDeliveries)
    .where(and(...conditions))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(limit);
}
