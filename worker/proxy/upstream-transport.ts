// The bottom of talking to another registry (upstream-client.ts): whom Pier talks to (a Peer),
// how a failure is described (UpstreamError), and one fetch() with its time bounds. A leaf:
// upstream-auth.ts and upstream-client.ts both build on it, and it imports neither.

/** A registry Pier talks to: an upstream of the pull-through cache, or a remote registry. */
export interface Peer {
  /** Named in errors: the upstream's or the remote registry's name. */
  name: string;
  /** Its origin, e.g. https://registry-1.docker.io: the only origin its credentials go to. */
  url: string;
  /** Bound on each request until its answer's headers arrive (see timedFetch). */
  timeoutMs: number;
  /** `Basic …` for its credentials, or null for anonymous access. */
  credentials: string | null;
  /**
   * Keys what is remembered about it (challenge, tokens). It changes when its credentials do (a
   * remote registry's includes its updated_at), so a token of old credentials is never reused.
   */
  cacheKey: string;
  userAgent: string;
}

export type UpstreamFailure =
  | { kind: "timeout"; ms: number }
  | { kind: "unreachable"; message: string }
  /** It answered, but not with anything Pier can use (a redirect loop, bytes of the wrong digest). */
  | { kind: "invalid"; message: string }
  /** `detail`: the registry's own words (its error body), for requests other than GET and HEAD. */
  | { kind: "status"; status: number; retryAfter: string | null; detail?: string };

/** The registry could not give an answer Pier can use. Services map it to the client's error. */
export class UpstreamError extends Error {
  override name = "UpstreamError";
  constructor(
    readonly upstream: string,
    readonly failure: UpstreamFailure,
  ) {
    super(describeFailure(upstream, failure));
  }
}

/** The failure in words; also the message of client errors (upstream-errors.ts). */
export function describeFailure(upstream: string, failure: UpstreamFailure): string {
  switch (failure.kind) {
    case "timeout":
      return `upstream ${upstream} did not answer within ${failure.ms} ms`;
    case "unreachable":
      return `upstream ${upstream} could not be reached: ${failure.message}`;
    case "invalid":
      return `upstream ${upstream} sent an unusable answer: ${failure.message}`;
    case "status":
      return `upstream ${upstream} answered HTTP ${failure.status}${failure.detail === undefined ? "" : ` (${failure.detail})`}`;
  }
}

/** A body sent as it is (a manifest), or streamed with its exact length (a blob, a chunk). */
export type RequestBody = Uint8Array | { stream: ReadableStream<Uint8Array>; length: number };

/**
 * fetch() that gives up when the answer's headers have not arrived in time (upstream-client.ts says why): a
 * body-less request by its own bound, one with a body by the peer's timeout plus the time its
 * body takes at MIN_SEND_BYTES_PER_MS (a stalled upload is given up; a slow one is not).
 */
export async function timedFetch(peer: Peer, url: URL, init: RequestInit, deadline: number, body?: RequestBody): Promise<Response> {
  const ms = body === undefined ? Math.max(1, Math.min(peer.timeoutMs, deadline - Date.now())) : peer.timeoutMs + sendingTimeMs(body);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  const sent = body === undefined ? undefined : outgoing(body);
  try {
    return await fetch(url, { ...init, body: sent?.body, signal: controller.signal });
  } catch (error) {
    // The source of a streamed body failing is the source's failure, not the registry's.
    const sourceFailure = sent?.sourceFailure() ?? null;
    if (sourceFailure !== null) throw sourceFailure;
    if (controller.signal.aborted) throw new UpstreamError(peer.name, { kind: "timeout", ms });
    throw new UpstreamError(peer.name, { kind: "unreachable", message: (error as Error).message });
  } finally {
    // Headers are in: the answer's body may take as long as it needs.
    clearTimeout(timer);
  }
}

/** Bodies are sent at least this fast (bytes per ms, 1 MB/s) before a request is given up. */
const MIN_SEND_BYTES_PER_MS = 1_000;

/** How long sending `body` may take on top of the answer's timeout. */
function sendingTimeMs(body: RequestBody): number {
  return Math.ceil((body instanceof Uint8Array ? body.byteLength : body.length) / MIN_SEND_BYTES_PER_MS);
}

/**
 * The body as fetch() takes it. A stream goes through a FixedLengthStream, so that its length is
 * sent as Content-Length (registries refuse chunked uploads) and a source that ends early or runs
 * long fails the request instead of sending something else. The copy into it is pipeTo, native
 * end to end: with a JavaScript step per chunk (to count progress) bench:replication's push of
 * 1 GiB took 14.1 s instead of 6.0 s. `sourceFailure` says afterwards whether the copy, not the
 * registry, broke the request.
 */
function outgoing(body: RequestBody): { body: BodyInit; sourceFailure: () => unknown } {
  if (body instanceof Uint8Array) return { body, sourceFailure: () => null };
  const sized = new FixedLengthStream(body.length);
  let failure: unknown = null;
  // Its failure is the request's: fetch() rejects, and sourceFailure() says why.
  body.stream.pipeTo(sized.writable).catch((error: unknown) => (failure = error ?? new Error("the body's source failed")));
  return { body: sized.readable, sourceFailure: () => failure };
}

