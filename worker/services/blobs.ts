// Reading and deleting blobs. A blob is reachable only through a repository that holds it.
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import type { Digest } from "../oci/digest";
import type { RepoName } from "../oci/names";
import { type ByteRange, parseRangeHeader } from "../oci/ranges";
import { database } from "../storage/db/client";
import { type BlobLocation, findRepositoryBlob } from "../storage/db/queries/blobs";
import { removeBlobLink } from "./content-writes";
import { readStoredBytes } from "../storage/blob-store";

export interface BlobContent {
  digest: Digest;
  size: number;
  /** The part sent: the whole blob, or the one satisfiable range asked for. */
  range: ByteRange | null;
  body: ReadableStream<Uint8Array>;
}

/** Size and digest of a blob the repository holds (HEAD): no R2 request at all. */
export async function statBlob(env: Bindings, repository: RepoName, digest: Digest): Promise<{ digest: Digest; size: number }> {
  const blob = await requireBlob(env, repository, digest);
  return { digest, size: blob.size };
}

/** A blob's bytes, or the range asked for; 416 when the range starts past the end. */
export async function openBlob(env: Bindings, repository: RepoName, digest: Digest, rangeHeader: string | null): Promise<BlobContent> {
  const blob = await requireBlob(env, repository, digest);
  const range = satisfiableRange(rangeHeader, blob.size);
  const body = await readStoredBytes(env.BLOBS, blob, range);
  if (body === null) throw missingBytes(digest);
  return { digest, size: blob.size, range, body };
}

/** The range a Range header asks for (null: the whole blob); 416 when it starts past the end. */
export function satisfiableRange(rangeHeader: string | null, size: number): ByteRange | null {
  const range = parseRangeHeader(rangeHeader, size);
  if (range !== "unsatisfiable") return range;
  // The spec has no code for this; SIZE_INVALID says what is wrong (BLOB_UNKNOWN would not).
  throw new RegistryError("SIZE_INVALID", `range "${rangeHeader}" is outside the blob's ${size} bytes`, {
    status: 416,
    headers: { "Content-Range": `bytes */${size}` },
  });
}

/** Removes the blob from the repository (202); its bytes stay until garbage collection. */
export async function deleteBlob(env: Bindings, repository: RepoName, digest: Digest): Promise<void> {
  if (!(await removeBlobLink(env, repository, digest))) {
    throw new RegistryError("BLOB_UNKNOWN", `blob ${digest} is not in repository ${repository}`);
  }
}

async function requireBlob(env: Bindings, repository: RepoName, digest: Digest): Promise<BlobLocation> {
  const blob = await findRepositoryBlob(database(env.DB), repository, digest);
  if (blob === null) throw new RegistryError("BLOB_UNKNOWN", `blob ${digest} is not in repository ${repository}`);
  return blob;
}

/** D1 says the bytes exist but R2 has none: storage lost them. Not the client's fault. */
export function missingBytes(digest: Digest): RegistryError {
  return new RegistryError("UNKNOWN", `the bytes of ${digest} are missing from storage`);
}
