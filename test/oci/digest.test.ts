// worker/oci/digest.ts: the digest grammar (OCI image spec, "Digests") as Pier accepts it.
import { describe, expect, it } from "vitest";
import { digestAlgorithm, digestHex, digestOf, parseDigest, toHex, tryParseDigest } from "../../worker/oci/digest";
import { bytesOf, expectRegistryError } from "../helpers/registry";

const SHA256_EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const SHA512_EMPTY =
  "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

describe("tryParseDigest", () => {
  it("accepts a sha256 digest of 64 lowercase hex characters", () => {
    expect(tryParseDigest(SHA256_EMPTY)).toBe(SHA256_EMPTY);
  });

  it("accepts a sha512 digest of 128 lowercase hex characters", () => {
    expect(tryParseDigest(SHA512_EMPTY)).toBe(SHA512_EMPTY);
  });

  it("refuses uppercase hex in the encoded part", () => {
    expect(tryParseDigest(SHA256_EMPTY.toUpperCase().replace("SHA256", "sha256"))).toBeNull();
    expect(tryParseDigest(`sha256:${"A".repeat(64)}`)).toBeNull();
  });

  it("refuses an uppercase algorithm", () => {
    expect(tryParseDigest(SHA256_EMPTY.replace("sha256", "SHA256"))).toBeNull();
  });

  it("refuses a sha256 digest that is one character short or long", () => {
    expect(tryParseDigest(SHA256_EMPTY.slice(0, -1))).toBeNull();
    expect(tryParseDigest(`${SHA256_EMPTY}0`)).toBeNull();
  });

  it("refuses a sha512 digest of sha256 length", () => {
    expect(tryParseDigest(`sha512:${"a".repeat(64)}`)).toBeNull();
  });

  it("refuses a sha256 digest of sha512 length", () => {
    expect(tryParseDigest(`sha256:${"a".repeat(128)}`)).toBeNull();
  });

  it("refuses algorithms other than sha256 and sha512", () => {
    expect(tryParseDigest(`md5:${"a".repeat(32)}`)).toBeNull();
    expect(tryParseDigest(`sha384:${"a".repeat(96)}`)).toBeNull();
    expect(tryParseDigest(`blake3:${"a".repeat(64)}`)).toBeNull();
    expect(tryParseDigest(`sha256+b64u:${"a".repeat(64)}`)).toBeNull();
  });

  it("refuses non-hex characters in the encoded part", () => {
    expect(tryParseDigest(`sha256:${"g".repeat(64)}`)).toBeNull();
    expect(tryParseDigest(`sha256:${"a".repeat(63)}=`)).toBeNull();
  });

  it.each(["", "sha256", "sha256:", ":" + "a".repeat(64), "latest", `sha256::${"a".repeat(64)}`, ` ${SHA256_EMPTY}`, `${SHA256_EMPTY}\n`, `sha256:${"a".repeat(32)}/${"a".repeat(31)}`])(
    "refuses the malformed digest %j",
    (text) => {
      expect(tryParseDigest(text)).toBeNull();
    },
  );
});

describe("parseDigest", () => {
  it("returns a well-formed digest unchanged", () => {
    expect(parseDigest(SHA512_EMPTY)).toBe(SHA512_EMPTY);
  });

  it("throws DIGEST_INVALID (400) for a malformed digest", () => {
    expectRegistryError(() => parseDigest("sha256:abc"), "DIGEST_INVALID", 400);
  });

  it("throws DIGEST_INVALID (400) for an unsupported algorithm", () => {
    expectRegistryError(() => parseDigest(`md5:${"a".repeat(32)}`), "DIGEST_INVALID", 400);
  });

  it("keeps the error message short when the input is huge", () => {
    const error = expectRegistryError(() => parseDigest("x".repeat(10_000)), "DIGEST_INVALID");
    expect(error.message.length).toBeLessThan(300);
  });
});

describe("digest helpers", () => {
  it("names the algorithm and the encoded part", () => {
    const digest = parseDigest(SHA512_EMPTY);
    expect(digestAlgorithm(digest)).toBe("sha512");
    expect(digestHex(digest)).toBe(SHA512_EMPTY.slice("sha512:".length));
    expect(digestAlgorithm(parseDigest(SHA256_EMPTY))).toBe("sha256");
  });

  it("computes the sha256 digest of bytes by default", async () => {
    expect(await digestOf(new Uint8Array(0))).toBe(SHA256_EMPTY);
  });

  it("computes the sha512 digest of bytes on request", async () => {
    expect(await digestOf(new Uint8Array(0), "sha512")).toBe(SHA512_EMPTY);
  });

  it("computes the digest of the empty JSON object used by artifacts", async () => {
    expect(await digestOf(bytesOf("{}"))).toBe("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  });

  it("writes bytes as lowercase hex, two characters per byte", () => {
    expect(toHex(new Uint8Array([0, 1, 0xab, 0xff]))).toBe("0001abff");
  });
});
