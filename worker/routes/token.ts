// The token endpoint of the Docker registry token protocol, and the keys that verify its tokens:
//   GET  /token                  Basic credentials or none → a registry token (distribution's
//                                "Token Authentication Specification"; what docker pull/push use)
//   POST /token                  OAuth2 password and refresh_token grants (RFC 6749 §4.3, §6;
//                                distribution's "OAuth2 Token Authentication"; what containerd
//                                and docker with a stored identity token use)
//   GET  /.well-known/jwks.json  the public keys that verify its tokens (RFC 7517 §5): the
//                                current one first, then the previous one after a rotation
//
// Wrong credentials are 401 on both, never an anonymous token: "if an attempt to authenticate
// to the token server fails, the token server should return a 401 Unauthorized response"
// (distribution, "Token Authentication Implementation"). On POST that goes for a wrong password
// and for a refresh token that is not one (a credential too): the body carries RFC 6749 §5.2's
// `error: "invalid_grant"` for OAuth2 clients and the registry's `errors` list, which docker's
// client parses into "unauthorized: …"; containerd falls back to GET on a 401 and hears the
// same 401 there. Malformed requests are 400 with RFC 6749 §5.2's body.
import { Hono } from "hono";
import { accessFor } from "../auth/access";
import { stampedAccount } from "../auth/account-state";
import { authenticate, authenticatePassword, tokenParties } from "../auth/authenticate";
import { auditLogin, auditRefusals } from "../auth/login-audit";
import { type Principal, principalName } from "../auth/principal";
import { parseScopes, type Scope } from "../auth/scopes";
import { jwks, loadSigningKeys } from "../auth/signing-key";
import { type AccessEntry, issueRefreshToken, issueToken, verifyRefreshToken } from "../auth/tokens";
import { readRequestBody, SMALL_BODY_BYTES } from "../bounded-body";
import { RegistryError } from "../errors";
import { type AppContext, type AppEnv, clientIp, credentialsOf, waitUntilOf } from "./context";

export const tokenRoutes = new Hono<AppEnv>();

// Tokens are credentials: no cache may keep them (RFC 6749 §5.1).
const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" };
// A token request is a few hundred bytes; the form is read only to 64 KiB (bounded-body.ts).
const MAX_FORM_BYTES = SMALL_BODY_BYTES;

tokenRoutes.get("/token", async (c) => {
  const wrongService = serviceMismatch(c, c.req.query("service"));
  if (wrongService !== null) throw new RegistryError("INVALID_REQUEST", wrongService);
  const principal = await signIn(c);
  // offline_token asks for a refresh token (docker login): only for credentials, never anonymous.
  const offline = c.req.query("offline_token") === "true" && principal.kind !== "anonymous";
  const { token, refreshToken } = await issue(c, principal, parseScopes(c.req.queries("scope") ?? []), offline);
  return c.json(
    { token: token.token, access_token: token.token, expires_in: token.expiresIn, issued_at: token.issuedAt, ...(refreshToken && { refresh_token: refreshToken }) },
    200,
    NO_STORE,
  );
});

tokenRoutes.post("/token", async (c) => {
  try {
    const form = await readForm(c);
    const { principal, offline } = await grantOf(c, form);
    const { token, access, refreshToken } = await issue(c, principal, parseScopes(form.getAll("scope")), offline);
    return c.json(
      {
        access_token: token.token,
        token: token.token,
        token_type: "Bearer",
        expires_in: token.expiresIn,
        issued_at: token.issuedAt,
        // RFC 6749 §5.1: the granted scope, required where it differs from the requested one.
        scope: access.map((entry) => `${entry.type}:${entry.name}:${entry.actions.join(",")}`).join(" "),
        ...(refreshToken && { refresh_token: refreshToken }),
      },
      200,
      NO_STORE,
    );
  } catch (error) {
    if (error instanceof RegistryError && error.code === "UNAUTHORIZED") return oauthError(c, new OAuthError(401, "invalid_grant", error.message));
    if (error instanceof OAuthError) return oauthError(c, error);
    throw error;
  }
});

tokenRoutes.get("/.well-known/jwks.json", async (c) =>
  // Five minutes: a rotated key reaches verifiers soon, and the set is not fetched per token.
  c.json(jwks(await loadSigningKeys(c.var.config.auth)), 200, { "Cache-Control": "public, max-age=300" }),
);

/** Basic credentials or none; a bearer token does not buy another token (it would never expire). */
async function signIn(c: AppContext): Promise<Principal> {
  try {
    // Tokens are issued from an account at most a few seconds old (account-state.ts), and failed
    // sign-ins are audited where the password is checked (sign-in.ts).
    const principal = await authenticate(c.env, c.var.config, credentialsOf(c, "change"));
    if (principal.kind === "token") throw new RegistryError("UNAUTHORIZED", "the token endpoint takes Basic credentials, not a token");
    if (principal.kind !== "anonymous") auditLogin(c.env, waitUntilOf(c), { principal: principalName(principal), result: "success", ip: clientIp(c) });
    return principal;
  } catch (error) {
    // The token endpoint is where credentials go, so its challenge asks for them (RFC 7617),
    // not for a token from itself.
    if (error instanceof RegistryError && error.code === "UNAUTHORIZED") throw new RegistryError("UNAUTHORIZED", error.message, { headers: basicChallenge(c) });
    throw error;
  }
}

/**
 * The account a refresh token was issued to, as it is now: refused at once (no remembered copy)
 * when the account is gone, disabled, expired, or its password or secret changed since.
 */
async function refreshed(c: AppContext, refreshToken: string): Promise<Principal> {
  // Current or previous key: a rotation keeps `docker login`s made before it (signing-key.ts).
  const keys = await loadSigningKeys(c.var.config.auth);
  const claims = await verifyRefreshToken(keys, refreshToken, tokenParties(c.var.config, c.req.url));
  if (claims === null) throw new RegistryError("UNAUTHORIZED", "the refresh token is invalid or has expired");
  return stampedAccount(c.env, claims.subject, claims.account, "now");
}

/** An RFC 6749 §5.2 error of POST /token, which answers OAuth2's body rather than the registry's. */
class OAuthError extends Error {
  constructor(
    readonly status: 400 | 401,
    readonly error: "invalid_request" | "invalid_grant" | "unsupported_grant_type",
    message: string,
  ) {
    super(message);
  }
}

async function readForm(c: AppContext): Promise<URLSearchParams> {
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(c.req.header("Content-Type") ?? "")) {
    throw new OAuthError(400, "invalid_request", "the body must be application/x-www-form-urlencoded");
  }
  // Bounded while reading, and before any sign-in: an oversized body (chunked too) is 413 after
  // at most 64 KiB, and never spends a login attempt of the name it may carry.
  const form = new URLSearchParams(new TextDecoder().decode(await readRequestBody(c.req.raw, MAX_FORM_BYTES, "the form")));
  const wrongService = serviceMismatch(c, form.get("service") ?? undefined);
  if (wrongService !== null) throw new OAuthError(400, "invalid_request", wrongService);
  return form;
}

/** Who the grant signs in (client_id is accepted and ignored: every client is public here). */
async function grantOf(c: AppContext, form: URLSearchParams): Promise<{ principal: Principal; offline: boolean }> {
  const grantType = form.get("grant_type");
  if (grantType === "password") {
    const username = form.get("username");
    const password = form.get("password");
    if (!username || password === null) throw new OAuthError(400, "invalid_request", "the password grant needs username and password");
    const principal = await authenticatePassword(c.env, c.var.config, { username, password }, credentialsOf(c, "change"));
    auditLogin(c.env, waitUntilOf(c), { principal: principalName(principal), result: "success", ip: clientIp(c) });
    // access_type=offline asks for a refresh token (distribution's OAuth2 spec).
    return { principal, offline: form.get("access_type") === "offline" };
  }
  if (grantType === "refresh_token") {
    const refreshToken = form.get("refresh_token");
    if (!refreshToken) throw new OAuthError(400, "invalid_request", "the refresh_token grant needs refresh_token");
    // No new refresh token: the client keeps its own, which expires as issued (no endless login).
    return { principal: await refreshed(c, refreshToken), offline: false };
  }
  if (grantType === null || grantType === "") throw new OAuthError(400, "invalid_request", "grant_type is required");
  throw new OAuthError(400, "unsupported_grant_type", "grant_type must be password or refresh_token");
}

/** Signs an access token carrying what the principal may do of `scopes`, and a refresh token if asked. */
async function issue(c: AppContext, principal: Principal, scopes: Scope[], offline: boolean) {
  const { config } = c.var;
  const { issuer, service } = tokenParties(config, c.req.url);
  const key = (await loadSigningKeys(config.auth)).current;
  const subject = principalName(principal);
  // The account as access was decided for it: the token names it, and dies when it changes.
  const account = principal.kind === "user" || principal.kind === "robot" ? principal.account : null;
  const access: AccessEntry[] = await accessFor(c.env, config, principal, scopes);
  auditRefusals(c.env, waitUntilOf(c), { principal: subject || "anonymous", requested: scopes, granted: access, ip: clientIp(c) });
  const [token, refresh] = await Promise.all([
    issueToken(key, { issuer, service, subject, account, access, lifetimeSeconds: config.auth.tokenLifetimeSeconds }),
    offline && account !== null ? issueRefreshToken(key, { issuer, service, subject, account }) : null,
  ]);
  return { token, access, refreshToken: refresh?.token };
}

/** Why `service` is not this registry's (a token is good here only), or null when it is or is absent. */
function serviceMismatch(c: AppContext, service: string | undefined): string | null {
  const ours = tokenParties(c.var.config, c.req.url).service;
  if (service === undefined || service === "" || service.toLowerCase() === ours) return null;
  return `this token service issues tokens for ${ours}, not ${service}`;
}

/** RFC 6749 §5.2's error body; a 401 also carries the registry's error list and a challenge. */
function oauthError(c: AppContext, { status, error, message }: OAuthError): Response {
  const body = { error, error_description: message, ...(status === 401 && { errors: [{ code: "UNAUTHORIZED", message }] }) };
  return c.json(body, status, { ...NO_STORE, ...(status === 401 ? basicChallenge(c) : {}) });
}

function basicChallenge(c: AppContext): Record<string, string> {
  return { "WWW-Authenticate": `Basic realm="${tokenParties(c.var.config, c.req.url).service}", charset="UTF-8"` };
}

