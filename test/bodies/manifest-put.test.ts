// PUT /v2/<name>/manifests/<reference> reads the manifest with its own bound, 8 MiB (worker/
// services/manifests.ts MAX_MANIFEST_BYTES): the OCI distribution spec v1.1 asks registries to
// take at least 4 MB and to answer 413 Payload Too Large past their limit ("Pushing Manifests").
// A declared length over it is refused unread (test/manifests/large.test.ts); a chunked one is
// read only until it passes the bound.
import { describe, expect, it } from "vitest";
import { MAX_MANIFEST_BYTES } from "../../worker/services/manifests";
import { errorCode, OCI_MANIFEST, request, uniqueRepo } from "../helpers/registry";
import { lazyBody, READ_BUDGET } from "./body-routes";

describe("a chunked 400 MB manifest", () => {
  it("is refused with 413 SIZE_INVALID without being read to the end", async () => {
    const { body, pulled } = lazyBody();
    const response = await request(`/v2/${uniqueRepo("bodies/manifest")}/manifests/huge`, { method: "PUT", body, headers: { "Content-Type": OCI_MANIFEST } });
    expect(response.status).toBe(413);
    expect(await errorCode(response)).toBe("SIZE_INVALID");
    expect(pulled()).toBeLessThan(MAX_MANIFEST_BYTES + READ_BUDGET);
  });
});
