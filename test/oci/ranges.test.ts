// worker/oci/ranges.ts: the Range header of blob GETs (RFC 9110 §14) and the Content-Range of
// upload chunks (OCI distribution spec v1.1, "Pushing a blob in chunks").
import { describe, expect, it } from "vitest";
import { parseContentRange, parseRangeHeader, uploadRangeHeader } from "../../worker/oci/ranges";
import { expectRegistryError } from "../helpers/registry";

describe("parseRangeHeader", () => {
  it("sends the whole blob when there is no Range header", () => {
    expect(parseRangeHeader(null, 100)).toBeNull();
  });

  it("reads bytes=0-9 as the first ten bytes", () => {
    expect(parseRangeHeader("bytes=0-9", 100)).toEqual({ offset: 0, length: 10 });
  });

  it("reads bytes=10- as everything from byte 10", () => {
    expect(parseRangeHeader("bytes=10-", 100)).toEqual({ offset: 10, length: 90 });
  });

  it("reads bytes=-5 as the last five bytes", () => {
    expect(parseRangeHeader("bytes=-5", 100)).toEqual({ offset: 95, length: 5 });
  });

  it("serves the whole blob for a suffix longer than the blob", () => {
    expect(parseRangeHeader("bytes=-500", 100)).toEqual({ offset: 0, length: 100 });
  });

  it("clips a range whose end is past the end of the blob", () => {
    expect(parseRangeHeader("bytes=90-1000", 100)).toEqual({ offset: 90, length: 10 });
  });

  it("reads a one-byte range at the last byte", () => {
    expect(parseRangeHeader("bytes=99-99", 100)).toEqual({ offset: 99, length: 1 });
  });

  it("says unsatisfiable when the range starts at the end of the blob", () => {
    expect(parseRangeHeader("bytes=100-", 100)).toBe("unsatisfiable");
  });

  it("says unsatisfiable when the range starts past the end of the blob", () => {
    expect(parseRangeHeader("bytes=150-160", 100)).toBe("unsatisfiable");
  });

  it("says unsatisfiable for a zero-length suffix", () => {
    expect(parseRangeHeader("bytes=-0", 100)).toBe("unsatisfiable");
  });

  it.each(["bytes=0-1,5-6", "bytes=0-1, 5-6"])("ignores the multi-range request %j (sends the whole blob)", (header) => {
    expect(parseRangeHeader(header, 100)).toBeNull();
  });

  it.each(["", "garbage", "items=0-9", "bytes=", "bytes=-", "bytes=a-b", "bytes 0-9", "bytes=0x1-2"])("ignores the malformed Range %j", (header) => {
    expect(parseRangeHeader(header, 100)).toBeNull();
  });

  it("refuses a range whose end is before its start (RFC 9110 lets a server refuse it)", () => {
    expect(parseRangeHeader("bytes=9-0", 100)).toBe("unsatisfiable");
  });
});

describe("parseContentRange", () => {
  it("reads <start>-<end> inclusively", () => {
    expect(parseContentRange("0-99")).toEqual({ offset: 0, length: 100 });
  });

  it("reads a one-byte chunk", () => {
    expect(parseContentRange("5-5")).toEqual({ offset: 5, length: 1 });
  });

  it('tolerates a "bytes " prefix', () => {
    expect(parseContentRange("bytes 100-199")).toEqual({ offset: 100, length: 100 });
  });

  it('tolerates a "bytes=" prefix', () => {
    expect(parseContentRange("bytes=100-199")).toEqual({ offset: 100, length: 100 });
  });

  it('tolerates the RFC 9110 form "bytes 0-9/10" and ignores the total', () => {
    expect(parseContentRange("bytes 0-9/10")).toEqual({ offset: 0, length: 10 });
    expect(parseContentRange("0-9/*")).toEqual({ offset: 0, length: 10 });
  });

  it("tolerates surrounding whitespace", () => {
    expect(parseContentRange("  0-9 ")).toEqual({ offset: 0, length: 10 });
  });

  it.each(["", "abc", "5-2", "-5", "0-", "0-a", "bytes */10", "0 - 9", "1e3-2e3"])("refuses %j with a 416 error", (header) => {
    expectRegistryError(() => parseContentRange(header), "BLOB_UPLOAD_INVALID", 416);
  });

  it("refuses numbers beyond the safe integer range", () => {
    expectRegistryError(() => parseContentRange("0-99999999999999999999"), "BLOB_UPLOAD_INVALID", 416);
  });
});

describe("uploadRangeHeader", () => {
  it('says "0-0" for an upload that has received nothing', () => {
    expect(uploadRangeHeader(0)).toBe("0-0");
  });

  it("names the last byte received", () => {
    expect(uploadRangeHeader(10)).toBe("0-9");
  });
});
