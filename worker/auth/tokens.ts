// Registry tokens in the form the Docker registry token protocol and distribution's token
// authentication use: a JWT (RFC 7519) signed ES256 (RFC 7518 §3.4) with claims
//   iss (Pier's issuer), sub (login name, "" for anonymous), aud (the service), exp, nbf, iat, jti,
//   access: [{ type: "repository" | "registry", name, actions: [...] }],
//   account: { id, credential_epoch, access_epoch }  (signed in only: worker/auth/account-stamp.ts)
// and refresh tokens for the OAuth2 refresh_token grant (RFC 6749 §6) that `docker login` uses
// against POST /token. Verification is stateless, so it costs one signature check at any
// location; it returns null, never throws, for anything that is not a valid token of the
// expected kind, so a caller cannot mistake a parsing error for a decision.
import { jwtVerify, SignJWT, type JWTHeaderParameters, type JWTPayload } from "jose";
import type { AccountStamp, CredentialStamp } from "./account-stamp";
import type { SigningKey, VerificationKey, VerificationKeys } from "./signing-key";

export type AccessType = "repository" | "registry";

/** One resource and the actions granted on it, e.g. repository "team/app": ["pull", "push"]. */
export interface AccessEntry {
  type: AccessType;
  name: string;
  actions: string[];
}

/** Who issues the token and which service it is for: both are checked on verification. */
export interface TokenParties {
  issuer: string;
  service: string;
}

export interface IssueTokenOptions extends TokenParties {
  /** The login name; "" for an anonymous client, as distribution's token servers do. */
  subject: string;
  /** The account behind `subject` as it is now; null for anonymous (subject ""). */
  account: AccountStamp | null;
  access: AccessEntry[];
  lifetimeSeconds?: number;
}

export interface IssueRefreshTokenOptions extends TokenParties {
  subject: string;
  account: CredentialStamp;
  lifetimeSeconds?: number;
}

export interface IssuedToken {
  token: string;
  /** Seconds until expiry: the token response's `expires_in`. */
  expiresIn: number;
  /** RFC 3339 time of issue: the token response's `issued_at`. */
  issuedAt: string;
}

export interface VerifiedToken {
  subject: string;
  /** null exactly when the subject is "" (anonymous). */
  account: AccountStamp | null;
  access: AccessEntry[];
  issuedAt: Date;
  expiresAt: Date;
  /** The jti claim, for the audit log. */
  id: string;
}

export interface VerifiedRefreshToken {
  subject: string;
  account: CredentialStamp;
  issuedAt: Date;
  expiresAt: Date;
  id: string;
}

/** Long enough for a large push over a slow link; the token endpoint may configure it. */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 900;
/** How long `docker login` stays logged in without sending the password again. */
export const DEFAULT_REFRESH_TOKEN_LIFETIME_SECONDS = 30 * 24 * 60 * 60;
/** Clocks at Cloudflare's locations and at clients drift a little; more would stretch expiry. */
const CLOCK_TOLERANCE_SECONDS = 30;

// The two kinds differ in the typ header (RFC 7515 §4.1.9, RFC 8725 §3.11) and in the payload,
// and each verifier checks both, so neither kind is ever accepted as the other.
const ACCESS_TOKEN_TYP = "JWT";
const REFRESH_TOKEN_TYP = "pier-refresh+jwt";
const REFRESH_TOKEN_USE = "refresh";
const ACCESS_TYPES: ReadonlySet<string> = new Set<AccessType>(["repository", "registry"]);

/** Signs an access token carrying exactly `access`: decide what the principal may have first. */
export async function issueToken(key: SigningKey, options: IssueTokenOptions): Promise<IssuedToken> {
  if ((options.subject === "") !== (options.account === null)) throw new TypeError("a token names an account exactly when it has a subject");
  const access = options.access.map((entry) => ({ type: entry.type, name: entry.name, actions: [...entry.actions] }));
  const account = options.account && { id: options.account.id, credential_epoch: options.account.credentialEpoch, access_epoch: options.account.accessEpoch };
  return sign(key, ACCESS_TOKEN_TYP, options, options.lifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS, { access, ...(account && { account }) });
}

/**
 * Signs a refresh token. It carries the subject only, never access: the token endpoint works
 * out the principal's access afresh on every refresh, so a disabled account, an expired robot
 * or a removed membership takes effect at the next refresh at the latest.
 */
export async function issueRefreshToken(key: SigningKey, options: IssueRefreshTokenOptions): Promise<IssuedToken> {
  const account = { id: options.account.id, credential_epoch: options.account.credentialEpoch };
  return sign(key, REFRESH_TOKEN_TYP, options, options.lifetimeSeconds ?? DEFAULT_REFRESH_TOKEN_LIFETIME_SECONDS, { token_use: REFRESH_TOKEN_USE, account });
}

/** The access token's claims if `token` is one that one of `keys` signed for these parties and is current. */
export async function verifyToken(keys: VerificationKeys, token: string, parties: TokenParties): Promise<VerifiedToken | null> {
  const payload = await verifiedPayload(keys, token, parties, ACCESS_TOKEN_TYP);
  if (!payload || payload.token_use !== undefined) return null;
  const access = parseAccess(payload.access);
  if (!access) return null;
  // A signed-in subject without an account claim is a token from before accounts had ids:
  // nothing says it still speaks for the account of that name, so it is refused.
  const account = payload.sub === "" ? (payload.account === undefined ? null : undefined) : parseAccount(payload.account, true);
  if (account === undefined) return null;
  return { ...commonClaims(payload), account, access };
}

/** The refresh token's subject if `token` is a current refresh token one of `keys` signed for these parties. */
export async function verifyRefreshToken(keys: VerificationKeys, token: string, parties: TokenParties): Promise<VerifiedRefreshToken | null> {
  const payload = await verifiedPayload(keys, token, parties, REFRESH_TOKEN_TYP);
  if (!payload || payload.token_use !== REFRESH_TOKEN_USE || payload.access !== undefined || payload.sub === "") return null;
  const account = parseAccount(payload.account, false);
  if (account === undefined) return null;
  return { ...commonClaims(payload), account };
}

/**
 * Whether the token allows `action` on the resource. "*" among the actions allows every action,
 * as in distribution's token authentication (`registry:catalog:*` is the usual one). Names must
 * match exactly: access to "team/app" says nothing about "team/app2" or "team".
 */
export function grants(verified: Pick<VerifiedToken, "access">, type: AccessType, name: string, action: string): boolean {
  return verified.access.some(
    (entry) => entry.type === type && entry.name === name && (entry.actions.includes(action) || entry.actions.includes("*")),
  );
}

async function sign(key: SigningKey, typ: string, parties: TokenParties & { subject: string }, lifetimeSeconds: number, claims: JWTPayload): Promise<IssuedToken> {
  if (!Number.isSafeInteger(lifetimeSeconds) || lifetimeSeconds <= 0) {
    throw new RangeError(`a token lifetime must be a positive whole number of seconds, got ${lifetimeSeconds}`);
  }
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({
    ...claims,
    iss: parties.issuer,
    sub: parties.subject,
    aud: parties.service,
    exp: now + lifetimeSeconds,
    nbf: now,
    iat: now,
    jti: crypto.randomUUID(),
  })
    // kid names the key in /.well-known/jwks.json (distribution looks keys up by it).
    .setProtectedHeader({ alg: "ES256", typ, kid: key.kid })
    .sign(key.privateKey);
  return { token, expiresIn: lifetimeSeconds, issuedAt: new Date(now * 1000).toISOString() };
}

async function verifiedPayload(keys: VerificationKeys, token: string, parties: TokenParties, typ: string): Promise<JWTPayload | null> {
  if (typeof token !== "string" || token === "") return null;
  try {
    // jose asks for the key only once alg has passed `algorithms`, and the signature is then
    // checked with the key the kid names (RFC 7515 §4.1.4), never with whichever key fits.
    const { payload } = await jwtVerify(token, (header) => keyNamedBy(keys, header).publicKey, {
      // Only ES256: no "none", and no HS256 keyed with the public key (RFC 8725 §2.1, §3.1).
      algorithms: ["ES256"],
      issuer: parties.issuer,
      audience: parties.service,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      typ,
      // jose checks exp and nbf only when present; a token without them would never expire.
      requiredClaims: ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"],
    });
    if (typeof payload.sub !== "string" || typeof payload.jti !== "string") return null;
    return payload;
  } catch {
    return null;
  }
}

/**
 * The key whose kid the token's header names: the current key, or the previous one after a
 * rotation (PIER_SIGNING_KEY_PREVIOUS), so tokens signed before it stay valid until they
 * expire. A kid that names neither, or none, throws, which refuses the token.
 */
function keyNamedBy(keys: VerificationKeys, header: JWTHeaderParameters): VerificationKey {
  const key = [keys.current, keys.previous].find((candidate) => candidate !== null && candidate.kid === header.kid);
  if (!key) throw new Error("the token's kid names no key of this Pier");
  return key;
}

/** The account claim; undefined when it is missing or malformed (the token is then refused). */
function parseAccount(claim: unknown, withAccess: true): AccountStamp | undefined;
function parseAccount(claim: unknown, withAccess: false): CredentialStamp | undefined;
function parseAccount(claim: unknown, withAccess: boolean): AccountStamp | CredentialStamp | undefined {
  if (typeof claim !== "object" || claim === null) return undefined;
  const { id, credential_epoch: credentialEpoch, access_epoch: accessEpoch } = claim as Record<string, unknown>;
  if (typeof id !== "string" || id === "" || !Number.isSafeInteger(credentialEpoch)) return undefined;
  if (!withAccess) return accessEpoch === undefined ? { id, credentialEpoch: credentialEpoch as number } : undefined;
  return Number.isSafeInteger(accessEpoch) ? { id, credentialEpoch: credentialEpoch as number, accessEpoch: accessEpoch as number } : undefined;
}

function commonClaims(payload: JWTPayload): Omit<VerifiedRefreshToken, "account"> {
  return {
    subject: payload.sub as string,
    issuedAt: new Date((payload.iat as number) * 1000),
    expiresAt: new Date((payload.exp as number) * 1000),
    id: payload.jti as string,
  };
}

/** The access claim, checked entry by entry: a malformed one refuses the whole token. */
function parseAccess(claim: unknown): AccessEntry[] | null {
  if (!Array.isArray(claim)) return null;
  const access: AccessEntry[] = [];
  for (const entry of claim as unknown[]) {
    if (typeof entry !== "object" || entry === null) return null;
    const { type, name, actions } = entry as Record<string, unknown>;
    if (typeof type !== "string" || !ACCESS_TYPES.has(type) || typeof name !== "string" || name === "") return null;
    if (!Array.isArray(actions) || !actions.every((action) => typeof action === "string")) return null;
    access.push({ type: type as AccessType, name, actions: [...(actions as string[])] });
  }
  return access;
}
