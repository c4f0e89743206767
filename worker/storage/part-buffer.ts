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

  /**
   * Takes one full part when enough bytes are buffered, else null. The part is a list of views
   * on the chunks received, not a copy: copying 8 MiB per part doubled the garbage an upload
   * leaves in a 128 MB isolate.
   */
  takePart(): Uint8Array[] | null {
    if (this.buffered < this.partSize) return null;
    const part: Uint8Array[] = [];
    let wanted = this.partSize;
    while (wanted > 0) {
      const chunk = this.chunks[0]!;
      if (chunk.byteLength <= wanted) {
        part.push(chunk);
        this.chunks.shift();
        wanted -= chunk.byteLength;
      } else {
        part.push(chunk.subarray(0, wanted));
        this.chunks[0] = chunk.subarray(wanted);
        wanted = 0;
      }
    }
    this.buffered -= this.partSize;
    return part;
  }

  /** Takes everything buffered, as one array (the last part, at most one part's size). */
  takeAll(): Uint8Array {
    const out = new Uint8Array(this.buffered);
    let filled = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, filled);
      filled += chunk.byteLength;
    }
    this.chunks = [];
    this.buffered = 0;
    return out;
  }

  /** The buffered chunks without copying, e.g. to persist them. */
  peekChunks(): readonly Uint8Array[] {
    return this.chunks;
  }
}
