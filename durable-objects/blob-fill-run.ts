// One attempt at fetching a blob from upstream: exactly one GET, whose body is read by this
// loop (not by any client, so a client that leaves does not stop it) and sent three ways as it
// arrives: into the native digest (crypto.DigestStream, no JavaScript hashing), into R2 through
// a FillSink, and into a window of the most recent bytes that readers (blob-fill-reader.ts)
// stream from. The window is bounded (WINDOW_BYTES), so memory stays flat whatever the clients'
// speeds: a reader that falls out of it waits for the end and continues from R2.
//
// Nothing is visible until the digest checked: the blob is recorded in D1 only after the hash
// matched and R2 holds the bytes, and readers are given the last byte of their range only then
// (`released`). A mismatch, a short body or a dead upstream fails the run: the sink discards its
// parts, nothing is recorded, and every reader's stream errors, so no client ever sees a
// complete, successful response made of wrong bytes.
import type { Bindings } from "../worker/env";
import { type Digest, digestAlgorithm, digestHex, toHex, webCryptoName } from "../worker/oci/digest";
import type { RepoName } from "../worker/oci/names";
import type { UpstreamFailure } from "../worker/proxy/upstream-client";
import { linkStoredBlob, recordStoredBlob } from "../worker/services/content-writes";
import type { BlobLocation } from "../worker/storage/db/queries/blobs";
import { FillSink } from "./blob-fill-sink";
import { ByteWindow } from "./blob-fill-window";

/**
 * Recent bytes kept for live readers. With the part being cut (views on the same chunks) and one
 * part in flight to R2, a fill holds about WINDOW_BYTES + PART_SIZE: ~24 MiB of the isolate's
 * 128 MB, which other objects of the class may share.
 */
const WINDOW_BYTES = 16 * 1024 * 1024;
/**
 * Upstream bodies arrive in pieces of a few KiB; reading them into buffers of this size cuts
 * the JavaScript work per byte (hashing call, window entry, reader wake-ups) by an order of
 * magnitude, and costs a live reader at most this much latency.
 */
const CHUNK_BYTES = 64 * 1024;
/** An upstream body that sends nothing for this long is dead: the fill fails. */
const STALL_MS = 30_000;

export type RunState =
  | { phase: "receiving" }
  /** The digest checked and the blob is recorded where `stored` says (null: storing failed). */
  | { phase: "released"; stored: BlobLocation | null }
  | { phase: "failed"; failure: UpstreamFailure };

export class FillRun {
  readonly window = new ByteWindow(WINDOW_BYTES);
  /** Bytes received from upstream so far. */
  received = 0;
  state: RunState = { phase: "receiving" };
  /** Every cache name that asked for the blob during this run; all are linked on success. */
  private readonly cacheNames = new Set<RepoName>();
  private readonly linked = new Set<RepoName>();
  private readonly sink: FillSink;
  private wake: () => void = () => {};
  private changed = new Promise<void>((resolve) => (this.wake = resolve));
  /** Resolves when the run is over (released or failed). Never rejects. */
  readonly done: Promise<RunState>;

  constructor(
    private readonly env: Bindings,
    private readonly storage: DurableObjectStorage,
    readonly digest: Digest,
    /** Content-Length (or the caller's size when upstream gave none); null when unknown. */
    readonly expectedSize: number | null,
    body: ReadableStream<Uint8Array>,
    firstCacheName: RepoName,
  ) {
    this.cacheNames.add(firstCacheName);
    this.sink = new FillSink(env.BLOBS, storage, digest);
    this.done = this.pump(body).catch((error: unknown) => {
      console.error(`blob fill: ${digest} failed`, error);
      return this.fail(null, { kind: "unreachable", message: `the fill failed: ${(error as Error).message}` });
    });
  }

  get uploadId(): string | null {
    return this.sink.uploadId;
  }

  /** False once the run is over: a new request must start (or find) the next one. */
  get live(): boolean {
    return this.state.phase === "receiving";
  }

  join(cacheName: RepoName): void {
    this.cacheNames.add(cacheName);
  }

  /** Resolves at the next change: more bytes, the release, or the failure. */
  nextChange(): Promise<void> {
    return this.changed;
  }

  private notify(): void {
    const wake = this.wake;
    this.changed = new Promise<void>((resolve) => (this.wake = resolve));
    wake();
  }

  private finish(state: Exclude<RunState, { phase: "receiving" }>): RunState {
    this.state = state;
    // Failed: nobody may read these bytes any more. (Released: readers still streaming keep
    // the run, and so the window, alive until they are done; the object lets go of it.)
    if (state.phase === "failed") this.window.clear();
    this.notify();
    return state;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<RunState> {
    const hasher = new crypto.DigestStream(webCryptoName(digestAlgorithm(this.digest)));
    const hash = hasher.getWriter();
    const reader = body.getReader({ mode: "byob" });
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array> | "stalled";
      try {
        next = await readWithin(reader, STALL_MS);
      } catch (error) {
        // Upstream dropped the connection: nothing of this run survives.
        return this.fail(reader, { kind: "unreachable", message: `the blob body failed after ${this.received} bytes: ${(error as Error).message}` });
      }
      if (next === "stalled") return this.fail(reader, { kind: "unreachable", message: `the blob body stalled for ${STALL_MS} ms` });
      if (next.done) break;
      const chunk = next.value;
      if (chunk.byteLength === 0) continue;
      if (this.expectedSize !== null && this.received + chunk.byteLength > this.expectedSize) {
        return this.fail(reader, { kind: "invalid", message: `the blob body is longer than its ${this.expectedSize} bytes` });
      }
      this.received += chunk.byteLength;
      try {
        await hash.write(chunk);
        this.window.push(chunk);
        this.notify();
        await this.sink.write(chunk);
      } catch (error) {
        // Storage failed, not upstream; to a waiting client it is the same: no blob this time.
        console.error(`blob fill: writing ${this.digest} failed`, error);
        return this.fail(reader, { kind: "unreachable", message: `storing the blob failed: ${(error as Error).message}` });
      }
    }
    if (this.expectedSize !== null && this.received !== this.expectedSize) {
      return this.fail(null, { kind: "unreachable", message: `the blob body ended after ${this.received} of ${this.expectedSize} bytes` });
    }
    await hash.close();
    const actual = toHex(await hasher.digest);
    if (actual !== digestHex(this.digest)) {
      return this.fail(null, { kind: "invalid", message: `the bytes upstream sent for ${this.digest} hash to ${digestAlgorithm(this.digest)}:${actual}` });
    }
    return this.finish({ phase: "released", stored: await this.store() });
  }

  /**
   * Verified bytes: R2 first, then D1, so that the blob is visible only once its bytes are
   * durable. Storing can still fail (R2 or D1 down); the bytes are right, so readers still get
   * them from the window, but the blob is not cached and the next request fetches it again.
   */
  private async store(): Promise<BlobLocation | null> {
    let key: string;
    try {
      key = await this.sink.finish();
    } catch (error) {
      console.error(`blob fill: storing ${this.digest} in R2 failed`, error);
      await this.sink.discard();
      return null;
    }
    const [first] = this.cacheNames;
    let location: BlobLocation;
    try {
      // Another writer may have recorded the digest first; then its copy stays and ours goes.
      location = await recordStoredBlob(this.env, first!, { digest: this.digest, size: this.received, objectKey: key });
    } catch (error) {
      console.error(`blob fill: recording ${this.digest} failed`, error);
      // Our object (a key of its own, worker/storage/keys.ts) is garbage nothing points at.
      await this.env.BLOBS.delete(key).catch(() => {});
      return null;
    }
    this.linked.add(first!);
    try {
      // Names that joined while D1 was being written are linked too; after the last await
      // below nothing can join unseen (the object runs one event at a time).
      for (let pending = this.unlinked(); pending.length > 0; pending = this.unlinked()) {
        for (const name of pending) {
          // Just recorded and linked, the blob cannot be tombstoned unless every link went meanwhile.
          if (!(await linkStoredBlob(this.env, name, this.digest))) console.warn(`blob fill: ${this.digest} was collected before ${name} was linked`);
          this.linked.add(name);
        }
      }
    } catch (error) {
      // The blob is stored; a name left unlinked finds it on its next request (after an
      // upstream HEAD, worker/proxy/blob-cache.ts).
      console.error(`blob fill: linking ${this.digest} failed`, error);
    }
    return location;
  }

  private unlinked(): RepoName[] {
    return [...this.cacheNames].filter((name) => !this.linked.has(name));
  }

  private async fail(reader: ReadableStreamBYOBReader | null, failure: UpstreamFailure): Promise<RunState> {
    await reader?.cancel().catch(() => {});
    await this.sink.discard();
    return this.finish({ phase: "failed", failure });
  }
}

/** The next CHUNK_BYTES (fewer at the end), or "stalled" when nothing arrives within `ms`. */
async function readWithin(reader: ReadableStreamBYOBReader, ms: number): Promise<ReadableStreamReadResult<Uint8Array> | "stalled"> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const stalled = new Promise<"stalled">((resolve) => (timer = setTimeout(() => resolve("stalled"), ms)));
  try {
    return await Promise.race([reader.readAtLeast(CHUNK_BYTES, new Uint8Array(CHUNK_BYTES)), stalled]);
  } finally {
    clearTimeout(timer);
  }
}
