// Sending one delivery (worker/webhooks/delivery.ts): headers and signature, what counts as
// delivered, retries with backoff, the dead letter, and never posting twice. Deliveries here are
// rows written straight to D1 (no queue message), so each attempt is this test's own call.
import { createExecutionContext, createMessageBatch, env, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index";
import type { QueueMessage } from "../../worker/jobs/messages";
import { database } from "../../worker/storage/db/client";
import { insertDeliveries } from "../../worker/storage/db/queries/webhooks";
import { deliverWebhook } from "../../worker/webhooks/delivery";
import { api, apiProject } from "../helpers/management";
import { addWebhook, deliveriesOf, expectedSignature, type Hook, newHook, received, receivedAtLeast, type Script } from "../helpers/webhook-receiver";

const PAYLOAD = JSON.stringify({ type: "PUSH_ARTIFACT", hello: "pier" });

interface Delivery {
  project: string;
  webhook: string;
  id: string;
  hook: Hook;
}

/** A webhook aimed at a receiver answering as `script`, with one pending delivery not yet queued. */
async function pendingDelivery(script: Script = {}, fields: Record<string, unknown> = {}, hook?: Hook): Promise<Delivery> {
  const project = await apiProject();
  const receiver = hook ?? (await newHook(script));
  const webhook = await addWebhook(project, receiver, fields);
  const id = crypto.randomUUID();
  const now = Date.now();
  await insertDeliveries(database(env.DB), [
    { id, project, webhook, eventId: crypto.randomUUID(), eventType: "PUSH_ARTIFACT", payload: PAYLOAD, status: "pending", statusCode: null, attempts: 0, lastError: null, createdAt: now, updatedAt: now },
  ]);
  return { project, webhook, id, hook: receiver };
}

async function logOf(delivery: Delivery) {
  return (await deliveriesOf(delivery.project, delivery.webhook))[0]!;
}

/** Runs the queue consumer on one message of `queue`, as Queues would deliver it; what it asked for. */
async function consume(queue: string, body: QueueMessage, attempts = 1) {
  const batch = createMessageBatch<QueueMessage>(queue, [{ id: "m1", timestamp: new Date(), attempts, body }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  await waitOnExecutionContext(ctx);
  return getQueueResult(batch, ctx);
}

describe("a delivery", () => {
  it("POSTs the stored body with its event, its id and Pier's user agent, and a 2xx delivers it", async () => {
    const delivery = await pendingDelivery({ statuses: [204] });
    expect(await deliverWebhook(env, delivery.id, 1)).toEqual({ kind: "done" });
    const [request] = await received(delivery.hook);
    expect(request!.method).toBe("POST");
    expect(new TextDecoder().decode(request!.body)).toBe(PAYLOAD);
    expect(request!.headers).toMatchObject({ "content-type": "application/json", "x-pier-event": "PUSH_ARTIFACT", "x-pier-delivery": delivery.id, "user-agent": expect.stringMatching(/^Pier/) });
    expect(request!.headers["x-pier-signature"]).toBeUndefined();
    expect(await logOf(delivery)).toMatchObject({ status: "delivered", statusCode: 204, attempts: 1, lastError: null });
  });

  it("is signed with sha256=<HMAC-SHA256 of the body> under the webhook's secret", async () => {
    const delivery = await pendingDelivery({}, { secret: "webhook-secret" });
    await deliverWebhook(env, delivery.id, 1);
    const [request] = await received(delivery.hook);
    expect(request!.headers["x-pier-signature"]).toBe(await expectedSignature("webhook-secret", request!.body));
  });

  it("goes as application/cloudevents+json to a cloudevents webhook", async () => {
    const delivery = await pendingDelivery({}, { format: "cloudevents" });
    await deliverWebhook(env, delivery.id, 1);
    expect((await received(delivery.hook))[0]!.headers["content-type"]).toBe("application/cloudevents+json");
  });

  it("is retried with backoff while the receiver fails, sending the same signed bytes, until it answers 2xx", async () => {
    const delivery = await pendingDelivery({ statuses: [500, 500] }, { secret: "again" });
    expect(await deliverWebhook(env, delivery.id, 1)).toEqual({ kind: "retry", delaySeconds: 10 });
    expect(await logOf(delivery)).toMatchObject({ status: "pending", statusCode: 500, attempts: 1, lastError: expect.stringContaining("500") });
    expect(await deliverWebhook(env, delivery.id, 2)).toEqual({ kind: "retry", delaySeconds: 20 });
    expect(await deliverWebhook(env, delivery.id, 3)).toEqual({ kind: "done" });
    expect(await logOf(delivery)).toMatchObject({ status: "delivered", statusCode: 200, attempts: 3, lastError: null });
    const requests = await receivedAtLeast(delivery.hook, 3);
    expect(new Set(requests.map((request) => `${request.headers["x-pier-signature"]} ${new TextDecoder().decode(request.body)}`)).size).toBe(1);
  });

  it("is never sent again once delivered (a redelivered message)", async () => {
    const delivery = await pendingDelivery();
    await deliverWebhook(env, delivery.id, 1);
    expect(await deliverWebhook(env, delivery.id, 2)).toEqual({ kind: "done" });
    expect(await received(delivery.hook)).toHaveLength(1);
  });

  it("fails on a redirect, which it does not follow", async () => {
    const delivery = await pendingDelivery({ statuses: [302] });
    expect(await deliverWebhook(env, delivery.id, 1)).toMatchObject({ kind: "retry" });
    expect(await logOf(delivery)).toMatchObject({ status: "pending", statusCode: 302, lastError: expect.stringContaining("redirect") });
    expect(await received(delivery.hook)).toHaveLength(1);
  });

  it("records why a receiver that cannot be reached was not reached", async () => {
    const delivery = await pendingDelivery({}, {}, { key: "", url: "http://127.0.0.1:9/nothing-listens" });
    expect(await deliverWebhook(env, delivery.id, 1)).toMatchObject({ kind: "retry" });
    expect(await logOf(delivery)).toMatchObject({ status: "pending", statusCode: null, attempts: 1, lastError: expect.stringMatching(/.+/) });
  });

  it("of a disabled webhook fails without being sent", async () => {
    const delivery = await pendingDelivery();
    await api(`/projects/${delivery.project}/webhooks/${delivery.webhook}`, { method: "PATCH", body: { enabled: false } });
    expect(await deliverWebhook(env, delivery.id, 1)).toEqual({ kind: "done" });
    expect(await logOf(delivery)).toMatchObject({ status: "failed", lastError: expect.stringContaining("disabled") });
    expect(await received(delivery.hook)).toEqual([]);
  });

  it("that no longer exists (its webhook was deleted) is done without a request", async () => {
    const delivery = await pendingDelivery();
    await api(`/projects/${delivery.project}/webhooks/${delivery.webhook}`, { method: "DELETE" });
    expect(await deliverWebhook(env, delivery.id, 1)).toEqual({ kind: "done" });
    expect(await received(delivery.hook)).toEqual([]);
  });
});

describe("the WEBHOOKS queue's consumer", () => {
  it("acknowledges a delivered message", async () => {
    const delivery = await pendingDelivery();
    const result = await consume("pier-webhooks", { kind: "webhook-delivery", deliveryId: delivery.id });
    expect(result.explicitAcks).toEqual(["m1"]);
  });

  it("asks for the message again when the receiver fails", async () => {
    const delivery = await pendingDelivery({ statuses: [503] });
    const result = await consume("pier-webhooks", { kind: "webhook-delivery", deliveryId: delivery.id }, 3);
    expect(result.retryMessages).toMatchObject([{ msgId: "m1" }]);
    expect(result.explicitAcks).toEqual([]);
  });

  it("marks a dead-lettered delivery failed, keeping the last attempt's error", async () => {
    const delivery = await pendingDelivery({ statuses: [500] });
    await deliverWebhook(env, delivery.id, 6);
    const result = await consume("pier-dead-letters", { kind: "webhook-delivery", deliveryId: delivery.id });
    expect(result.explicitAcks).toEqual(["m1"]);
    expect(await logOf(delivery)).toMatchObject({ status: "failed", statusCode: 500, attempts: 1, lastError: expect.stringContaining("500") });
  });

  it("leaves a delivered delivery delivered when its message is dead-lettered late", async () => {
    const delivery = await pendingDelivery();
    await deliverWebhook(env, delivery.id, 1);
    await consume("pier-dead-letters", { kind: "webhook-delivery", deliveryId: delivery.id });
    expect(await logOf(delivery)).toMatchObject({ status: "delivered" });
  });
});
