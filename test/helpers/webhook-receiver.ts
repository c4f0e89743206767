// Typed access, from inside workerd, to the webhook receiver that test/vitest.config.ts starts
// (test/helpers/webhook-receiver-server.mjs): a URL of its own per test, scripted answers, and
// the requests it received, waited for with a bound (the server answers once they are there).
import { env } from "cloudflare:test";
import { expect } from "vitest";
import { callControl } from "./fake-remote";
import { apiJson, unique } from "./management";

export interface ReceivedRequest {
  method: string;
  path: string;
  /** Lowercase names, as node:http gives them. */
  headers: Record<string, string>;
  /** The exact bytes received. */
  body: Uint8Array;
  at: number;
}

export interface Hook {
  key: string;
  /** What a webhook's "url" is set to. */
  url: string;
}

export interface Script {
  /** The next answers' statuses, in order; 200 once they are used up. */
  statuses?: number[];
  /** How many requests to hold unanswered until release(). */
  hang?: number;
}

/** A receiver URL no other test uses, answering as scripted. */
export async function newHook(script: Script = {}): Promise<Hook> {
  const key = crypto.randomUUID();
  if (script.statuses !== undefined || script.hang !== undefined) await control("POST", `/control/script/${key}`, JSON.stringify(script));
  return { key, url: `${env.WEBHOOK_RECEIVER}/hooks/${key}` };
}

/** The requests the hook received, once there are `count` of them; fails after `timeoutMs`. */
export async function receivedAtLeast(hook: Hook, count: number, timeoutMs = 15_000): Promise<ReceivedRequest[]> {
  const requests = await received(hook, count, timeoutMs);
  expect(requests.length, `requests received at ${hook.url} within ${timeoutMs} ms`).toBeGreaterThanOrEqual(count);
  return requests;
}

/** What the hook received so far (waiting up to `timeoutMs` for `count`). */
export async function received(hook: Hook, count = 0, timeoutMs = 0): Promise<ReceivedRequest[]> {
  const raw = await control<(Omit<ReceivedRequest, "body"> & { body: string })[]>("GET", `/control/requests/${hook.key}?count=${count}&timeoutMs=${timeoutMs}`);
  return raw.map((request) => ({ ...request, body: Uint8Array.from(atob(request.body), (char) => char.charCodeAt(0)) }));
}

/** Answers the requests held by a `hang` script. */
export async function release(hook: Hook): Promise<void> {
  await control("POST", `/control/release/${hook.key}`);
}

/** A received body as JSON. */
export function jsonOf(request: ReceivedRequest): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(request.body)) as Record<string, unknown>;
}

/** `sha256=<hex>` of the HMAC-SHA256 of `body` under `secret`, as a receiver checks it. */
export async function expectedSignature(secret: string, body: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, body));
  return `sha256=${[...mac].map((byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}

function control<T>(method: string, path: string, body?: string): Promise<T> {
  return callControl<T>(env.WEBHOOK_RECEIVER, "webhook receiver", method, path, body);
}

/** A webhook of `project` made through the API (as admin), aimed at `hook`; its name. */
export async function addWebhook(project: string, hook: Hook, fields: Record<string, unknown> = {}): Promise<string> {
  const name = unique("hook");
  await apiJson(`/projects/${project}/webhooks`, { body: { name, url: hook.url, events: ["PUSH_ARTIFACT"], format: "harbor", ...fields } }, 201);
  return name;
}

export interface DeliveryItem {
  id: string;
  event: string;
  eventId: string;
  status: "pending" | "delivered" | "failed";
  statusCode: number | null;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The webhook's delivery log, newest first (GET …/deliveries, as admin). */
export async function deliveriesOf(project: string, name: string, query = ""): Promise<DeliveryItem[]> {
  return (await apiJson<{ items: DeliveryItem[] }>(`/projects/${project}/webhooks/${name}/deliveries${query}`)).items;
}

/**
 * `read()` once `done(value)` holds, read again every 25 ms for at most `timeoutMs`: for what a
 * queue consumer records after the receiver saw its request. Fails with the last value.
 */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    value = await read();
  }
  expect(done(value), `still ${JSON.stringify(value)} after ${timeoutMs} ms`).toBe(true);
  return value;
}
