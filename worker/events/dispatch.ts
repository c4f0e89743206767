// Handling one outbox event (the JOBS queue's {kind: "event"} message, worker/jobs/consumer.ts):
//   1. fan it out to the project's enabled webhooks subscribed to its type: one delivery row per
//      webhook with the body built now (worker/webhooks/payloads.ts), inserted at most once per
//      (project, webhook, event), and one WEBHOOKS message per row inserted;
//   2. a push or delete starts the event-triggered replications that match it
//      (worker/replication/event-trigger.ts: at most one execution per event and policy);
//   3. delete the outbox row.
// A crash anywhere before 3 leaves the row, and the message is retried (or the sweep sends it
// again): both steps are idempotent, so handling an event twice delivers and replicates it once.
// Deliveries whose messages could not be queued are taken back before the error propagates, so
// the retry makes and sends them again rather than leave them pending forever.
import { configFrom } from "../config";
import type { Bindings, WaitUntil } from "../env";
import { startEventReplications } from "../replication/event-trigger";
import { database } from "../storage/db/client";
import { deleteEvent, findEvent } from "../storage/db/queries/events";
import { findProject, type ProjectRow } from "../storage/db/queries/principals";
import { type DeliveryRow, deleteDeliveries, insertDeliveries, subscribedWebhooks, type WebhookRow } from "../storage/db/queries/webhooks";
import { payloadFor } from "../webhooks/payloads";
import { eventOfRow, type PierEvent } from "./events";

export async function handleEvent(env: Bindings, eventId: string, waitUntil: WaitUntil): Promise<void> {
  const db = database(env.DB);
  const row = await findEvent(db, eventId);
  // Handled already (a redelivered message, or the sweep's copy of one that was only slow).
  if (row === null) return;
  const event = eventOfRow(row);
  await fanOut(env, event, await subscribedWebhooks(db, event.project, event.type));
  if (event.type === "PUSH_ARTIFACT" || event.type === "DELETE_ARTIFACT") {
    const { repository, digest, tags } = event.data;
    // A push that set several tags replicates by its first (or by digest when it set none).
    await startEventReplications(env, { type: event.type, id: event.id, repository, digest, tag: tags[0] ?? null }, waitUntil);
  }
  await deleteEvent(db, eventId);
}

/**
 * Records one delivery per webhook (once per event) and queues the ones recorded now; returns those.
 * `known`: the event's project row when the caller has read it already (else it is read here).
 */
export async function fanOut(env: Bindings, event: PierEvent, webhooks: WebhookRow[], known?: ProjectRow | null): Promise<DeliveryRow[]> {
  if (webhooks.length === 0) return [];
  const db = database(env.DB);
  const project = known === undefined ? await findProject(db, event.project) : known;
  const context = { origin: event.origin ?? configFrom(env).auth.publicUrl, repoType: project?.public ? "public" : "private" } as const;
  const now = Date.now();
  const rows: DeliveryRow[] = webhooks.map((webhook) => ({
    id: crypto.randomUUID(),
    project: event.project,
    webhook: webhook.name,
    eventId: event.id,
    eventType: event.type,
    payload: payloadFor(webhook.format, event, context),
    status: "pending",
    statusCode: null,
    attempts: 0,
    lastError: null,
    createdAt: now,
    updatedAt: now,
  }));
  const inserted = new Set(await insertDeliveries(db, rows));
  if (inserted.size === 0) return [];
  try {
    await env.WEBHOOKS.sendBatch([...inserted].map((deliveryId) => ({ body: { kind: "webhook-delivery", deliveryId } })));
  } catch (error) {
    await deleteDeliveries(db, [...inserted]);
    throw error;
  }
  return rows.filter((row) => inserted.has(row.id));
}
