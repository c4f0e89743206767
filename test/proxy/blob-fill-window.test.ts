// The window of recent bytes a fill keeps for live readers (durable-objects/blob-fill-window.ts).
import { describe, expect, it } from "vitest";
import { ByteWindow } from "../../durable-objects/blob-fill-window";

function filled(capacity: number, sizes: number[]): ByteWindow {
  const window = new ByteWindow(capacity);
  let next = 0;
  for (const size of sizes) window.push(Uint8Array.from({ length: size }, () => next++ & 0xff));
  return window;
}

describe("ByteWindow", () => {
  it("gives the bytes at an offset, up to the end of their chunk", () => {
    const window = filled(100, [10, 10]);
    const read = window.read(5, 100);
    expect(read).toEqual({ kind: "bytes", bytes: Uint8Array.from([5, 6, 7, 8, 9]) });
    expect(window.read(12, 100)).toEqual({ kind: "bytes", bytes: Uint8Array.from([12, 13, 14, 15, 16, 17, 18, 19]) });
  });

  it("never reaches the limit it is given", () => {
    expect(filled(100, [10]).read(2, 4)).toEqual({ kind: "bytes", bytes: Uint8Array.from([2, 3]) });
  });

  it("says ahead for bytes not received yet, or at the limit", () => {
    const window = filled(100, [10]);
    expect(window.read(10, 100)).toEqual({ kind: "ahead" });
    expect(window.read(4, 4)).toEqual({ kind: "ahead" });
  });

  it("keeps at least its capacity of recent bytes and drops older chunks", () => {
    const window = filled(25, [10, 10, 10, 10]);
    expect(window.read(9, 100)).toEqual({ kind: "behind" });
    expect(window.read(10, 100).kind).toBe("bytes");
    expect(window.read(39, 100)).toEqual({ kind: "bytes", bytes: Uint8Array.from([39]) });
  });

  it("says behind for everything once cleared", () => {
    const window = filled(100, [10]);
    window.clear();
    expect(window.read(5, 100)).toEqual({ kind: "behind" });
  });
});
