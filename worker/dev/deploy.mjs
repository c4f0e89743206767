#!/usr/bin/env node
// `npm run deploy`: ships Pier to your Cloudflare account (run `npx wrangler login` once, or
// set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID).
//
//   1. the R2 bucket and the queues are created if missing; the secrets are checked: the token
//      signing key and the credentials key are generated if missing (never replaced: `npm run rotate-signing-key --
//      --remote` does that without signing anyone out), ADMIN_PASSWORD must be given (Pier
//      refuses to run without it), from the environment of this command or by `wrangler secret put`;
//   2. when the D1 database exists, its migrations are applied BEFORE the new code goes live;
//   3. `wrangler deploy` uploads the Worker and its Durable Object classes (creating the D1
//      database on the first deploy, through wrangler's automatic provisioning);
//   4. on a first deploy, the migrations are applied to the database just created.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { generateCredentialsKey } from "./local-secrets.mjs";
import { generateSigningKeyJwk } from "./signing-key.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bucket = "pier-blobs";
/** wrangler.toml [[queues.consumers]]: background jobs, replication copies, webhook deliveries, and their dead letters. */
const queues = ["pier-jobs", "pier-replication", "pier-webhooks", "pier-dead-letters"];
const database = "pier";

function wrangler(args, { quiet = false } = {}) {
  const result = spawnSync("npx", ["wrangler", ...args], {
    cwd: root,
    encoding: "utf8",
    stdio: quiet ? ["ignore", "pipe", "pipe"] : ["ignore", "inherit", "inherit"],
  });
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

function step(description, args) {
  console.log(`\n— ${description}`);
  if (!wrangler(args).ok) {
    console.error(`Pier deploy stopped: "wrangler ${args.join(" ")}" failed (see above).`);
    process.exit(1);
  }
}

const created = wrangler(["r2", "bucket", "create", bucket], { quiet: true });
if (!created.ok && !/already exists|already own/i.test(created.output)) {
  console.error(created.output);
  console.error(`Pier deploy stopped: could not create the R2 bucket "${bucket}".`);
  process.exit(1);
}
console.log(created.ok ? `— created R2 bucket ${bucket}` : `— R2 bucket ${bucket} exists`);

for (const queue of queues) {
  const queueCreated = wrangler(["queues", "create", queue], { quiet: true });
  if (!queueCreated.ok && !/already (exists|taken)|in use/i.test(queueCreated.output)) {
    console.error(queueCreated.output);
    console.error(`Pier deploy stopped: could not create the queue "${queue}".`);
    process.exit(1);
  }
  console.log(queueCreated.ok ? `— created queue ${queue}` : `— queue ${queue} exists`);
}

await ensureSecrets();

const databaseExists = wrangler(["d1", "info", database], { quiet: true }).ok;
if (databaseExists) step("applying D1 migrations before the new code goes live", ["d1", "migrations", "apply", "DB", "--remote"]);
step("deploying the Worker", ["deploy"]);
if (!databaseExists) step("applying D1 migrations to the new database", ["d1", "migrations", "apply", "DB", "--remote"]);
console.log("\nPier is deployed. Point clients at your Worker's URL (or its custom domain).");

/** The secrets Pier refuses to run without (worker/config.ts). */
async function ensureSecrets() {
  // Lists names only (never values); fails for a Worker not deployed yet, which has none.
  // Names are compared whole: PIER_SIGNING_KEY_PREVIOUS is not PIER_SIGNING_KEY.
  const listed = wrangler(["secret", "list", "--format", "json"], { quiet: true });
  const names = new Set(listed.ok ? [...listed.output.matchAll(/"name"\s*:\s*"([^"]+)"/g)].map((match) => match[1]) : []);
  const has = (name) => names.has(name);
  if (process.env.ADMIN_PASSWORD) {
    putSecret("ADMIN_PASSWORD", process.env.ADMIN_PASSWORD);
  } else if (!has("ADMIN_PASSWORD")) {
    console.error(
      "Pier deploy stopped: the secret ADMIN_PASSWORD (the admin user's password, 12 characters or more) is not set.\n" +
        "Run `npx wrangler secret put ADMIN_PASSWORD`, or `ADMIN_PASSWORD=… npm run deploy`.",
    );
    process.exit(1);
  }
  if (!has("PIER_SIGNING_KEY")) putSecret("PIER_SIGNING_KEY", await generateSigningKeyJwk());
  // Never replaced: remote registries' credentials and webhook secrets are sealed with it.
  if (!has("PIER_CREDENTIALS_KEY")) putSecret("PIER_CREDENTIALS_KEY", generateCredentialsKey());
}

function putSecret(name, value) {
  const result = spawnSync("npx", ["wrangler", "secret", "put", name], { cwd: root, input: value, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
  if (result.status !== 0) {
    console.error(`${result.stdout}${result.stderr}`);
    console.error(`Pier deploy stopped: could not set the secret ${name}.`);
    process.exit(1);
  }
  console.log(`— secret ${name} set`);
}
