// The Worker's bindings (wrangler.toml) and the configuration derived from them,
// parsed and validated once per isolate so that a bad setting fails loudly.
import type { UploadSession } from "../durable-objects/upload-session";

export interface Bindings {
  BLOBS: R2Bucket;
  DB: D1Database;
  UPLOAD_SESSIONS: DurableObjectNamespace<UploadSession>;
  /** Largest request body accepted, in bytes (a decimal string). */
  PIER_MAX_BODY_BYTES?: string;
}
