// The Worker's bindings (wrangler.toml) and the configuration derived from them,
// parsed and validated once per isolate so that a bad setting fails loudly.
import type { BlobFill } from "../durable-objects/blob-fill";
import type { ManifestRefresh } from "../durable-objects/manifest-refresh";
import type { RateLimiter } from "../durable-objects/rate-limiter";
import type { RegistryLock } from "../durable-objects/registry-lock";
import type { SignInThrottle } from "../durable-objects/sign-in-throttle";
import type { UploadSession } from "../durable-objects/upload-session";
import type { JobMessage, ReplicationMessage, WebhookMessage } from "./jobs/messages";

export interface Bindings {
  BLOBS: R2Bucket;
  DB: D1Database;
  UPLOAD_SESSIONS: DurableObjectNamespace<UploadSession>;
  /** One object per digest being fetched from an upstream (single flight). */
  BLOB_FILLS: DurableObjectNamespace<BlobFill>;
  /** One object per cached manifest reference being looked up upstream (single flight). */
  MANIFEST_REFRESHES: DurableObjectNamespace<ManifestRefresh>;
  /** One token bucket per rate-limited principal or client IP. */
  RATE_LIMITERS: DurableObjectNamespace<RateLimiter>;
  /** Failed sign-ins, counted per client address, per login name and per (name, address). */
  SIGN_IN_THROTTLES: DurableObjectNamespace<SignInThrottle>;
  /** The one object ("gc") that serialises garbage collection runs. */
  REGISTRY_LOCK: DurableObjectNamespace<RegistryLock>;
  /** Background work: cache prefetches, events, replication listings (worker/jobs). */
  JOBS: Queue<JobMessage>;
  /** One message per artifact a replication execution copies (worker/replication). */
  REPLICATION: Queue<ReplicationMessage>;
  /** One message per webhook delivery (worker/webhooks). */
  WEBHOOKS: Queue<WebhookMessage>;
  /** Largest request body accepted, in bytes (a decimal string). */
  PIER_MAX_BODY_BYTES?: string;
  /** Upstream registries: a JSON string (.dev.vars) or an array (wrangler.toml [vars]). */
  PIER_UPSTREAMS?: unknown;
  /** Name of the upstream that unprefixed mirror reads go to. */
  PIER_MIRROR_DEFAULT?: string;
  /** Secret: the password of the `admin` user. Required. */
  ADMIN_PASSWORD?: string;
  /** Secret: the private JWK (ES256) registry tokens are signed with. Required. */
  PIER_SIGNING_KEY?: string;
  /** Secret: the key before the last rotation (a JWK, public part enough); verifies only. Optional. */
  PIER_SIGNING_KEY_PREVIOUS?: string;
  /** Secret: 32 bytes (base64url) that seal stored credentials and webhook secrets (worker/auth/sealed.ts). */
  PIER_CREDENTIALS_KEY?: string;
  /** Pier's public origin when it sits behind another hostname (token realm, Location headers). */
  PUBLIC_URL?: string;
  /** Lifetime of issued registry tokens, seconds (default 900). */
  PIER_TOKEN_LIFETIME_SECONDS?: string;
  /** Registry requests per second per principal or client IP (default 100; "0": no limit). */
  PIER_RATE_LIMIT_PER_SECOND?: string;
  /** Seconds before a GC run's start within which anything written is kept (default 3600; "0" for tests). */
  PIER_GC_GRACE_SECONDS?: string;
  /** Days audit records are kept before the scheduler purges them (default 180). */
  PIER_AUDIT_RETENTION_DAYS?: string;
  /** "off": no JSON log line per request (worker/request-log.ts); on otherwise. */
  PIER_REQUEST_LOG?: string;
  /** "true": any signed-in user may create projects, not only admins. */
  PIER_USERS_CREATE_PROJECTS?: string;
}

/** A request's (or a queue batch's) waitUntil: work that may finish after the answer. */
export type WaitUntil = (promise: Promise<unknown>) => void;
