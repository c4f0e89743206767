// Password and robot-secret hashing: PBKDF2-HMAC-SHA-256 through WebCrypto (the only password
// KDF the Workers runtime offers natively), one random salt per secret, compared in constant
// time. A stored hash describes itself,
//   pbkdf2-sha256$<iterations>$<salt, base64>$<hash, base64>
// so the iteration count can be raised later without invalidating what is already stored:
// verifySecret reads the count from the string, and needsRehash says when to re-hash after a
// successful login.
import { base64url } from "jose";

/**
 * Production Workers refuse PBKDF2 above 100,000 iterations (workerd's
 * DEFAULT_MAX_PBKDF2_ITERATIONS, applied by the hosted runtime's limit enforcer: deriveBits
 * throws NotSupportedError beyond it). The open-source workerd behind `wrangler dev` and the
 * tests has no cap at all, so nothing local would catch a higher count failing in production.
 */
const WORKERS_PBKDF2_LIMIT = 100_000;

/**
 * The iteration count for new hashes: the highest production allows. OWASP asks for 600,000
 * for PBKDF2-SHA-256; raise this if Cloudflare lifts the limit (stored hashes keep their count).
 */
export const PBKDF2_ITERATIONS = WORKERS_PBKDF2_LIMIT;
const SCHEME = "pbkdf2-sha256";
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const MIN_GENERATED_SECRET_BYTES = 16;
const STANDARD_BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Hashes a password or robot secret for storage; every call draws a fresh salt. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await pbkdf2(secret, salt, PBKDF2_ITERATIONS);
  return [SCHEME, PBKDF2_ITERATIONS, toBase64(salt), toBase64(hash)].join("$");
}

/**
 * Whether `secret` is the one `stored` was made from. A malformed stored string is `false`,
 * never an exception: a corrupt row must read as "wrong password", not as a 500.
 */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parsed = parseStored(stored);
  if (!parsed) return false;
  const candidate = await pbkdf2(secret, parsed.salt, parsed.iterations);
  // Both are HASH_BYTES long (parseStored checks), which timingSafeEqual requires.
  return crypto.subtle.timingSafeEqual(candidate, parsed.hash);
}

/** Whether a stored hash predates the current iteration count (re-hash it after a login). */
export function needsRehash(stored: string): boolean {
  const parsed = parseStored(stored);
  return parsed === null || parsed.iterations < PBKDF2_ITERATIONS;
}

/**
 * A random secret of `bytes` bytes as unpadded URL-safe base64 (RFC 4648 §5): robot secrets
 * and generated admin passwords, safe in URLs, headers and shell commands.
 */
export function generateSecret(bytes = 32): string {
  // Under 128 bits a secret could be guessed; getRandomValues refuses more than 65,536 bytes.
  if (!Number.isInteger(bytes) || bytes < MIN_GENERATED_SECRET_BYTES || bytes > 65_536) {
    throw new RangeError(`generateSecret needs a whole number of bytes from ${MIN_GENERATED_SECRET_BYTES} to 65536, got ${bytes}`);
  }
  return base64url.encode(crypto.getRandomValues(new Uint8Array(bytes)));
}

interface StoredHash {
  iterations: number;
  salt: Uint8Array;
  hash: Uint8Array;
}

function parseStored(stored: string): StoredHash | null {
  if (typeof stored !== "string") return null;
  const parts = stored.split("$");
  if (parts.length !== 4) return null;
  const [scheme, count, salt, hash] = parts as [string, string, string, string];
  if (scheme !== SCHEME || !/^[1-9]\d{0,8}$/.test(count)) return null;
  const iterations = Number(count);
  // Production would throw on more; refusing also bounds the work a corrupt row can cause.
  if (iterations > WORKERS_PBKDF2_LIMIT) return null;
  const saltBytes = fromBase64(salt);
  const hashBytes = fromBase64(hash);
  if (!saltBytes || saltBytes.length < SALT_BYTES || !hashBytes || hashBytes.length !== HASH_BYTES) return null;
  return { iterations, salt: saltBytes, hash: hashBytes };
}

async function pbkdf2(secret: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, material, HASH_BYTES * 8);
  return new Uint8Array(bits);
}

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function fromBase64(text: string): Uint8Array | null {
  if (text.length % 4 !== 0 || !STANDARD_BASE64.test(text)) return null;
  try {
    return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
}
