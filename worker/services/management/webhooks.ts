// A project's webhooks (worker/webhooks) as the management API shows and changes them. Only
// those who manage the project (project admins, system admins) see or change them: a URL may
// carry a receiver's token. Every change is audited (`webhook.create`, `webhook.update`,
// `webhook.delete`, `webhook.test`); the secret is sealed before it reaches D1 and never shown
// again ("secret": "set" or "none"). Proxy projects have none: their content is an upstream's.
import { seal } from "../../auth/sealed";
import type { Bindings } from "../../env";
import { RegistryError } from "../../errors";
import { fanOut } from "../../events/dispatch";
import { EVENT_TYPES, type EventType, forgetSubscriptions, isEventType, type NewEvent, pierEvent } from "../../events/events";
import { database } from "../../storage/db/client";
import type { ProjectRow } from "../../storage/db/queries/principals";
import * as queries from "../../storage/db/queries/webhooks";
import type { DeliveryRow, WebhookChange, WebhookRow } from "../../storage/db/queries/webhooks";
import { WEBHOOK_FORMATS, type WebhookFormat } from "../../webhooks/payloads";
import { secretContext } from "../../webhooks/signature";
import type { Actor } from "./actor";
import { audit } from "./audit-trail";
import { projectFor } from "./guard";
import { type Body, invalid, parseFlag } from "./inputs";

export interface WebhookView {
  project: string;
  name: string;
  url: string;
  events: EventType[];
  format: WebhookFormat;
  secret: "set" | "none";
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface DeliveryView {
  id: string;
  event: string;
  eventId: string;
  status: DeliveryRow["status"];
  statusCode: number | null;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Every event fans out to each of a project's webhooks: a bound on one event's deliveries. */
export const MAX_WEBHOOKS_PER_PROJECT = 20;
const NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const MAX_NAME = 64;
const MAX_URL = 2048;
const MAX_SECRET = 1024;
const CREATE_FIELDS = new Set(["name", "url", "events", "format", "secret", "enabled"]);
const PATCH_FIELDS = new Set(["url", "events", "format", "secret", "enabled"]);

export async function createWebhook(env: Bindings, actor: Actor, project: string, body: Body, now: number): Promise<WebhookView> {
  const entry = { action: "webhook.create", resource: `webhooks/${String(body.name).slice(0, 64)}` };
  requireLocal(await projectFor(env, actor, project, "manageProject", entry));
  requireFields(body, CREATE_FIELDS);
  const name = parseName(body.name);
  const row: WebhookRow = {
    project,
    name,
    url: parseUrl(body.url),
    events: JSON.stringify(parseEvents(body.events)),
    format: parseFormat(body.format),
    secret: await sealSecret(env, project, name, parseSecret(body.secret)),
    enabled: body.enabled === undefined ? true : parseFlag(body, "enabled"),
    createdAt: now,
    updatedAt: now,
  };
  const db = database(env.DB);
  // Counted first, so a burst of creations may pass the bound by a few; it bounds, it does not meter.
  if ((await queries.countWebhooks(db, project)) >= MAX_WEBHOOKS_PER_PROJECT) {
    throw invalid(`project "${project}" has ${MAX_WEBHOOKS_PER_PROJECT} webhooks, the most it may have; delete one first`);
  }
  if (!(await queries.insertWebhook(db, row))) throw new RegistryError("CONFLICT", `project "${project}" has a webhook named "${name}" already`);
  forgetSubscriptions(env, project);
  await audit(env, actor, { action: entry.action, resource: `webhooks/${name}`, project });
  return webhookView(row);
}

export async function listWebhooks(env: Bindings, actor: Actor, project: string): Promise<{ items: WebhookView[] }> {
  await projectFor(env, actor, project, "manageProject", { action: "webhook.read", resource: "webhooks" });
  return { items: (await queries.listWebhooks(database(env.DB), project)).map(webhookView) };
}

export async function getWebhook(env: Bindings, actor: Actor, project: string, name: string): Promise<WebhookView> {
  await projectFor(env, actor, project, "manageProject", { action: "webhook.read", resource: `webhooks/${name.slice(0, 64)}` });
  return webhookView(await existing(env, project, name));
}

/** Changes what the body sets: url, events, format, secret (null: none), enabled (at least one). */
export async function updateWebhook(env: Bindings, actor: Actor, project: string, name: string, body: Body, now: number): Promise<WebhookView> {
  const entry = { action: "webhook.update", resource: `webhooks/${name.slice(0, 64)}` };
  await projectFor(env, actor, project, "manageProject", entry);
  if (body.name !== undefined) throw invalid('"name" cannot change: create a webhook under the new name and delete this one');
  requireFields(body, PATCH_FIELDS);
  if (Object.keys(body).length === 0) throw invalid(`the body must set at least one of ${[...PATCH_FIELDS].join(", ")}`);
  const change: WebhookChange = {
    updatedAt: now,
    ...(body.url !== undefined && { url: parseUrl(body.url) }),
    ...(body.events !== undefined && { events: JSON.stringify(parseEvents(body.events)) }),
    ...(body.format !== undefined && { format: parseFormat(body.format) }),
    ...(body.secret !== undefined && { secret: await sealSecret(env, project, name, parseSecret(body.secret)) }),
    ...(body.enabled !== undefined && { enabled: parseFlag(body, "enabled") }),
  };
  const row = await queries.updateWebhook(database(env.DB), project, name, change);
  if (row === null) throw webhookUnknown(project, name);
  forgetSubscriptions(env, project);
  await audit(env, actor, { ...entry, project });
  return webhookView(row);
}

/** Deletes the webhook and its delivery log; deliveries still queued are dropped unsent. */
export async function deleteWebhook(env: Bindings, actor: Actor, project: string, name: string): Promise<void> {
  const entry = { action: "webhook.delete", resource: `webhooks/${name.slice(0, 64)}` };
  await projectFor(env, actor, project, "manageProject", entry);
  if (!(await queries.deleteWebhook(database(env.DB), project, name))) throw webhookUnknown(project, name);
  forgetSubscriptions(env, project);
  await audit(env, actor, { ...entry, project });
}

/** The delivery log, newest first; `next` is the `next` of the previous page. */
export async function listDeliveries(env: Bindings, actor: Actor, project: string, name: string, limit: number, next: string | undefined): Promise<{ items: DeliveryView[]; next: string | null }> {
  await projectFor(env, actor, project, "manageProject", { action: "webhook.read", resource: `webhooks/${name.slice(0, 64)}` });
  const cursor = parseDeliveryCursor(next);
  await existing(env, project, name);
  const rows = await queries.listDeliveries(database(env.DB), project, name, cursor, limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: page.map(deliveryView), next: rows.length > limit && last !== undefined ? `${last.createdAt}.${last.id}` : null };
}

/**
 * Sends the webhook a synthetic event of the first type it subscribes to (event id
 * "test-<uuid>"), through the same queue and delivery as real events: the delivery, pending.
 */
export async function testWebhook(env: Bindings, actor: Actor, project: string, name: string, origin: string | null): Promise<DeliveryView> {
  const entry = { action: "webhook.test", resource: `webhooks/${name.slice(0, 64)}` };
  const row = await projectFor(env, actor, project, "manageProject", entry);
  const webhook = await existing(env, project, name);
  if (!webhook.enabled) throw invalid(`webhook "${name}" is disabled; enable it to send it anything, a test included`);
  const type = (JSON.parse(webhook.events) as EventType[])[0] ?? "PUSH_ARTIFACT";
  const now = Date.now();
  const event = { ...pierEvent(sampleEvent(type, project, actor.principal.name, origin, now), now), id: `test-${crypto.randomUUID()}` };
  const [delivery] = await fanOut(env, event, [webhook], row);
  await audit(env, actor, { ...entry, project });
  return deliveryView(delivery!);
}

/** A plausible event of each type, plainly not a real one (a repository named webhook-test). */
function sampleEvent(type: EventType, project: string, operator: string, origin: string | null, now: number): NewEvent {
  const repository = `${project}/webhook-test`;
  const digest = `sha256:${"0".repeat(64)}`;
  const common = { project, operator, origin };
  switch (type) {
    case "PUSH_ARTIFACT":
    case "PULL_ARTIFACT":
    case "DELETE_ARTIFACT":
      return { ...common, type, data: { repository, digest, tags: ["test"], mediaType: "application/vnd.oci.image.manifest.v1+json", size: 0 } };
    case "QUOTA_EXCEED":
      return { ...common, type, data: { repository, digest, limitBytes: 0, usedBytes: 0, addsBytes: 0 } };
    case "TAG_RETENTION":
      return { ...common, type, data: { runId: "test", dryRun: true, trigger: "manual", status: "succeeded", examined: 0, removed: 0, error: null } };
    case "REPLICATION":
      return {
        ...common,
        type,
        data: { executionId: "test", policy: "test", trigger: "manual", status: "succeeded", source: null, destination: null, total: 0, succeeded: 0, failed: 0, startedAt: now, finishedAt: now },
      };
  }
}

async function existing(env: Bindings, project: string, name: string): Promise<WebhookRow> {
  const row = await queries.findWebhook(database(env.DB), project, name);
  if (row === null) throw webhookUnknown(project, name);
  return row;
}

function webhookUnknown(project: string, name: string): RegistryError {
  return new RegistryError("NAME_UNKNOWN", `project "${project}" has no webhook named "${name.slice(0, 64)}"`);
}

function requireLocal(project: ProjectRow): void {
  if (project.kind !== "local") throw invalid(`"${project.name}" is a proxy project: nothing is pushed to it, so it has no events to send`);
}

function requireFields(body: Body, allowed: Set<string>): void {
  const unknown = Object.keys(body).find((key) => !allowed.has(key));
  if (unknown !== undefined) throw invalid(`the body has an unknown field "${unknown.slice(0, 50)}"; a webhook has ${[...allowed].join(", ")}`);
}

function parseName(value: unknown): string {
  if (typeof value !== "string" || value.length > MAX_NAME || !NAME.test(value)) {
    throw invalid(`"name" must be at most ${MAX_NAME} lowercase letters and digits, joined by . _ __ or -`);
  }
  return value;
}

/** An absolute http(s) URL; credentials belong in the secret, never in a URL the API shows. */
function parseUrl(value: unknown): string {
  const url = typeof value === "string" && value.length <= MAX_URL && URL.canParse(value) ? new URL(value) : null;
  if (url === null || (url.protocol !== "https:" && url.protocol !== "http:")) throw invalid(`"url" must be an absolute http:// or https:// URL of at most ${MAX_URL} characters`);
  if (url.username !== "" || url.password !== "") throw invalid('"url" must not hold credentials (user:password@); set "secret" to have deliveries signed');
  return url.href;
}

function parseEvents(value: unknown): EventType[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every(isEventType)) throw invalid(`"events" must be a non-empty list of: ${EVENT_TYPES.join(", ")}`);
  return [...new Set(value)];
}

function parseFormat(value: unknown): WebhookFormat {
  if (!WEBHOOK_FORMATS.includes(value as WebhookFormat)) throw invalid(`"format" must be one of ${WEBHOOK_FORMATS.join(", ")}`);
  return value as WebhookFormat;
}

/** A string (null or absent: none). */
function parseSecret(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_SECRET) throw invalid(`"secret" must be a string of 1 to ${MAX_SECRET} characters, or null for none`);
  return value;
}

function sealSecret(env: Bindings, project: string, name: string, secret: string | null): Promise<string | null> {
  return secret === null ? Promise.resolve(null) : seal(env.PIER_CREDENTIALS_KEY, secretContext(project, name), secret);
}

/** The log's `next`: `<createdAt>.<id>` of the last delivery on the previous page. */
function parseDeliveryCursor(value: string | undefined): queries.DeliveryCursor | null {
  if (value === undefined || value === "") return null;
  const match = /^(\d{1,15})\.([0-9a-f-]{36})$/.exec(value);
  if (match === null) throw invalid(`"next" must be the "next" value of a previous page, got "${value.slice(0, 60)}"`);
  return { createdAt: Number(match[1]), id: match[2]! };
}

function webhookView(row: WebhookRow): WebhookView {
  return {
    project: row.project,
    name: row.name,
    url: row.url,
    events: JSON.parse(row.events) as EventType[],
    format: row.format,
    secret: row.secret === null ? "none" : "set",
    enabled: row.enabled,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}

function deliveryView(row: DeliveryRow): DeliveryView {
  return {
    id: row.id,
    event: row.eventType,
    eventId: row.eventId,
    status: row.status,
    statusCode: row.statusCode,
    attempts: row.attempts,
    lastError: row.lastError,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}
