// The one error catalogue. Every failure a client can see is a RegistryError with a code from
// the OCI distribution spec v1.1 ("Error Codes", code-1 … code-14) and the HTTP status the
// reference implementation (CNCF distribution) uses for it. Services throw; `renderError`
// in worker/app.ts turns the error into the spec's JSON body:
//   {"errors": [{"code": "...", "message": "...", "detail": ...}]}

export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: "blob unknown to registry" },
  BLOB_UPLOAD_INVALID: { status: 400, message: "blob upload invalid" },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: "blob upload unknown to registry" },
  DIGEST_INVALID: { status: 400, message: "provided digest did not match uploaded content" },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: "manifest references a manifest or blob unknown to registry" },
  MANIFEST_INVALID: { status: 400, message: "manifest invalid" },
  MANIFEST_UNKNOWN: { status: 404, message: "manifest unknown to registry" },
  NAME_INVALID: { status: 400, message: "invalid repository name" },
  NAME_UNKNOWN: { status: 404, message: "repository name not known to registry" },
  SIZE_INVALID: { status: 400, message: "provided length did not match content length" },
  TAG_INVALID: { status: 400, message: "manifest tag did not match URI" },
  UNAUTHORIZED: { status: 401, message: "authentication required" },
  DENIED: { status: 403, message: "requested access to the resource is denied" },
  UNSUPPORTED: { status: 405, message: "the operation is unsupported" },
  TOOMANYREQUESTS: { status: 429, message: "too many requests" },
  // The management API (/api/v1) only: a request body that is not what the endpoint takes.
  INVALID_REQUEST: { status: 400, message: "invalid request" },
  // The management API (/api/v1) only: the name asked for (user, project, robot) is taken.
  CONFLICT: { status: 409, message: "the name is already taken" },
  // Not a client mistake: storage, a platform service or an upstream failed. Upstream failures
  // carry 502 (bad answer) or 504 (no answer in time) instead of 500.
  UNKNOWN: { status: 500, message: "unknown error" },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface RegistryErrorOptions {
  /** Overrides the catalogue's status where the spec asks for another (413, 416, 202…). */
  status?: number;
  /** Structured detail for the client (the spec's optional `detail` member). */
  detail?: unknown;
  /** Headers the answer must carry, e.g. `Range` and `Location` on a 416 during an upload. */
  headers?: Record<string, string>;
}

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, options: RegistryErrorOptions = {}) {
    super(message ?? ERROR_CODES[code].message);
    this.name = "RegistryError";
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code].status;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
  }
}

/** The spec's error body for one error. */
export function errorBody(error: RegistryError): string {
  const entry: { code: string; message: string; detail?: unknown } = {
    code: error.code,
    message: error.message,
  };
  if (error.detail !== undefined) entry.detail = error.detail;
  return JSON.stringify({ errors: [entry] });
}
