// worker/oci/pagination.ts: `n` / `last` and the Link header (OCI distribution spec v1.1,
// "Listing Tags": `Link: <<url>?n=<n>&last=<last>>; rel="next"`).
import { describe, expect, it } from "vitest";
import { MAX_PAGE_SIZE, nextLink, parsePage } from "../../worker/oci/pagination";
import { expectRegistryError } from "../helpers/registry";

describe("parsePage", () => {
  it("returns the capped default page when neither n nor last is given", () => {
    expect(parsePage(undefined, undefined)).toEqual({ limit: MAX_PAGE_SIZE, last: null });
  });

  it("reads n as the page size", () => {
    expect(parsePage("5", undefined)).toEqual({ limit: 5, last: null });
  });

  it("reads n=0 as an empty page", () => {
    expect(parsePage("0", undefined).limit).toBe(0);
  });

  it("caps n at the largest page size", () => {
    expect(parsePage(String(MAX_PAGE_SIZE * 10), undefined).limit).toBe(MAX_PAGE_SIZE);
  });

  it("treats an empty n as absent", () => {
    expect(parsePage("", undefined).limit).toBe(MAX_PAGE_SIZE);
  });

  it("reads last as the entry to start after", () => {
    expect(parsePage("2", "v1.0")).toEqual({ limit: 2, last: "v1.0" });
  });

  it("treats an empty last as absent", () => {
    expect(parsePage("2", "").last).toBeNull();
  });

  it.each(["-1", "abc", "1.5", "1e3", " 3"])("refuses n=%j with a 400 error", (n) => {
    expectRegistryError(() => parsePage(n, undefined), "UNSUPPORTED", 400);
  });
});

describe("nextLink", () => {
  it('builds <path?n=…&last=…>; rel="next"', () => {
    expect(nextLink("/v2/a/b/tags/list", 2, "v2")).toBe('</v2/a/b/tags/list?n=2&last=v2>; rel="next"');
  });

  it("keeps extra query parameters such as artifactType", () => {
    const link = nextLink("/v2/a/referrers/sha256:x", 1, "sha256:y", { artifactType: "application/vnd.example+json" });
    const url = new URL(/^<([^>]+)>/.exec(link)![1]!, "http://registry.test");
    expect(url.searchParams.get("artifactType")).toBe("application/vnd.example+json");
    expect(url.searchParams.get("n")).toBe("1");
    expect(url.searchParams.get("last")).toBe("sha256:y");
    expect(link.endsWith('; rel="next"')).toBe(true);
  });

  it("encodes a last value that needs escaping", () => {
    const link = nextLink("/v2/_catalog", 3, "a&b=c");
    const url = new URL(/^<([^>]+)>/.exec(link)![1]!, "http://registry.test");
    expect(url.searchParams.get("last")).toBe("a&b=c");
  });
});
