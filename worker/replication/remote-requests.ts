// What the remote endpoint's modules share: a body-less request with its deadline, the bounded
// read of a manifest (or index) answer, and the `Link: <…>; rel="next"` of paginated listings.
import { RegistryError } from "../errors";
import { exchangeDeadline, type Peer, registryFetch, type RegistryRequest, UpstreamError } from "../proxy/upstream-client";
import { MAX_MANIFEST_BYTES, readManifestBody } from "../services/manifests";

/** A request to the remote with the usual deadline (twice its timeout); 2xx or 404, else an UpstreamError. */
export function remoteFetch(peer: Peer, request: Omit<RegistryRequest, "deadline">): Promise<Response> {
  return registryFetch(peer, { ...request, deadline: exchangeDeadline(peer) });
}

/** A manifest-sized body, read whole with the manifest bound (4 MiB): more is not a manifest. */
export async function readManifestAnswer(peer: Peer, response: Response): Promise<Uint8Array> {
  const declared = Number(response.headers.get("Content-Length") ?? NaN);
  try {
    return await readManifestBody(response.body, Number.isSafeInteger(declared) ? declared : null);
  } catch (error) {
    if (error instanceof RegistryError) throw invalidAnswer(peer, `a manifest larger than ${MAX_MANIFEST_BYTES} bytes`);
    throw new UpstreamError(peer.name, { kind: "unreachable", message: `the manifest body broke off: ${(error as Error).message}` });
  }
}

/** A JSON object answer (a tag list, the catalog, an index), or an UpstreamError saying what came instead. */
export function parseJsonAnswer(peer: Peer, bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw invalidAnswer(peer, `${what} that is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidAnswer(peer, `${what} that is not a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * The next page's path (or absolute URL) from `Link: <…>; rel="next"`, or null on the last page.
 * Only on the remote's own origin: a listing that sends Pier elsewhere is not followed.
 */
export function nextPage(peer: Peer, response: Response): string | null {
  const link = response.headers.get("Link");
  const match = link === null ? null : /<([^>]*)>\s*;\s*rel="?next"?/i.exec(link);
  if (match === null) return null;
  const url = new URL(match[1]!, peer.url);
  if (url.origin !== peer.url) throw invalidAnswer(peer, `a next page on another origin (${url.origin})`);
  return `${url.pathname}${url.search}`;
}

export function invalidAnswer(peer: Peer, what: string): UpstreamError {
  return new UpstreamError(peer.name, { kind: "invalid", message: `it sent ${what}` });
}
