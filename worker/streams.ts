// Small stream utilities shared by the Worker and the Durable Objects.

/**
 * Reads and discards a request body, at most `maxBytes` of it, then cancels the rest. An answer
 * sent while the client is still sending can reach it as a reset connection (seen with
 * `wrangler dev` and Go's HTTP client); answering after the body is read gets the error through.
 */
export async function drain(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<void> {
  if (body === null || body.locked) return;
  const reader = body.getReader();
  let seen = 0;
  try {
    while (seen <= maxBytes) {
      const { done, value } = await reader.read();
      if (done) return;
      seen += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away: nothing left to drain.
  } finally {
    reader.releaseLock();
  }
}
