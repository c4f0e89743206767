// RateLimiter: one Durable Object per rate-limited key (a principal, or a client IP, with the
// rule's name: `registry:ip:203.0.113.7`), holding one token bucket (worker/auth/token-bucket.ts).
// Keyed per principal or IP, never one global object: each object sees only its own traffic.
//
// The bucket lives in memory. An object that has been idle long enough to be evicted comes back
// with a full bucket, which is what an idle bucket would have refilled to anyway; a client
// sending continuously keeps its object, and so its count, alive.
import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../worker/env";
import { type Bucket, type BucketRule, fullBucket, type LeaseResult, takeUpTo } from "../worker/auth/token-bucket";

export class RateLimiter extends DurableObject<Bindings> {
  private bucket: Bucket | null = null;

  /** Takes up to `most` tokens at once, for a Worker isolate to spend itself (worker/auth/request-limit.ts). */
  lease(rule: BucketRule, most: number): LeaseResult {
    const now = Date.now();
    const taken = takeUpTo(this.bucket ?? fullBucket(rule, now), rule, now, most);
    this.bucket = taken.bucket;
    return taken.result;
  }
}
