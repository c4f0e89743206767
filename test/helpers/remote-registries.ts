// Remote registries for replication tests: a fake remote (fake-remote.ts) registered with Pier
// through the API (POST /api/v1/registries), and its endpoint (worker/replication/
// remote-endpoint.ts) called directly, as the copy engine calls it.
import { env } from "cloudflare:test";
import type { Digest } from "../../worker/oci/digest";
import type { BlobBody, Endpoint } from "../../worker/replication/endpoint";
import { remoteEndpoint } from "../../worker/replication/remote-endpoint";
import { createRemote, PUSH_PASSWORD, PUSH_USERNAME, type Remote, type RemoteOptions } from "./fake-remote";
import { apiJson, unique } from "./management";
import { digestOf, streamOf } from "./registry";

export interface RegisteredRemote {
  remote: Remote;
  /** Its name in Pier. */
  name: string;
  endpoint: Endpoint;
}

export interface RegistrationOptions {
  /** The fake's push credentials (default), other ones, or none. */
  credentials?: { username: string; password: string } | null;
  type?: "oci" | "pier" | "dockerhub";
}

/** Registers the remote at `url` with Pier (as admin); returns its name. */
export async function registerRemote(url: string, options: RegistrationOptions = {}): Promise<string> {
  const name = unique("remote");
  const credentials = options.credentials === undefined ? { username: PUSH_USERNAME, password: PUSH_PASSWORD } : options.credentials;
  await apiJson("/registries", { body: { name, url, type: options.type ?? "oci", ...credentials } }, 201);
  return name;
}

/** A fake remote of its own, registered with Pier, and its endpoint. */
export async function registeredRemote(options: Partial<RemoteOptions> = {}, registration: RegistrationOptions = {}): Promise<RegisteredRemote> {
  const remote = await createRemote(options);
  const name = await registerRemote(remote.url, registration);
  return { remote, name, endpoint: await remoteEndpoint(env, name) };
}

/** A blob source for putBlob that counts how often it was read. */
export function blobSource(bytes: Uint8Array, pieceSize?: number): { read: () => Promise<BlobBody>; reads: () => number } {
  let reads = 0;
  return {
    read: async () => {
      reads++;
      return { size: bytes.byteLength, body: streamOf(bytes, pieceSize) };
    },
    reads: () => reads,
  };
}

export async function digestFor(bytes: Uint8Array): Promise<Digest> {
  return (await digestOf(bytes)) as Digest;
}

/** What `promise` rejected with; fails the test when it resolved. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)?.slice(0, 200)}`);
    },
    (error: unknown) => error,
  );
}
