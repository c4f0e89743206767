// The bandwidth limit of a replication copy (worker/replication/throttle.ts): chunks are paced so
// that the long-run rate stays at or under the bound. Tested against a clock the test moves, so
// nothing here waits on real time.
import { describe, expect, it } from "vitest";
import { type Clock, Pacer, throttled } from "../../worker/replication/throttle";

/** A clock that only moves when told, or when something sleeps on it (recorded). */
function fakeClock(): Clock & { advance(ms: number): void; slept: number[]; time: number } {
  const clock = {
    time: 0,
    slept: [] as number[],
    now: () => clock.time,
    advance: (ms: number) => void (clock.time += ms),
    sleep: async (ms: number) => {
      clock.slept.push(ms);
      clock.time += ms;
    },
  };
  return clock;
}

describe("a pacer", () => {
  it("lets the first chunk go at once", () => {
    const pacer = new Pacer(1000, fakeClock());
    expect(pacer.delayFor(500)).toBe(0);
  });

  it("delays a chunk sent right after another by the first one's transmission time at the bound", () => {
    const pacer = new Pacer(1000, fakeClock());
    pacer.delayFor(500);
    expect(pacer.delayFor(200)).toBe(500);
    expect(pacer.delayFor(100)).toBe(700);
  });

  it("keeps the long-run rate at or under the bound however the chunks are sized", async () => {
    const clock = fakeClock();
    const pacer = new Pacer(4096, clock);
    const sizes = [1, 5000, 300, 8192, 17, 4096, 60000, 2];
    let sent = 0;
    for (const size of sizes) {
      await pacer.pass(size);
      // When a chunk leaves, everything before it fitted in the time elapsed at the bound.
      expect(sent).toBeLessThanOrEqual((clock.time / 1000) * 4096);
      sent += size;
    }
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(clock.time).toBeCloseTo(((total - sizes[sizes.length - 1]!) / 4096) * 1000, 6);
  });

  it("does not bank idle time: a stream that waited on its source does not burst afterwards", () => {
    const clock = fakeClock();
    const pacer = new Pacer(1000, clock);
    pacer.delayFor(100);
    clock.advance(60_000);
    expect(pacer.delayFor(1000)).toBe(0);
    expect(pacer.delayFor(1000)).toBe(1000);
  });

  it("shares the bound between streams that use it at once", () => {
    const pacer = new Pacer(1000, fakeClock());
    expect(pacer.delayFor(1000)).toBe(0);
    // A second stream's chunk queues behind the first stream's.
    expect(pacer.delayFor(1000)).toBe(1000);
    expect(pacer.delayFor(1000)).toBe(2000);
  });

  it("refuses a bound that is not a positive number", () => {
    for (const bound of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => new Pacer(bound)).toThrow(RangeError);
  });
});

describe("a throttled stream", () => {
  it("passes every byte unchanged, in order, sleeping as the pacer says", async () => {
    const clock = fakeClock();
    const chunks = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5]), new Uint8Array([6])];
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk);
        controller.close();
      },
    });
    const out = new Uint8Array(await new Response(throttled(source, 1, clock)).arrayBuffer());
    expect([...out]).toEqual([1, 2, 3, 4, 5, 6]);
    // 1 byte/s: the second chunk waits for the first's 3 bytes, the third for 3 + 2.
    expect(clock.slept).toEqual([3000, 2000]);
  });
});
