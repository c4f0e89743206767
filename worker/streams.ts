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

/**
 * Reads a whole body of at most `maxBytes` into memory; null (the rest cancelled) when it is
 * longer. For bodies that are parsed whole (manifests, JSON answers), whoever sends them.
 */
export async function readAtMost(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (body !== null) {
    for await (const chunk of body) {
      size += chunk.byteLength;
      // Leaving the loop early cancels the stream.
      if (size > maxBytes) return null;
      chunks.push(chunk);
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
