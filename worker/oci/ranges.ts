// Byte ranges, both directions.
//   Range (RFC 9110 §14.2), on blob GETs:   "bytes=0-99", "bytes=100-", "bytes=-100"
//   Content-Range on upload PATCH/PUT (OCI distribution spec v1.1, "Pushing a blob in chunks"):
//   "<start>-<end>", inclusive; some clients prefix "bytes " or "bytes=", which is tolerated.
import { RegistryError } from "../errors";

export interface ByteRange {
  offset: number;
  length: number;
}

/**
 * The single range a GET asks for within a blob of `size` bytes: null to send the whole blob
 * (no Range header, or one Pier does not serve, which RFC 9110 lets a server ignore), or
 * "unsatisfiable" when it starts past the end.
 */
export function parseRangeHeader(header: string | null, size: number): ByteRange | null | "unsatisfiable" {
  if (header === null) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return null;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === "" && last === "") return null;
  // Nothing can be sent of an empty blob (RFC 9110 §14.1.1).
  if (size === 0) return "unsatisfiable";
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0) return "unsatisfiable";
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  // An inverted range may be ignored or refused (RFC 9110 §14.2); refusing tells the client.
  if (last !== "" && Number(last) < start) return "unsatisfiable";
  if (start >= size) return "unsatisfiable";
  return { offset: start, length: end - start + 1 };
}

/** An upload chunk's Content-Range: where it starts and how long it is. */
export function parseContentRange(header: string): ByteRange {
  // A "/<total>" or "/*" suffix (RFC 9110 form) is tolerated and ignored.
  const match = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  const start = match ? Number(match[1]) : NaN;
  const end = match ? Number(match[2]) : NaN;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) {
    throw new RegistryError("BLOB_UPLOAD_INVALID", `invalid Content-Range "${header}": expected "<start>-<end>"`, { status: 416 });
  }
  return { offset: start, length: end - start + 1 };
}

/** The `Range` header of an upload status answer: "0-<last byte>", "0-0" when empty. */
export function uploadRangeHeader(offset: number): string {
  return `0-${Math.max(offset - 1, 0)}`;
}
