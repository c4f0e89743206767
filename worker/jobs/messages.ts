// Messages on Pier's queues (wrangler.toml [[queues.*]]). Queue messages are capped at 128 KB,
// so they carry ids; the work itself is described in D1.
//   pier-jobs          prefetches, events from the outbox, listing a replication execution
//   pier-replication   one artifact copy (or deletion) of an execution
//   pier-webhooks      one delivery of an event to a webhook
//   pier-dead-letters  replication and webhook messages that ran out of retries
export type JobMessage =
  | { kind: "prefetch"; jobId: string }
  | { kind: "event"; eventId: string }
  /** One page of an execution's listing: the repositories after `after` (name order; absent: from the first). */
  | { kind: "replication-listing"; executionId: string; after?: string };

export type ReplicationMessage = { kind: "replication-task"; taskId: string };

export type WebhookMessage = { kind: "webhook-delivery"; deliveryId: string };

/** Anything a Pier queue carries; the consumer (consumer.ts) switches over `kind`. */
export type QueueMessage = JobMessage | ReplicationMessage | WebhookMessage;

/** wrangler.toml: pier-jobs has max_retries = 3, so the first delivery plus three retries. */
export const JOB_ATTEMPTS = 4;

/** The dead-letter queue's name (wrangler.toml `dead_letter_queue`): its messages are failures to record. */
export const DEAD_LETTER_QUEUE = "pier-dead-letters";

/**
 * What a handler asks of the queue for its message: acknowledge it, or deliver it again after a
 * delay (a retry with backoff, counted against max_retries; or a wait imposed by a remote's 429,
 * which the handler sends as a new message so that it does not count).
 */
export type Outcome = { kind: "done" } | { kind: "retry"; delaySeconds: number };

export const DONE: Outcome = { kind: "done" };

/** Exponential backoff for the nth delivery that failed (1-based): 10 s, 20 s, 40 s, … at most 10 min. */
export function backoffSeconds(attempts: number): number {
  return Math.min(600, 10 * 2 ** Math.max(0, attempts - 1));
}
