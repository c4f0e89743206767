import { describe, expect, it } from "vitest";
import { generateSecret, hashSecret, needsRehash, PBKDF2_ITERATIONS, verifySecret } from "../../worker/auth/passwords";

const STORED_FORM = /^pbkdf2-sha256\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

/** Replaces one `$`-separated field of a stored hash. */
function withField(stored: string, index: number, value: string): string {
  const parts = stored.split("$");
  parts[index] = value;
  return parts.join("$");
}

function flipFirstByte(base64: string): string {
  const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
  bytes[0] = bytes[0]! ^ 0xff;
  return btoa(String.fromCharCode(...bytes));
}

describe("hashSecret", () => {
  it("stores pbkdf2-sha256$<iterations>$<salt>$<hash> with the current iteration count", async () => {
    const match = STORED_FORM.exec(await hashSecret("correct horse"));
    expect(match).not.toBeNull();
    expect(Number(match![1])).toBe(PBKDF2_ITERATIONS);
  });

  it("uses the highest iteration count production Workers allow (100,000)", () => {
    expect(PBKDF2_ITERATIONS).toBe(100_000);
  });

  it("draws a 16-byte salt and derives a 32-byte hash", async () => {
    const [, , salt, hash] = (await hashSecret("correct horse")).split("$");
    expect(atob(salt!)).toHaveLength(16);
    expect(atob(hash!)).toHaveLength(32);
  });

  it("gives two different hashes for one password (a fresh salt each time)", async () => {
    const first = await hashSecret("correct horse");
    const second = await hashSecret("correct horse");
    expect(first).not.toBe(second);
    expect(first.split("$")[2]).not.toBe(second.split("$")[2]);
  });
});

describe("verifySecret", () => {
  it("accepts the password a hash was made from", async () => {
    expect(await verifySecret("correct horse", await hashSecret("correct horse"))).toBe(true);
  });

  it("accepts non-ASCII passwords, encoded as UTF-8", async () => {
    expect(await verifySecret("pässwörd-🔑", await hashSecret("pässwörd-🔑"))).toBe(true);
  });

  it("refuses a wrong password", async () => {
    expect(await verifySecret("battery staple", await hashSecret("correct horse"))).toBe(false);
  });

  it("refuses a password that differs only in case", async () => {
    expect(await verifySecret("Correct horse", await hashSecret("correct horse"))).toBe(false);
  });

  it("refuses the empty password against a real hash", async () => {
    expect(await verifySecret("", await hashSecret("correct horse"))).toBe(false);
  });

  it("verifies with the count stored in the hash, so raising the count keeps old hashes valid", async () => {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const material = await crypto.subtle.importKey("raw", new TextEncoder().encode("correct horse"), "PBKDF2", false, ["deriveBits"]);
    const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations: 1000 }, material, 256);
    const old = ["pbkdf2-sha256", "1000", btoa(String.fromCharCode(...salt)), btoa(String.fromCharCode(...new Uint8Array(bits)))].join("$");
    expect(await verifySecret("correct horse", old)).toBe(true);
  });

  it("refuses a hash whose stored hash bytes were altered", async () => {
    const stored = await hashSecret("correct horse");
    expect(await verifySecret("correct horse", withField(stored, 3, flipFirstByte(stored.split("$")[3]!)))).toBe(false);
  });

  it("refuses a hash whose salt was altered", async () => {
    const stored = await hashSecret("correct horse");
    expect(await verifySecret("correct horse", withField(stored, 2, flipFirstByte(stored.split("$")[2]!)))).toBe(false);
  });

  it("refuses an iteration count above what production Workers allow", async () => {
    const stored = await hashSecret("correct horse");
    expect(await verifySecret("correct horse", withField(stored, 1, "100001"))).toBe(false);
  });

  it.each([
    ["an empty string", ""],
    ["a plain-text password", "correct horse"],
    ["another scheme", "bcrypt$100000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="],
    ["too few fields", "pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA=="],
    ["too many fields", "pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=$x"],
    ["a zero iteration count", "pbkdf2-sha256$0$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="],
    ["a negative iteration count", "pbkdf2-sha256$-5$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="],
    ["a non-numeric iteration count", "pbkdf2-sha256$1e5$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="],
    ["a salt that is not base64", "pbkdf2-sha256$100000$not*base64*salt!!!!!!!!$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="],
    ["a salt under 16 bytes", "pbkdf2-sha256$100000$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="],
    ["a hash that is not 32 bytes", "pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$AAAA"],
    ["an empty hash", "pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$"],
  ])("refuses %s as a stored hash, returning false", async (_, stored) => {
    await expect(verifySecret("correct horse", stored)).resolves.toBe(false);
  });
});

describe("needsRehash", () => {
  it("is false for a hash made now", async () => {
    expect(needsRehash(await hashSecret("correct horse"))).toBe(false);
  });

  it("is true for a hash made with fewer iterations", async () => {
    expect(needsRehash(withField(await hashSecret("correct horse"), 1, "10000"))).toBe(true);
  });
});

describe("generateSecret", () => {
  it("gives 32 random bytes as unpadded URL-safe base64 by default", () => {
    expect(generateSecret()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("gives the number of bytes asked for", () => {
    expect(generateSecret(48)).toMatch(/^[A-Za-z0-9_-]{64}$/);
  });

  it("never repeats itself", () => {
    const secrets = new Set(Array.from({ length: 100 }, () => generateSecret()));
    expect(secrets.size).toBe(100);
  });

  it.each([0, 8, 15, 12.5, Number.NaN, 65_537])("refuses %s bytes", (bytes) => {
    expect(() => generateSecret(bytes)).toThrow(RangeError);
  });
});
