// The token bucket behind per-principal and per-IP rate limits: a bucket holds up to
// `capacity` tokens and gains `refillPerSecond`; a request takes one (or `cost`) or is refused
// with how long until enough are back. Pure arithmetic, so that the Durable Object holding a
// bucket (durable-objects/rate-limiter.ts) only keeps state and the rules can be tested alone.

export interface BucketRule {
  capacity: number;
  refillPerSecond: number;
}

export interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms since the epoch). */
  updatedAt: number;
}

export type TakeResult = { allowed: true; remaining: number } | { allowed: false; retryAfterSeconds: number };

/** A full bucket: a principal that was quiet may burst up to `capacity`. */
export function fullBucket(rule: BucketRule, now: number): Bucket {
  return { tokens: rule.capacity, updatedAt: now };
}

/** Takes `cost` tokens if the bucket has them; returns the bucket's next state and the answer. */
export function take(bucket: Bucket, rule: BucketRule, now: number, cost = 1): { bucket: Bucket; result: TakeResult } {
  const elapsedSeconds = Math.max(0, now - bucket.updatedAt) / 1000;
  const tokens = Math.min(rule.capacity, bucket.tokens + elapsedSeconds * rule.refillPerSecond);
  if (tokens >= cost) {
    return { bucket: { tokens: tokens - cost, updatedAt: now }, result: { allowed: true, remaining: Math.floor(tokens - cost) } };
  }
  // Retry-After is in whole seconds (RFC 9110); rounding up never invites a retry that fails.
  const retryAfterSeconds = rule.refillPerSecond > 0 ? Math.max(1, Math.ceil((cost - tokens) / rule.refillPerSecond)) : Number.MAX_SAFE_INTEGER;
  return { bucket: { tokens, updatedAt: now }, result: { allowed: false, retryAfterSeconds } };
}
