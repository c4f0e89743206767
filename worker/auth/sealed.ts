// Secrets Pier must store and use again (a remote registry's password, a webhook's HMAC secret)
// are sealed before they reach D1: AES-256-GCM under PIER_CREDENTIALS_KEY, a Worker secret that
// never enters the database. A D1 export, a backup or a query log then holds ciphertext only.
// Each sealed value is bound to what it belongs to (`context`, e.g. "registry:hub") as GCM's
// additional data, so a ciphertext copied into another row does not open there.
//
// Format: "v1.<iv>.<ciphertext+tag>", both base64url; the version leaves room for another key
// or cipher later.
import { ConfigError } from "../config";

const VERSION = "v1";
const IV_BYTES = 12;

/** Seals `plaintext` for the row named by `context`. */
export async function seal(key: string | undefined, context: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(context) },
    await importKey(key),
    new TextEncoder().encode(plaintext),
  );
  return `${VERSION}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(ciphertext))}`;
}

/** Opens a sealed value; throws when it was sealed under another key or for another context. */
export async function unseal(key: string | undefined, context: string, sealed: string): Promise<string> {
  const [version, iv, ciphertext] = sealed.split(".");
  if (version !== VERSION || iv === undefined || ciphertext === undefined) throw new Error(`a sealed value for ${context} is not in the ${VERSION} format`);
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64Url(iv), additionalData: new TextEncoder().encode(context) },
      await importKey(key),
      fromBase64Url(ciphertext),
    );
    return new TextDecoder().decode(plaintext);
  } catch {
    throw new Error(`the sealed value for ${context} does not open with PIER_CREDENTIALS_KEY (was the key replaced?)`);
  }
}

/** The imported key of each secret value this isolate has seen (one, in practice). */
const imported = new Map<string, Promise<CryptoKey>>();

function importKey(key: string | undefined): Promise<CryptoKey> {
  if (key === undefined || key === "") {
    throw new ConfigError("the secret PIER_CREDENTIALS_KEY is not set: it seals stored credentials (npm run deploy creates it; npm start keeps one in .dev.vars)");
  }
  let cryptoKey = imported.get(key);
  if (cryptoKey === undefined) {
    let bytes: Uint8Array;
    try {
      bytes = fromBase64Url(key);
    } catch {
      throw new ConfigError("PIER_CREDENTIALS_KEY must be 32 bytes in base64url");
    }
    if (bytes.byteLength !== 32) throw new ConfigError("PIER_CREDENTIALS_KEY must be 32 bytes in base64url");
    cryptoKey = crypto.subtle.importKey("raw", bytes, "AES-GCM", false, ["encrypt", "decrypt"]);
    // One key per deployment; a second value only appears in tests that set one of their own.
    if (imported.size > 8) imported.clear();
    imported.set(key, cryptoKey);
  }
  return cryptoKey;
}

function toBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}
