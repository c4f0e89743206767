// What happened to content, for webhooks (worker/webhooks) and event-triggered replication
// (worker/replication/event-trigger.ts). DESIGN lesson 13: events are emitted by services where
// the content changes, never by routes, through an outbox:
//   - a change made in one D1 batch (a push, a delete) carries its event's outbox row in that
//     batch (outboxStatement, or a conditional insert in the query module that builds the
//     batch): the event exists exactly when the change does;
//   - after the batch, the row's id goes to the JOBS queue through waitUntil, so the answer to the
//     client never waits for it; the consumer (dispatch.ts) fans it out and deletes the row;
//   - a row whose message was lost or whose handler crashed is sent again by the outbox sweep
//     (outbox-sweep.ts) a minute later: delivery is at least once.
// Events with no write to batch with (a refused push, a finished retention run or replication
// execution) go through emitEvent. Pulls are the hot path: a pull writes nothing unless an
// enabled webhook of its project subscribes to PULL_ARTIFACT, which this isolate remembers for
// SUBSCRIPTIONS_TTL_MS (a webhook created or changed elsewhere is seen within that time).
import type { Bindings, WaitUntil } from "../env";
import { expiringMapsBy } from "../expiring-map";
import { database, type Database } from "../storage/db/client";
import { insertEvent, type OutboxRow } from "../storage/db/queries/events";
import { subscribedTypes } from "../storage/db/queries/webhooks";

export const EVENT_TYPES = ["PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT", "QUOTA_EXCEED", "REPLICATION", "TAG_RETENTION"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export function isEventType(value: unknown): value is EventType {
  return typeof value === "string" && (EVENT_TYPES as readonly string[]).includes(value);
}

/** A manifest pushed, pulled or deleted. Tags: those the push set, the one pulled by, or those deleted. */
export interface ArtifactFacts {
  repository: string;
  /** Null only until the delete's statement reads it (a delete by tag). */
  digest: string | null;
  tags: string[];
  mediaType: string | null;
  size: number | null;
}

/** A push refused by the project's storage limit (worker/lifecycle/quotas.ts). */
export interface QuotaFacts {
  repository: string;
  /** Null for an upload chunk whose digest is not known yet. */
  digest: string | null;
  limitBytes: number;
  usedBytes: number;
  /** What the refused write would have added. */
  addsBytes: number;
}

/** A retention run that finished (worker/lifecycle/retention.ts). */
export interface RetentionFacts {
  runId: string;
  dryRun: boolean;
  trigger: string;
  status: string;
  examined: number;
  removed: number;
  error: string | null;
}

/** A replication execution that finished (worker/replication/executions.ts). */
export interface ReplicationFacts {
  executionId: string;
  policy: string;
  trigger: string;
  status: string;
  /** Remote registry names; null is this Pier. */
  source: string | null;
  destination: string | null;
  total: number;
  succeeded: number;
  failed: number;
  startedAt: number;
  finishedAt: number | null;
}

export interface EventFacts {
  PUSH_ARTIFACT: ArtifactFacts;
  PULL_ARTIFACT: ArtifactFacts;
  DELETE_ARTIFACT: ArtifactFacts;
  QUOTA_EXCEED: QuotaFacts;
  REPLICATION: ReplicationFacts;
  TAG_RETENTION: RetentionFacts;
}

/** Who caused a change and where: what a service that changes content needs to emit its event. */
export interface EventCause {
  /** The principal's login name; "replication:<policy>" for a replication writing into Pier. */
  operator: string;
  /** Pier's origin as the client saw it (PUBLIC_URL, else the request's); null without a request. */
  origin: string | null;
  /** The request's (or queue batch's) waitUntil: the event is queued after the answer. */
  waitUntil: WaitUntil;
}

/** An event to emit: which project's, who caused it (null: Pier itself), and its facts. */
export type NewEvent = {
  [T in EventType]: { type: T; project: string; operator?: string | null; origin?: string | null; data: EventFacts[T] };
}[EventType];

/** An event with its id and time, as the outbox holds it. */
export type PierEvent = NewEvent & { id: string; operator: string | null; origin: string | null; occurredAt: number };

/** What the outbox's `data` column holds (facts set by SQL are written at `$.data.<field>`). */
interface StoredData {
  operator: string | null;
  origin: string | null;
  occurredAt: number;
  data: unknown;
}

export function pierEvent(event: NewEvent, now: number): PierEvent {
  return { ...event, id: crypto.randomUUID(), operator: event.operator ?? null, origin: event.origin ?? null, occurredAt: now } as PierEvent;
}

export function outboxRow(event: PierEvent): OutboxRow {
  const data: StoredData = { operator: event.operator, origin: event.origin, occurredAt: event.occurredAt, data: event.data };
  return { id: event.id, type: event.type, project: event.project, data: JSON.stringify(data), createdAt: event.occurredAt };
}

/** The statement inserting the event's outbox row, to run in the batch of the change it describes. */
export function outboxStatement(db: Database, event: PierEvent): D1PreparedStatement {
  return insertEvent(db, outboxRow(event));
}

/** The event an outbox row holds; throws on a row no version of Pier wrote. */
export function eventOfRow(row: OutboxRow): PierEvent {
  if (!isEventType(row.type)) throw new Error(`outbox row ${row.id} has an unknown event type "${row.type}"`);
  const stored = JSON.parse(row.data) as StoredData;
  return { id: row.id, type: row.type, project: row.project, operator: stored.operator, origin: stored.origin, occurredAt: stored.occurredAt, data: stored.data } as PierEvent;
}

/**
 * Queues the handling of a recorded event, after the answer when `waitUntil` is given (else
 * awaited). A failed send is logged: the row stays, and the outbox sweep sends it again.
 */
export async function announceEvent(env: Bindings, waitUntil: WaitUntil | null, eventId: string): Promise<void> {
  const sent = env.JOBS.send({ kind: "event", eventId }).catch((error: unknown) => {
    console.error(`queueing event ${eventId} failed; the outbox sweep will send it within minutes`, error);
  });
  if (waitUntil === null) await sent;
  else waitUntil(sent);
}

/**
 * Emits an event that no write is batched with: records its outbox row, then queues it (through
 * `waitUntil` when given, else awaited). Never throws: an event is a report of what happened, and
 * failing to record one must not fail what happened (it is logged, with the event).
 *
 * For a finished replication execution (worker/replication/executions.ts), once per local project
 * it copied into or out of (the first segment of its local repositories):
 *   await emitEvent(env, waitUntil, { type: "REPLICATION", project, operator: null, data: { executionId,
 *     policy, trigger, status, source, destination, total, succeeded, failed, startedAt, finishedAt } });
 */
export async function emitEvent(env: Bindings, waitUntil: WaitUntil | null, event: NewEvent): Promise<void> {
  const record = pierEvent(event, Date.now());
  try {
    await outboxStatement(database(env.DB), record).run();
  } catch (error) {
    console.error(`recording a ${event.type} event of project "${event.project}" failed; it is lost: ${JSON.stringify(event.data)}`, error);
    return;
  }
  await announceEvent(env, waitUntil, record.id);
}

/**
 * A manifest GET of a local repository: a PULL_ARTIFACT event when an enabled webhook of the
 * project subscribes to it. Everything, including learning whether one does, happens after the
 * answer; without a subscriber a pull costs no write.
 */
export function notePull(env: Bindings, cause: EventCause, project: string, facts: ArtifactFacts): void {
  cause.waitUntil(
    (async () => {
      if (!(await subscribedTo(env, project)).includes("PULL_ARTIFACT")) return;
      await emitEvent(env, null, { type: "PULL_ARTIFACT", project, operator: cause.operator, origin: cause.origin, data: facts });
    })().catch((error: unknown) => console.error(`noting a pull of ${facts.repository}@${facts.digest} for webhooks failed`, error)),
  );
}

const SUBSCRIPTIONS_TTL_MS = 30_000;
const subscriptionsFor = expiringMapsBy<D1Database, string[]>(10_000);

/** The event types an enabled webhook of the project subscribes to, remembered for 30 s. */
async function subscribedTo(env: Bindings, project: string): Promise<string[]> {
  const remembered = subscriptionsFor(env.DB);
  const hit = remembered.get(project);
  if (hit !== undefined) return hit;
  const types = await subscribedTypes(database(env.DB), project);
  remembered.set(project, types, Date.now() + SUBSCRIPTIONS_TTL_MS);
  return types;
}

/** A webhook of the project changed through this isolate: its pulls see the change at once. */
export function forgetSubscriptions(env: Bindings, project: string): void {
  subscriptionsFor(env.DB).delete(project);
}
