import { describe, it, expect } from "vitest";
import { ResumableSha256 } from "../../worker/hash/sha256";

// Deterministic pseudo-random bytes and sizes (xorshift32), so failures reproduce.
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

function bytes(n: number, seed = n + 1): Uint8Array {
  const next = rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = next() & 0xff;
  return out;
}

async function webCryptoHex(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function hashOf(...pieces: Uint8Array[]): string {
  const h = new ResumableSha256();
  for (const p of pieces) h.update(p);
  return h.digestHex();
}

describe("ResumableSha256", () => {
  it("matches WebCrypto for every length from 0 to 200 bytes", async () => {
    const data = bytes(200);
    for (let n = 0; n <= 200; n++) {
      expect(hashOf(data.subarray(0, n)), `length ${n}`).toBe(await webCryptoHex(data.subarray(0, n)));
    }
  });

  it("matches the published digests of the empty string and 'abc'", () => {
    expect(hashOf()).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(hashOf(new TextEncoder().encode("abc"))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });

  it("matches WebCrypto for large inputs of awkward sizes", async () => {
    for (const n of [1024 * 1024 + 17, 3 * 65536 - 1, 100_000]) {
      const data = bytes(n);
      expect(hashOf(data), `length ${n}`).toBe(await webCryptoHex(data));
    }
  });

  it("hashes a view into a larger buffer without reading outside it", async () => {
    const backing = bytes(4096);
    const view = backing.subarray(13, 13 + 1000);
    expect(hashOf(view)).toBe(await webCryptoHex(view.slice()));
  });

  it("gives the same digest however the input is split into pieces", async () => {
    const data = bytes(300_000);
    const want = await webCryptoHex(data);
    for (let seed = 1; seed <= 8; seed++) {
      const next = rng(seed * 7919);
      const h = new ResumableSha256();
      for (let pos = 0; pos < data.length; ) {
        const size = seed % 2 ? next() % 200 : next() % 20_000; // includes empty pieces
        h.update(data.subarray(pos, pos + size));
        pos += size;
      }
      expect(h.bytesHashed).toBe(data.length);
      expect(h.digestHex(), `seed ${seed}`).toBe(want);
    }
  });

  it("gives the same digest when the state is exported and restored mid-block", async () => {
    const data = bytes(1000);
    const want = await webCryptoHex(data);
    for (const cut of [0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 500, 999, 1000]) {
      const first = new ResumableSha256();
      first.update(data.subarray(0, cut));
      const state = first.exportState();
      expect(state.length, `cut ${cut}`).toBe(40 + (cut % 64));
      const resumed = ResumableSha256.restore(state);
      expect(resumed.bytesHashed).toBe(cut);
      resumed.update(data.subarray(cut));
      expect(resumed.digestHex(), `cut ${cut}`).toBe(want);
    }
  });

  it("survives an export and restore after every piece of a long stream", async () => {
    const data = bytes(1024 * 1024 + 17);
    const next = rng(42);
    let state = new ResumableSha256().exportState();
    for (let pos = 0; pos < data.length; ) {
      const size = next() % 70_000;
      const h = ResumableSha256.restore(state.slice()); // a copy, as if read back from storage
      h.update(data.subarray(pos, pos + size));
      state = h.exportState();
      pos += size;
    }
    expect(ResumableSha256.restore(state).digestHex()).toBe(await webCryptoHex(data));
  });

  it("leaves the state untouched when a digest is taken, so updates can continue", async () => {
    const data = bytes(5000);
    const h = new ResumableSha256();
    for (const cut of [0, 3, 64, 119, 1000, 5000]) {
      h.update(data.subarray(h.bytesHashed, cut));
      const before = h.exportState();
      expect(h.digestHex()).toBe(await webCryptoHex(data.subarray(0, cut)));
      expect(h.digestHex()).toBe(await webCryptoHex(data.subarray(0, cut)));
      expect(h.exportState()).toEqual(before);
    }
  });

  it("round-trips byte counts beyond 32 bits", () => {
    const state = new ResumableSha256().exportState();
    const view = new DataView(state.buffer);
    view.setUint32(32, 0x1fffff); // 2^53 - 2^32 + 0 bytes: a multiple of 64, so no buffered bytes
    const h = ResumableSha256.restore(state);
    expect(h.bytesHashed).toBe(0x1fffff * 2 ** 32);
    h.update(bytes(5));
    expect(h.bytesHashed).toBe(0x1fffff * 2 ** 32 + 5);
    expect(ResumableSha256.restore(h.exportState()).exportState()).toEqual(h.exportState());
    expect(h.digestHex()).toMatch(/^[0-9a-f]{64}$/);
  });

  it("rejects malformed state", () => {
    const good = new ResumableSha256();
    good.update(bytes(70)); // 6 buffered bytes
    const state = good.exportState();
    expect(state.length).toBe(46);
    const tooBig = state.slice();
    new DataView(tooBig.buffer).setUint32(32, 0x200000); // count of 2^53 bytes and more
    for (const bad of [
      new Uint8Array(0),
      new Uint8Array(39),
      state.subarray(0, 45), // buffered bytes missing
      new Uint8Array([...state, 0]), // one byte too many
      new Uint8Array(104),
      tooBig,
    ]) {
      expect(() => ResumableSha256.restore(bad), `${bad.length} bytes`).toThrow(Error);
    }
    expect(ResumableSha256.restore(state).digestHex()).toBe(good.digestHex());
  });
});
