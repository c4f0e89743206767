// Helpers for the pull-through blob tests (test/proxy/blob-*.test.ts): requests for a blob
// through an upstream's prefixed path, what the upstream was asked, and the BlobFill object
// of a digest.
import { env, runInDurableObject } from "cloudflare:test";
import type { FillRequest } from "../../durable-objects/blob-fill";
import { MULTIPART_PREFIX } from "../../durable-objects/blob-fill-sink";
import { type LogEntry, random, seedBlob, uniqueRepo, upstreamLog } from "./fake-upstream";
import { request } from "./registry";

/** A repository of its own on the fake upstream, holding `size` random bytes as a blob. */
export async function seededBlob(size: number): Promise<{ repo: string; bytes: Uint8Array; digest: string }> {
  const repo = uniqueRepo();
  const bytes = random(size);
  return { repo, bytes, digest: await seedBlob(repo, bytes) };
}

/** GET (or HEAD, …) of `/v2/<upstream>/<repo>/blobs/<digest>` on Pier. */
export function proxiedBlob(upstream: string, repo: string, digest: string, init: RequestInit = {}): Promise<Response> {
  return request(`/v2/${upstream}/${repo}/blobs/${digest}`, init);
}

/**
 * The requests for this blob that the upstream registry itself served (not /token, not the
 * cdn). On a token upstream ("fake", "hub") the first request of an isolate goes without a
 * token and is refused with a 401 challenge; those carry no Authorization and are left out.
 */
export async function blobRequests(repo: string, digest: string, method: "GET" | "HEAD"): Promise<LogEntry[]> {
  const log = await upstreamLog(repo);
  return log.filter(
    (entry) =>
      entry.server !== "cdn" &&
      entry.method === method &&
      entry.path === `/v2/${repo}/blobs/${digest}` &&
      (entry.authorization !== null || entry.server === "fresh" || entry.server === "slow"),
  );
}

/** Reads the first chunk of a body, returning the reader to go on with (or cancel). */
export async function firstChunk(response: Response): Promise<{ chunk: Uint8Array; reader: ReadableStreamDefaultReader<Uint8Array> }> {
  const reader = response.body!.getReader();
  const { value, done } = await reader.read();
  if (done || value === undefined) throw new Error("the body ended before its first chunk");
  return { chunk: value, reader };
}

/** Reads a reader to its end and joins what it gave, after `head`. */
export async function readRest(reader: ReadableStreamDefaultReader<Uint8Array>, head: Uint8Array[] = []): Promise<Uint8Array> {
  const chunks = [...head];
  for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
  return new Uint8Array(await new Blob(chunks).arrayBuffer());
}

/** The BlobFill object of a digest, as the Worker reaches it. */
export function fillStub(digest: string) {
  return env.BLOB_FILLS.get(env.BLOB_FILLS.idFromName(digest));
}

/** A FillRequest for `<upstream>/<repo>`, as the Worker would send it. */
export function fillRequest(upstream: string, repo: string, digest: string): FillRequest {
  return { upstream, repository: repo, cacheName: `${upstream}/${repo}`, digest, range: null };
}

/** Waits until the digest's fill (running or not) has stored the blob for `<upstream>/<repo>`. */
export async function fillDone(upstream: string, repo: string, digest: string) {
  return fillStub(digest).fill(fillRequest(upstream, repo, digest));
}

/** Multipart uploads the digest's BlobFill still has open (it records each before its first part). */
export async function openMultiparts(digest: string): Promise<number> {
  return runInDurableObject(fillStub(digest), async (_instance, state) => (await state.storage.list({ prefix: MULTIPART_PREFIX })).size);
}
