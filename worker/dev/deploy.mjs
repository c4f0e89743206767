#!/usr/bin/env node
// `npm run deploy`: ships Pier to your Cloudflare account (run `npx wrangler login` once, or
// set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID).
//
//   1. the R2 bucket and the queue are created if missing;
//   2. when the D1 database exists, its migrations are applied BEFORE the new code goes live;
//   3. `wrangler deploy` uploads the Worker and its Durable Object classes (creating the D1
//      database on the first deploy, through wrangler's automatic provisioning);
//   4. on a first deploy, the migrations are applied to the database just created.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bucket = "pier-blobs";
const queue = "pier-jobs";
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

const queueCreated = wrangler(["queues", "create", queue], { quiet: true });
if (!queueCreated.ok && !/already (exists|taken)|in use/i.test(queueCreated.output)) {
  console.error(queueCreated.output);
  console.error(`Pier deploy stopped: could not create the queue "${queue}".`);
  process.exit(1);
}
console.log(queueCreated.ok ? `— created queue ${queue}` : `— queue ${queue} exists`);

const databaseExists = wrangler(["d1", "info", database], { quiet: true }).ok;
if (databaseExists) step("applying D1 migrations before the new code goes live", ["d1", "migrations", "apply", "DB", "--remote"]);
step("deploying the Worker", ["deploy"]);
if (!databaseExists) step("applying D1 migrations to the new database", ["d1", "migrations", "apply", "DB", "--remote"]);
console.log("\nPier is deployed. Point clients at your Worker's URL (or its custom domain).");
