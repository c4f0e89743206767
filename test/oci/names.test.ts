// worker/oci/names.ts: repository names, tags and references (OCI distribution spec v1.1,
// "Pulling manifests": the <name> and <reference> grammars).
import { describe, expect, it } from "vitest";
import { MAX_NAME_LENGTH, parseReference, parseRepoName, parseTag, tryParseRepoName, tryParseTag } from "../../worker/oci/names";
import { expectRegistryError } from "../helpers/registry";

const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;

describe("repository names", () => {
  it.each(["a", "library", "0", "ubuntu2404", "a1b2c3"])("accepts the single component %j", (name) => {
    expect(tryParseRepoName(name)).toBe(name);
  });

  it.each(["a.b", "a_b", "a__b", "a-b", "a--b", "a---b", "a.b_c__d-e", "v1.2.3"])("accepts the separator in %j", (name) => {
    expect(tryParseRepoName(name)).toBe(name);
  });

  it.each(["library/ubuntu", "a/b/c", "org/team/project/image", "my-org/my_app/v1.0"])("accepts the multi-component name %j", (name) => {
    expect(tryParseRepoName(name)).toBe(name);
  });

  it("accepts a name of exactly 255 characters", () => {
    const name = `${"a".repeat(127)}/${"b".repeat(127)}`;
    expect(name.length).toBe(MAX_NAME_LENGTH);
    expect(tryParseRepoName(name)).toBe(name);
  });

  it("refuses a name of 256 characters", () => {
    expect(tryParseRepoName(`${"a".repeat(128)}/${"b".repeat(127)}`)).toBeNull();
  });

  it.each(["A", "Library/ubuntu", "library/Ubuntu", "aB"])("refuses uppercase in %j", (name) => {
    expect(tryParseRepoName(name)).toBeNull();
  });

  it.each([".a", "_a", "-a", "__a", "a.", "a_", "a-", "a__", "a/.b", "a/b-", "a/-b"])("refuses the leading or trailing separator in %j", (name) => {
    expect(tryParseRepoName(name)).toBeNull();
  });

  it.each(["a..b", "a___b", "a._b", "a-.b", "a_-b", "a.-b"])("refuses the doubled or mixed separator in %j", (name) => {
    expect(tryParseRepoName(name)).toBeNull();
  });

  it.each(["", "/", "a//b", "/a", "a/", "a/b/"])("refuses the empty component in %j", (name) => {
    expect(tryParseRepoName(name)).toBeNull();
  });

  it.each(["a b", "a:b", "a@b", "a%2fb", "a\\b", "..", "a/../b", "é"])("refuses characters outside the grammar in %j", (name) => {
    expect(tryParseRepoName(name)).toBeNull();
  });

  it("throws NAME_INVALID (400) for an invalid name", () => {
    expectRegistryError(() => parseRepoName("Bad/Name"), "NAME_INVALID", 400);
  });
});

describe("tags", () => {
  it.each(["latest", "v1.2.3", "1", "_private", "A", "UPPER_case-1.0", "a.b-c_d"])("accepts the tag %j", (tag) => {
    expect(tryParseTag(tag)).toBe(tag);
  });

  it("accepts a tag of exactly 128 characters", () => {
    expect(tryParseTag("t".repeat(128))).toBe("t".repeat(128));
  });

  it("refuses a tag of 129 characters", () => {
    expect(tryParseTag("t".repeat(129))).toBeNull();
  });

  it.each([".hidden", "-dash"])("refuses a tag starting with a separator: %j", (tag) => {
    expect(tryParseTag(tag)).toBeNull();
  });

  it.each(["", "a/b", "a:b", "a b", "a@b", "a+b", "é"])("refuses characters outside the tag grammar in %j", (tag) => {
    expect(tryParseTag(tag)).toBeNull();
  });

  it("throws TAG_INVALID (400) for an invalid tag", () => {
    expectRegistryError(() => parseTag("-bad"), "TAG_INVALID", 400);
  });
});

describe("parseReference", () => {
  it("reads a reference without a colon as a tag", () => {
    expect(parseReference("v1.0")).toEqual({ kind: "tag", tag: "v1.0" });
  });

  it("reads a sha256 digest as a digest", () => {
    expect(parseReference(DIGEST)).toEqual({ kind: "digest", digest: DIGEST });
  });

  it("reads a sha512 digest as a digest", () => {
    const digest = `sha512:${"ab".repeat(64)}`;
    expect(parseReference(digest)).toEqual({ kind: "digest", digest });
  });

  it("throws DIGEST_INVALID for a malformed digest, not TAG_INVALID", () => {
    expectRegistryError(() => parseReference("sha256:1234"), "DIGEST_INVALID", 400);
  });

  it("throws DIGEST_INVALID for an unsupported algorithm", () => {
    expectRegistryError(() => parseReference(`md5:${"a".repeat(32)}`), "DIGEST_INVALID", 400);
  });

  it("throws TAG_INVALID for an invalid tag", () => {
    expectRegistryError(() => parseReference(".v1"), "TAG_INVALID", 400);
  });

  it("throws TAG_INVALID for a tag over 128 characters", () => {
    expectRegistryError(() => parseReference("x".repeat(129)), "TAG_INVALID", 400);
  });
});
