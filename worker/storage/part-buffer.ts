// Re-cuts a byte stream of arbitrary chunk sizes into the equal-size parts R2 multipart
// demands (every part but the last the same size, at least 5 MiB). Holds at most one part's
// worth of bytes, plus the chunk being split, so memory stays bounded whatever the client sends.

/** R2 multipart part size: above R2's 5 MiB minimum; 10,000 parts allow blobs of ~78 GiB. */
export const PART_SIZE = 8 * 1024 * 1024;

export class PartBuffer {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  constructor(private readonly partSize: number = PART_SIZE) {}

  get length(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
  }

  /** Takes one full part when enough bytes are buffered, else null. */
  takePart(): Uint8Array | null {
    if (this.buffered < this.partSize) return null;
    return this.take(this.partSize);
  }

  /** Takes everything buffered (the last part, or bytes to persist between requests). */
  takeAll(): Uint8Array {
    return this.take(this.buffered);
  }

  /** The buffered chunks without copying, e.g. to persist them. */
  peekChunks(): readonly Uint8Array[] {
    return this.chunks;
  }

  private take(count: number): Uint8Array {
    const first = this.chunks[0];
    // Fast path: the first chunk is exactly what is asked for.
    if (first !== undefined && first.byteLength === count) {
      this.chunks.shift();
      this.buffered -= count;
      return first;
    }
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.chunks[0]!;
      const wanted = count - filled;
      if (chunk.byteLength <= wanted) {
        out.set(chunk, filled);
        filled += chunk.byteLength;
        this.chunks.shift();
      } else {
        out.set(chunk.subarray(0, wanted), filled);
        this.chunks[0] = chunk.subarray(wanted);
        filled += wanted;
      }
    }
    this.buffered -= count;
    return out;
  }
}
