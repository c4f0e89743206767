// A replication policy's bandwidth limit (bandwidthMbps): blob streams are paced so that the
// long-run rate of one copy stays at or under the bound. One Pacer is shared by every blob a
// copy streams at once, so concurrent layers share the bound instead of each getting it.
//
// Pacing is a virtual clock: each chunk is released at its due time, and the next one is due
// a chunk's worth of transmission time later (bytes / rate). Idle time is not banked, so a
// stream that waited on its source does not burst afterwards; over any span T at most
// rate × T bytes plus one chunk pass. The arithmetic (`delayFor`) is pure and tested with an
// injected clock; only `pass` sleeps.

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class Pacer {
  /** When (ms on the clock) the next chunk may go. */
  private due = Number.NEGATIVE_INFINITY;

  constructor(
    readonly bytesPerSecond: number,
    private readonly clock: Clock = realClock,
  ) {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond)) throw new RangeError(`a bandwidth limit must be a positive number of bytes per second, not ${bytesPerSecond}`);
  }

  /** How long (ms) a chunk of `bytes` must wait before it goes; books its transmission time. */
  delayFor(bytes: number): number {
    const now = this.clock.now();
    const start = Math.max(this.due, now);
    this.due = start + (bytes * 1000) / this.bytesPerSecond;
    return start - now;
  }

  /** Waits until a chunk of `bytes` may go. */
  async pass(bytes: number): Promise<void> {
    const wait = this.delayFor(bytes);
    if (wait > 0) await this.clock.sleep(wait);
  }
}

/** `stream`, with its chunks released no faster than `limit` allows (a Pacer, or bytes per second). */
export function throttled(stream: ReadableStream<Uint8Array>, limit: Pacer | number, clock: Clock = realClock): ReadableStream<Uint8Array> {
  const pacer = typeof limit === "number" ? new Pacer(limit, clock) : limit;
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      async transform(chunk, controller) {
        await pacer.pass(chunk.byteLength);
        controller.enqueue(chunk);
      },
    }),
  );
}
