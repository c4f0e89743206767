// BlobFill: one Durable Object per digest (`BLOB_FILLS.idFromName(digest)`), the single flight
// of the pull-through cache. However many clients (in however many isolates) miss the same
// blob at once, they reach this one object, and it sends upstream exactly one GET: the first
// request starts a run (blob-fill-run.ts), everyone else joins it and streams the bytes as
// they arrive (blob-fill-reader.ts). The run verifies the digest before the blob is recorded
// and before any reader gets its last byte. When a run ends, the next request starts afresh:
// a failed fill is retried by whoever asks next, a successful one is found in D1.
//
// Joining is per upstream repository: a request for the same digest from another repository
// (or upstream) first asks that upstream with a HEAD whether the repository has it, so a fill
// never hands a repository content its upstream would not serve it.
//
// Everything here is answered as values (FillAnswer), not thrown RegistryErrors: errors do not
// keep their class across RPC, and the worker maps upstream failures to client errors itself.
import { DurableObject } from "cloudflare:workers";
import { configFrom } from "../worker/config";
import type { Bindings } from "../worker/env";
import type { Digest } from "../worker/oci/digest";
import type { RepoName } from "../worker/oci/names";
import { declaredLength } from "../worker/bounded-body";
import { exchangeDeadline, headBlob, upstreamFetch, UpstreamError, type UpstreamFailure } from "../worker/proxy/upstream-client";
import type { Upstream } from "../worker/proxy/upstreams";
import { database } from "../worker/storage/db/client";
import { findRepositoryBlob } from "../worker/storage/db/queries/blobs";
import { readFill } from "./blob-fill-reader";
import { FillRun } from "./blob-fill-run";
import { abortOrphan, MULTIPART_PREFIX, ORPHAN_CHECK_MS, type OpenMultipart } from "./blob-fill-sink";

export interface FillRequest {
  /** The upstream's name; its configuration comes from PIER_UPSTREAMS. */
  upstream: string;
  /** The repository on the upstream. */
  repository: string;
  /** Where the blob is linked once stored: `<upstream>/<repository>`. */
  cacheName: string;
  digest: string;
  /** The part of the blob wanted (already checked against `size`), or null for all of it. */
  range: { offset: number; length: number } | null;
  /** The size the caller expects (a HEAD, a manifest descriptor), used when upstream sends no Content-Length. */
  size?: number;
}

export type FillAnswer =
  /** Recorded in D1 for this cache name: read it like any cached blob. `fetched`: bytes this request had fetched. */
  | { kind: "stored"; fetched: number }
  /** The bytes of the range (or the whole blob) as they arrive. `size` is the whole blob's. */
  | { kind: "streaming"; size: number; body: ReadableStream<Uint8Array>; fetched: number }
  /** Upstream does not have the blob in this repository (404). */
  | { kind: "missing" }
  /** Upstream failed before sending any byte. */
  | { kind: "failed"; failure: UpstreamFailure };

export type FillResult = { kind: "stored"; size: number; fetched: number } | { kind: "missing" } | { kind: "failed"; failure: UpstreamFailure };

/** What starting a fill found. */
type Start = { kind: "run"; run: FillRun } | { kind: "stored"; size: number } | { kind: "missing" } | { kind: "failed"; failure: UpstreamFailure };

interface Flight {
  upstream: string;
  repository: string;
  start: Promise<Start>;
}

type Joined = (Start & { kind: "stored" | "missing" | "failed" }) | { kind: "run"; run: FillRun; started: boolean };

export class BlobFill extends DurableObject<Bindings> {
  /** The fill being started or running; null when none. In memory only: it dies with the object. */
  private flight: Flight | null = null;
  private run: FillRun | null = null;

  async open(request: FillRequest): Promise<FillAnswer> {
    const joined = await this.join(request);
    if (joined.kind === "stored") return { kind: "stored", fetched: 0 };
    if (joined.kind !== "run") return joined;
    const { run, started } = joined;
    if (run.expectedSize === null) {
      // No length to stream against (upstream sent none): wait, then read it from R2.
      const result = await this.settle(run, started ? null : 0);
      return result.kind === "stored" ? { kind: "stored", fetched: result.fetched } : result;
    }
    if (run.state.phase === "failed" && run.received === 0) return { kind: "failed", failure: run.state.failure };
    const range = request.range ?? { offset: 0, length: run.expectedSize };
    if (range.offset < 0 || range.length < 0 || range.offset + range.length > run.expectedSize) {
      return { kind: "failed", failure: { kind: "invalid", message: `the range asked for is outside the blob's ${run.expectedSize} bytes` } };
    }
    return { kind: "streaming", size: run.expectedSize, body: readFill(run, this.env.BLOBS, range.offset, range.length), fetched: started ? run.expectedSize : 0 };
  }

  /** Runs or joins the fill and resolves once it is stored (prefetch uses this). */
  async fill(request: FillRequest): Promise<FillResult> {
    const joined = await this.join(request);
    if (joined.kind === "stored") return { kind: "stored", size: joined.size, fetched: 0 };
    if (joined.kind !== "run") return joined;
    return this.settle(joined.run, joined.started ? null : 0);
  }

  /**
   * Aborts multipart uploads left open by an instance that was evicted or restarted mid-fill
   * (the records FillSink writes); checks again later while a fill is running.
   */
  override async alarm(): Promise<void> {
    const live = this.run?.live ? this.run.uploadId : null;
    let running = false;
    for (const record of (await this.ctx.storage.list<OpenMultipart>({ prefix: MULTIPART_PREFIX })).values()) {
      if (record.uploadId === live) running = true;
      else await abortOrphan(this.env.BLOBS, this.ctx.storage, record);
    }
    if (running) await this.ctx.storage.setAlarm(Date.now() + ORPHAN_CHECK_MS);
  }

  // --- single flight -------------------------------------------------------------------------

  private async join(request: FillRequest): Promise<Joined> {
    for (;;) {
      const flight = this.flight;
      if (flight === null) {
        // Set before the first await: every request arriving from here on joins this one.
        const start = this.start(request);
        const result = await start;
        return result.kind === "run" ? { kind: "run", run: result.run, started: true } : result;
      }
      const result = await flight.start;
      const sameRepository = flight.upstream === request.upstream && flight.repository === request.repository;
      if (result.kind === "run") {
        if (!sameRepository) {
          const confirmed = await this.confirm(request);
          if (confirmed !== null) return confirmed;
        }
        if (!result.run.live) {
          // Ended while we looked: its outcome is in D1 (or it failed); ask again.
          await result.run.done;
          continue;
        }
        result.run.join(request.cacheName as RepoName);
        return { kind: "run", run: result.run, started: false };
      }
      if (sameRepository) return result;
      // Another repository's answer says nothing about this one (and that flight is over,
      // cleared before its answer resolved): start our own.
    }
  }

  private start(request: FillRequest): Promise<Start> {
    const clear = () => {
      if (this.flight === flight) this.flight = null;
    };
    const onStart = (result: Start): Start => {
      if (result.kind !== "run") {
        clear();
        return result;
      }
      const run = result.run;
      this.run = run;
      // Since compatibility date 2026-10-01, promises passed to ctx.waitUntil keep a Durable
      // Object from being evicted: the fill goes on when every client has left.
      this.ctx.waitUntil(
        run.done.then(() => {
          clear();
          if (this.run === run) this.run = null;
        }),
      );
      return result;
    };
    // begin() runs synchronously up to its first await, so no request can slip in before
    // `this.flight` is set below.
    const flight: Flight = {
      upstream: request.upstream,
      repository: request.repository,
      start: this.begin(request).then(onStart, (error: unknown) => {
        clear();
        throw error;
      }),
    };
    this.flight = flight;
    return flight.start;
  }

  private async begin(request: FillRequest): Promise<Start> {
    const digest = request.digest as Digest;
    const stored = await findRepositoryBlob(database(this.env.DB), request.cacheName as RepoName, digest);
    if (stored !== null) return { kind: "stored", size: stored.size };
    const upstream = this.upstream(request.upstream);
    let response: Response;
    try {
      response = await upstreamFetch(this.env, upstream, {
        method: "GET",
        repository: request.repository,
        path: `/v2/${request.repository}/blobs/${digest}`,
        deadline: exchangeDeadline(upstream),
      });
    } catch (error) {
      if (error instanceof UpstreamError) return { kind: "failed", failure: error.failure };
      throw error;
    }
    if (response.status === 404 || response.body === null) {
      await response.body?.cancel();
      return { kind: "missing" };
    }
    const length = declaredLength(response.headers) ?? request.size ?? null;
    return { kind: "run", run: new FillRun(this.env, this.ctx.storage, digest, length, response.body, request.cacheName as RepoName) };
  }

  /** A HEAD asking upstream whether `request.repository` has the digest; null when it does. */
  private async confirm(request: FillRequest): Promise<Joined | null> {
    try {
      return (await headBlob(this.env, this.upstream(request.upstream), request.repository, request.digest)) === null ? { kind: "missing" } : null;
    } catch (error) {
      if (error instanceof UpstreamError) return { kind: "failed", failure: error.failure };
      throw error;
    }
  }

  /** Waits for the run's end. `fetched`: what to report as fetched (null: what the run received). */
  private async settle(run: FillRun, fetched: number | null): Promise<FillResult> {
    const state = await run.done;
    if (state.phase === "released" && state.stored !== null) return { kind: "stored", size: run.received, fetched: fetched ?? run.received };
    if (state.phase === "failed") return { kind: "failed", failure: state.failure };
    return { kind: "failed", failure: { kind: "unreachable", message: `the blob ${run.digest} was fetched but could not be stored` } };
  }

  private upstream(name: string): Upstream {
    const upstream = configFrom(this.env).upstreams.find((candidate) => candidate.name === name);
    if (upstream === undefined) throw new Error(`no upstream named "${name}" in PIER_UPSTREAMS`);
    return upstream;
  }
}
