// One client's view of a fill: a stream of the bytes [offset, offset + length) of the blob,
// taken from the run's window while they are there, from R2 once they are not. Each reader
// has its own position, so clients of any speed share one fill; the writes below wait until
// the client has taken the previous bytes, so a slow client costs no memory, only its place
// in the window (which it may lose: then it waits for the end and reads R2).
//
// The last byte of the range is held back until the run is released (digest checked, blob
// recorded), and the stream errors if the run fails: a client never receives wrong bytes as a
// complete, successful response. A client that leaves only ends its own reader.
import type { UpstreamFailure } from "../worker/proxy/upstream-client";
import { readStoredBytes } from "../worker/storage/blob-store";
import type { FillRun } from "./blob-fill-run";

export function readFill(run: FillRun, bucket: R2Bucket, offset: number, length: number): ReadableStream<Uint8Array> {
  // A FixedLengthStream: the answer has a known length, and ending it early is an error the
  // client sees (a truncated body), never a shorter, seemingly complete one.
  const { readable, writable } = new FixedLengthStream(length);
  void pump(run, bucket, offset, offset + length, writable);
  return readable;
}

async function pump(run: FillRun, bucket: R2Bucket, position: number, end: number, writable: WritableStream<Uint8Array>): Promise<void> {
  const writer = writable.getWriter();
  let piping = false;
  try {
    for (;;) {
      const state = run.state;
      if (state.phase === "failed") throw new Error(`the fill of ${run.digest} failed: ${describe(state.failure)}`);
      const released = state.phase === "released";
      if (released && position === end) break;
      const read = run.window.read(position, released ? end : end - 1);
      if (read.kind === "bytes") {
        await writer.write(read.bytes);
        position += read.bytes.byteLength;
      } else if (read.kind === "ahead") {
        if (released) throw new Error(`the fill of ${run.digest} ended before byte ${position}`);
        await run.nextChange();
      } else if (!released) {
        // Fell out of the window: the rest comes from R2 once the blob is stored.
        await run.done;
      } else {
        if (state.stored === null) throw new Error(`the fill of ${run.digest} could not store the blob`);
        const stored = await readStoredBytes(bucket, state.stored, { offset: position, length: end - position });
        if (stored === null) throw new Error(`the stored bytes of ${run.digest} are missing`);
        writer.releaseLock();
        piping = true;
        // Native copy from R2 to the client; it closes the stream when done.
        await stored.pipeTo(writable);
        return;
      }
    }
    await writer.close();
  } catch (error) {
    // Either the client left (nothing to tell it) or the fill failed (the client must see an
    // error, not an end). Aborting covers both; a failed pipeTo has aborted already.
    if (!piping) await writer.abort(error).catch(() => {});
  }
}

function describe(failure: UpstreamFailure): string {
  if (failure.kind === "status") return `upstream answered HTTP ${failure.status}`;
  if (failure.kind === "timeout") return `upstream did not answer within ${failure.ms} ms`;
  return failure.message;
}
