// The token bucket behind per-principal and per-IP rate limits (and, counting failures, the
// sign-in throttle: worker/auth/sign-in-rules.ts): a bucket holds up to `capacity` tokens and
// gains `refillPerSecond`; an isolate leases some, or is refused with how long until one is back.
// Pure arithmetic, so that the Durable Objects holding buckets only keep state and the rules can
// be tested alone.

export interface BucketRule {
  capacity: number;
  refillPerSecond: number;
}

export interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms since the epoch). */
  updatedAt: number;
}

/** A full bucket: a principal that was quiet may burst up to `capacity`. */
export function fullBucket(rule: BucketRule, now: number): Bucket {
  return { tokens: rule.capacity, updatedAt: now };
}

export type LeaseResult = { granted: number } | { granted: 0; retryAfterSeconds: number };

/**
 * Takes as many whole tokens as the bucket has, up to `most`: a lease, which the caller spends
 * itself without asking again for each one. Refused, with when one is back, when not even one is.
 */
export function takeUpTo(bucket: Bucket, rule: BucketRule, now: number, most: number): { bucket: Bucket; result: LeaseResult } {
  const tokens = refilled(bucket, rule, now);
  const granted = Math.min(most, Math.floor(tokens));
  if (granted >= 1) return { bucket: { tokens: tokens - granted, updatedAt: now }, result: { granted } };
  return { bucket: { tokens, updatedAt: now }, result: { granted: 0, retryAfterSeconds: secondsUntil(1, tokens, rule) } };
}

/** The tokens the bucket holds at `now`. */
export function refilled(bucket: Bucket, rule: BucketRule, now: number): number {
  const elapsedSeconds = Math.max(0, now - bucket.updatedAt) / 1000;
  return Math.min(rule.capacity, bucket.tokens + elapsedSeconds * rule.refillPerSecond);
}

/** Retry-After is in whole seconds (RFC 9110); rounding up never invites a retry that fails. */
export function secondsUntil(cost: number, tokens: number, rule: BucketRule): number {
  return rule.refillPerSecond > 0 ? Math.max(1, Math.ceil((cost - tokens) / rule.refillPerSecond)) : Number.MAX_SAFE_INTEGER;
}

