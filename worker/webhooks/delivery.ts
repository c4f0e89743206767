// Sending one delivery (a row of webhook_deliveries) to its webhook, as the WEBHOOKS queue's
// consumer (worker/jobs/consumer.ts) asks. A POST of the stored body with
//   Content-Type      application/json (harbor) or application/cloudevents+json (cloudevents)
//   X-Pier-Event      the event type; X-Pier-Delivery: the delivery's id (a receiver's dedup key:
//                     delivery is at least once)
//   X-Pier-Signature  sha256=<hex HMAC-SHA256 of the body>, when the webhook has a secret
// A 2xx answer delivers it. Anything else (another status, a redirect, which is never followed:
// it could send the body and its signature elsewhere; no answer within DELIVERY_TIMEOUT_MS) is
// recorded on the row and retried by the queue with exponential backoff (backoffSeconds); after
// the queue's last retry the message reaches the dead-letter queue, and deliveryDeadLettered
// marks the delivery failed with its last error. A delivery that is no longer pending is never
// sent again, so a redelivered message never posts twice after a success.
import { unseal } from "../auth/sealed";
import type { Bindings } from "../env";
import { backoffSeconds, DONE, type Outcome } from "../jobs/messages";
import { database } from "../storage/db/client";
import { findDeliveryTarget, markDeliveryFailed, recordAttempt } from "../storage/db/queries/webhooks";
import { contentTypeOf } from "./payloads";
import { SIGNATURE_HEADER, secretContext, signatureOf } from "./signature";

export const DELIVERY_TIMEOUT_MS = 10_000;
const USER_AGENT = "Pier-Webhook/1.0";
/** How much of a refusal's body the log keeps: enough to say why, not a page of HTML. */
const ERROR_BODY_CHARS = 200;

interface Attempt {
  statusCode: number | null;
  /** Why it did not deliver; null when it did. */
  error: string | null;
}

export async function deliverWebhook(env: Bindings, deliveryId: string, attempts: number): Promise<Outcome> {
  const db = database(env.DB);
  const target = await findDeliveryTarget(db, deliveryId);
  if (target === null || target.delivery.status !== "pending") return DONE;
  const { delivery, webhook } = target;
  if (webhook === null || !webhook.enabled) {
    await markDeliveryFailed(db, delivery.id, webhook === null ? "the webhook was deleted" : "the webhook was disabled before it was sent", Date.now());
    return DONE;
  }
  const headers: Record<string, string> = {
    "Content-Type": contentTypeOf(webhook.format),
    "User-Agent": USER_AGENT,
    "X-Pier-Event": delivery.eventType,
    "X-Pier-Delivery": delivery.id,
  };
  let attempt: Attempt;
  try {
    if (webhook.secret !== null) {
      const secret = await unseal(env.PIER_CREDENTIALS_KEY, secretContext(delivery.project, delivery.webhook), webhook.secret);
      headers[SIGNATURE_HEADER] = await signatureOf(secret, delivery.payload);
    }
    attempt = await post(webhook.url, delivery.payload, headers);
  } catch (error) {
    // The secret does not open (PIER_CREDENTIALS_KEY replaced): recorded like a failed attempt.
    attempt = { statusCode: null, error: error instanceof Error ? error.message : String(error) };
  }
  const delivered = attempt.error === null;
  await recordAttempt(db, delivery.id, { status: delivered ? "delivered" : "pending", statusCode: attempt.statusCode, lastError: attempt.error }, Date.now());
  return delivered ? DONE : { kind: "retry", delaySeconds: backoffSeconds(attempts) };
}

/** The delivery's message ran out of retries: failed, with the last attempt's error. */
export async function deliveryDeadLettered(env: Bindings, deliveryId: string): Promise<void> {
  await markDeliveryFailed(database(env.DB), deliveryId, "no attempt was made before the queue's retries ran out", Date.now());
}

async function post(url: string, body: string, headers: Record<string, string>): Promise<Attempt> {
  let response: Response;
  try {
    response = await fetch(url, { method: "POST", body, headers, redirect: "manual", signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) });
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    return { statusCode: null, error: timedOut ? `no answer within ${DELIVERY_TIMEOUT_MS / 1000} s` : `the request failed: ${error instanceof Error ? error.message : String(error)}` };
  }
  const { status } = response;
  if (status >= 200 && status < 300) {
    await response.body?.cancel();
    return { statusCode: status, error: null };
  }
  const redirect = status >= 300 && status < 400 ? " (a redirect, which is not followed)" : "";
  const excerpt = await bodyExcerpt(response);
  return { statusCode: status, error: `the receiver answered ${status}${redirect}${excerpt === "" ? "" : `: ${excerpt}`}` };
}

/** The start of a refusal's body, read no further than its first chunk. */
async function bodyExcerpt(response: Response): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  try {
    const { value } = await reader.read();
    return value === undefined ? "" : new TextDecoder().decode(value.subarray(0, ERROR_BODY_CHARS * 4)).slice(0, ERROR_BODY_CHARS).trim();
  } catch {
    return "";
  } finally {
    await reader.cancel().catch((error: unknown) => console.error("closing a webhook receiver's answer failed", error));
  }
}
