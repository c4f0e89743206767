// The most recent bytes of a fill, for readers streaming it live. Chunks are kept as upstream
// delivered them (no copies); the oldest are dropped once more than `capacity` bytes are held
// beyond them, so the window always covers at least the last `capacity` bytes received.

export type WindowRead =
  /** Bytes starting exactly at the asked offset (a view, at most one upstream chunk long). */
  | { kind: "bytes"; bytes: Uint8Array }
  /** The offset has not arrived yet. */
  | { kind: "ahead" }
  /** The offset was dropped from the window (or the window was cleared). */
  | { kind: "behind" };

export class ByteWindow {
  private chunks: Uint8Array[] = [];
  /** Blob offset of each chunk in `chunks`. */
  private starts: number[] = [];
  /** Blob offset of the first byte held. */
  private first = 0;
  /** Blob offset just past the last byte received. */
  private end = 0;
  private cleared = false;

  constructor(private readonly capacity: number) {}

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.starts.push(this.end);
    this.end += chunk.byteLength;
    // Drop whole chunks from the front while what remains still covers `capacity` bytes.
    let drop = 0;
    while (drop < this.chunks.length - 1 && this.end - this.starts[drop + 1]! >= this.capacity) drop++;
    if (drop > 0) {
      this.chunks.splice(0, drop);
      this.starts.splice(0, drop);
      this.first = this.starts[0]!;
    }
  }

  /** Bytes at `offset`, never reaching `limit` (exclusive). */
  read(offset: number, limit: number): WindowRead {
    if (this.cleared || offset < this.first) return { kind: "behind" };
    if (offset >= Math.min(this.end, limit)) return { kind: "ahead" };
    const index = this.chunkAt(offset);
    const chunk = this.chunks[index]!;
    const start = this.starts[index]!;
    const stop = Math.min(chunk.byteLength, limit - start);
    return { kind: "bytes", bytes: chunk.subarray(offset - start, stop) };
  }

  /** Forgets every byte: readers that still need some must go elsewhere. */
  clear(): void {
    this.cleared = true;
    this.chunks = [];
    this.starts = [];
  }

  /** Index of the chunk holding `offset` (first <= offset < end): binary search over starts. */
  private chunkAt(offset: number): number {
    let low = 0;
    let high = this.starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.starts[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}
