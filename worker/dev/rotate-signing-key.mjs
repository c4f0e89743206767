#!/usr/bin/env node
// `npm run rotate-signing-key`: replaces the key Pier signs its tokens with, signing nobody out.
//
//   npm run rotate-signing-key                                         the local Pier (.dev.vars)
//   npm run rotate-signing-key -- --remote --url https://pier.example.com   a deployed Pier
//
// Either way PIER_SIGNING_KEY_PREVIOUS becomes the public part of the current key and
// PIER_SIGNING_KEY a new key. New tokens are signed with the new key; tokens and refresh
// tokens the old key signed keep verifying (worker/auth/signing-key.ts) until they expire or
// until the NEXT rotation replaces PIER_SIGNING_KEY_PREVIOUS. Hence the rule printed at the end.
//
// Locally the current key is read from .dev.vars (`--dev-vars <file>` names another file; the
// tests use that, never the developer's own). A deployed Pier's secrets cannot be read back, so
// the current public key comes from the Pier itself: the first key of its
// /.well-known/jwks.json, checked against the kid of a token it issues now. Both secrets are
// then set in ONE `wrangler secret bulk` (JSON on stdin), which makes one new version of the
// Worker: no version ever runs the new key without the previous one. `--name` and `--env` go
// to wrangler as they are. PIER_WRANGLER names a command to run instead of `npx wrangler`
// (the tests give a fake one).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { readLocalSecrets, setLocalSecrets } from "./local-secrets.mjs";
import { generateSigningKeyJwk, publicSigningKeyJwk, signingKeyId } from "./signing-key.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const CURRENT = "PIER_SIGNING_KEY";
const PREVIOUS = "PIER_SIGNING_KEY_PREVIOUS";
/** How long to wait for a deployed Pier to publish the new key (a secret change rolls out in seconds). */
const ROLLOUT_WAIT_MS = 60_000;

const RULE = `Tokens and refresh tokens signed by the previous key stay valid until the next rotation (or
until they expire: access tokens after 15 minutes, refresh tokens from \`docker login\` after
30 days). Rotate at most once per refresh-token lifetime (30 days) to keep everyone signed in:
rotating twice in quick succession signs out whoever holds a refresh token from two keys ago
(they run \`docker login\` again).`;

try {
  const { values: options } = parseArgs({
    options: {
      remote: { type: "boolean", default: false },
      url: { type: "string" },
      "dev-vars": { type: "string" },
      name: { type: "string" },
      env: { type: "string" },
    },
  });
  // A flag of the other mode is a mistake, not something to ignore: it could rotate the wrong Pier.
  if (!options.remote && (options.url || options.name || options.env)) throw new Error("--url, --name and --env are for --remote");
  if (options.remote && options["dev-vars"]) throw new Error("--dev-vars is for a local rotation, not --remote");
  if (options.remote) await rotateDeployed(options);
  else await rotateLocal(options["dev-vars"] ?? join(root, ".dev.vars"));
} catch (error) {
  console.error(`Pier: the signing key was not rotated: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}

async function rotateLocal(path) {
  const { [CURRENT]: current, [PREVIOUS]: dropped } = readLocalSecrets(path);
  if (current === undefined || current.trim() === "") {
    throw new Error(`${path} has no ${CURRENT}; \`npm start\` generates one, and there is nothing to rotate before it has`);
  }
  const previous = readPublicPart(current, `${CURRENT} in ${path}`);
  const next = await generateSigningKeyJwk();
  setLocalSecrets(path, { [CURRENT]: next, [PREVIOUS]: previous });
  console.log(`Rotated the token signing key in ${path}:
  ${PREVIOUS} := the public part of the key that signed until now (kid ${await signingKeyId(previous)})
  ${CURRENT} := a new key (kid ${await signingKeyId(next)})${await droppedNote(dropped, previous)}
Restart \`npm start\` if it is running: wrangler dev reads .dev.vars when it starts.

${RULE}`);
}

async function rotateDeployed({ url, name, env }) {
  const origin = originOf(url);
  const previous = await signingPublicKey(origin);
  const next = await generateSigningKeyJwk();
  const [previousKid, nextKid] = [await signingKeyId(previous.jwk), await signingKeyId(next)];
  console.log(`— ${origin} signs with kid ${previousKid}; setting ${CURRENT} (new, kid ${nextKid}) and ${PREVIOUS} (kid ${previousKid}) in one step`);
  const wranglerArgs = ["secret", "bulk", ...(name ? ["--name", name] : []), ...(env ? ["--env", env] : [])];
  const [command, args] = process.env.PIER_WRANGLER ? [process.env.PIER_WRANGLER, wranglerArgs] : ["npx", ["wrangler", ...wranglerArgs]];
  const result = spawnSync(command, args, {
    cwd: root,
    input: JSON.stringify({ [CURRENT]: next, [PREVIOUS]: previous.jwk }),
    stdio: ["pipe", "inherit", "inherit"],
  });
  if (result.status !== 0) throw new Error(`"wrangler ${wranglerArgs.join(" ")}" failed (see above); the deployed Pier still has its old keys`);
  const published = await waitForKey(origin, nextKid);
  console.log(`Rotated the token signing key of ${origin}:
  ${PREVIOUS} := the public part of the key that signed until now (kid ${previousKid})
  ${CURRENT} := a new key (kid ${nextKid}), kept only in the Worker's secrets${previous.dropped.length > 0 ? `\n  no longer accepted: tokens of the key before it (kid ${previous.dropped.join(", ")})` : ""}
${published ? `${origin}/.well-known/jwks.json now lists the new key first.` : `${origin}/.well-known/jwks.json did not list the new key within ${ROLLOUT_WAIT_MS / 1000} s; check it (or \`npx wrangler deployments list\`) before rotating again.`}

${RULE}`);
}

/** The JWK's public part, or an error naming where it came from (never the value: it is a secret). */
function readPublicPart(jwkJson, where) {
  try {
    return publicSigningKeyJwk(jwkJson);
  } catch (error) {
    throw new Error(`${where} is not a usable key: ${error.message}`);
  }
}

async function droppedNote(dropped, previous) {
  if (dropped === undefined || dropped.trim() === "") return "";
  const kid = await signingKeyId(dropped).catch(() => "unreadable");
  return kid === (await signingKeyId(previous)) ? "" : `\n  no longer accepted: tokens of the key before it (kid ${kid})`;
}

function originOf(url) {
  if (url === undefined) throw new Error("--remote needs --url, the deployed Pier's public URL (e.g. --url https://pier.example.com)");
  const parsed = URL.canParse(url) ? new URL(url) : null;
  if (parsed === null || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) throw new Error(`--url must be an http(s) URL, got "${url}"`);
  return parsed.origin;
}

/**
 * The public key the deployed Pier signs with now: the first key of its JWKS (the current one,
 * worker/auth/signing-key.ts `jwks`), confirmed by the kid of an anonymous token it issues now.
 * `dropped`: the kids of the other keys it lists, which the rotation stops accepting.
 */
async function signingPublicKey(origin) {
  const response = await fetch(`${origin}/.well-known/jwks.json`, { headers: { "Cache-Control": "no-cache" } });
  if (!response.ok) throw new Error(`GET ${origin}/.well-known/jwks.json answered ${response.status}: is --url a Pier?`);
  const keys = (await response.json().catch(() => ({}))).keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${origin}/.well-known/jwks.json lists no keys: is --url a Pier?`);
  const [first, ...others] = keys;
  const jwk = readPublicPart(JSON.stringify(first), `the first key of ${origin}/.well-known/jwks.json`);
  if (first.kid !== (await signingKeyId(jwk))) throw new Error(`the first key of ${origin}/.well-known/jwks.json is not named by its RFC 7638 thumbprint, as Pier names its keys`);
  const signing = await kidOfIssuedToken(origin);
  if (signing !== null && signing !== first.kid) {
    throw new Error(`${origin} signs its tokens with kid ${signing}, not with the first key of its JWKS (${first.kid}); is a rotation still rolling out?`);
  }
  return { jwk, dropped: others.map((key) => key.kid) };
}

/** The kid in the header of an anonymous token from GET /token; null when Pier gives none. */
async function kidOfIssuedToken(origin) {
  const response = await fetch(`${origin}/token`).catch(() => null);
  if (!response?.ok) return null;
  const token = (await response.json().catch(() => ({}))).token;
  if (typeof token !== "string") return null;
  try {
    const { kid } = JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString("utf8"));
    return typeof kid === "string" ? kid : null;
  } catch {
    return null;
  }
}

/** Whether the deployed Pier lists `kid` first in its JWKS within ROLLOUT_WAIT_MS. */
async function waitForKey(origin, kid) {
  const deadline = Date.now() + ROLLOUT_WAIT_MS;
  while (Date.now() < deadline) {
    const response = await fetch(`${origin}/.well-known/jwks.json`, { headers: { "Cache-Control": "no-cache" } }).catch(() => null);
    const keys = response?.ok ? (await response.json().catch(() => ({}))).keys : undefined;
    if (Array.isArray(keys) && keys[0]?.kid === kid) return true;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  return false;
}
