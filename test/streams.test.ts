// readAtMost: bodies parsed whole (manifests, upstream JSON) are bounded, whoever sends them.
import { describe, expect, it } from "vitest";
import { readAtMost } from "../worker/streams";
import { streamOf } from "./helpers/registry";

describe("readAtMost", () => {
  it("returns the whole body when it fits", async () => {
    const bytes = new Uint8Array(1000).fill(7);
    expect(await readAtMost(streamOf(bytes, 64), 1000)).toEqual(bytes);
  });

  it("returns null, and stops reading, when the body is longer than the limit", async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    expect(await readAtMost(endless, 10_000)).toBeNull();
    expect(pulled).toBeLessThan(20);
  });

  it("reads no body as empty", async () => {
    expect(await readAtMost(null, 10)).toEqual(new Uint8Array(0));
  });
});
