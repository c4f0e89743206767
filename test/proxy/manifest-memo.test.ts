// The isolate's memory of small cached manifests: it answers only while the D1 answer would
// be fresh, holds only inline manifests, and stays bounded.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Digest } from "../../worker/oci/digest";
import { recallManifest, rememberManifest } from "../../worker/proxy/manifest-memo";
import type { StoredManifest } from "../../worker/storage/db/queries/manifests";

const manifest = (content: string | null): StoredManifest => ({
  digest: `sha256:${"1".repeat(64)}` as Digest,
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  size: content?.length ?? 100_000,
  objectKey: content === null ? "blobs/sha256/1" : null,
  content,
});

describe("the manifest memo", () => {
  it("answers until the moment the D1 answer would expire, then forgets", () => {
    const now = Date.now();
    rememberManifest(env.DB, "fake/memo/a", "1.0", manifest("{}"), now + 1_000);
    expect(recallManifest(env.DB, "fake/memo/a", "1.0", now + 999)?.content).toBe("{}");
    expect(recallManifest(env.DB, "fake/memo/a", "1.0", now + 1_000)).toBeNull();
    expect(recallManifest(env.DB, "fake/memo/a", "1.0", now)).toBeNull();
  });

  it("keeps a digest's manifest with no expiry", () => {
    rememberManifest(env.DB, "fake/memo/b", "sha256:abc", manifest("{}"), Infinity);
    expect(recallManifest(env.DB, "fake/memo/b", "sha256:abc", Date.now() + 10 * 365 * 86_400_000)).not.toBeNull();
  });

  it("does not hold manifests that live in R2", () => {
    rememberManifest(env.DB, "fake/memo/c", "1.0", manifest(null), Date.now() + 60_000);
    expect(recallManifest(env.DB, "fake/memo/c", "1.0", Date.now())).toBeNull();
  });

  it("lets the least recently used go first when full", () => {
    const big = "x".repeat(60 * 1024);
    const later = Date.now() + 60_000;
    rememberManifest(env.DB, "fake/memo/d", "first", manifest(big), later);
    rememberManifest(env.DB, "fake/memo/d", "second", manifest(big), later);
    expect(recallManifest(env.DB, "fake/memo/d", "first", Date.now())).not.toBeNull(); // now most recent
    // 4 MiB of text at most: 70 more entries of 60 KiB push out the least recently used.
    for (let index = 0; index < 70; index++) rememberManifest(env.DB, "fake/memo/d", `filler-${index}`, manifest(big), later);
    expect(recallManifest(env.DB, "fake/memo/d", "second", Date.now())).toBeNull();
    expect(recallManifest(env.DB, "fake/memo/d", "filler-69", Date.now())).not.toBeNull();
  });

  it("holds at most 2,000 manifests however small, the oldest going first", () => {
    const later = Date.now() + 60_000;
    rememberManifest(env.DB, "fake/memo/e", "first", manifest("{}"), later);
    for (let index = 0; index < 20_000; index++) rememberManifest(env.DB, "fake/memo/e", `small-${index}`, manifest("{}"), later);
    expect(recallManifest(env.DB, "fake/memo/e", "first", Date.now())).toBeNull();
    expect(recallManifest(env.DB, "fake/memo/e", "small-18000", Date.now())).not.toBeNull();
    expect(recallManifest(env.DB, "fake/memo/e", "small-17999", Date.now())).toBeNull();
  });
});
