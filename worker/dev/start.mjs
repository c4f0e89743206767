#!/usr/bin/env node
// `npm start`: a local Pier on 127.0.0.1:8787 with its state persisted under .wrangler/state.
// Applies the D1 migrations first (so a fresh checkout just works), says how to sign in and
// use the registry, then hands over to `wrangler dev`.
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureLocalSecrets } from "./local-secrets.mjs";
import { ADMIN_USERNAME, adminAuthorization, LOCAL_WRANGLER_ENV } from "./local-run.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
// wrangler.toml's [dev] port unless `npm start -- --port N` picks another: the instructions
// printed below and the configuration check follow it.
const port = /--port[= ](\d+)/.exec(process.argv.slice(2).join(" "))?.[1] ?? "8787";
const address = `127.0.0.1:${port}`;
const env = { ...process.env, ...LOCAL_WRANGLER_ENV };

function wrangler(args, options = {}) {
  return spawnSync("npx", ["wrangler", ...args], { cwd: root, env, encoding: "utf8", ...options });
}

// Without a terminal on stdin wrangler applies migrations without asking for confirmation.
const migrations = wrangler(["d1", "migrations", "apply", "DB", "--local"], { stdio: ["ignore", "pipe", "pipe"] });
if (migrations.status !== 0) {
  process.stderr.write(migrations.stdout + migrations.stderr);
  console.error("Pier: applying the D1 migrations failed (see above); the registry was not started.");
  process.exit(1);
}

// Every Pier needs an admin password and a token signing key: made once, kept in .dev.vars.
const { generated, values: devVars } = await ensureLocalSecrets(join(root, ".dev.vars"));
const adminLine =
  generated.ADMIN_PASSWORD === undefined
    ? `  admin: user ${ADMIN_USERNAME}, password ADMIN_PASSWORD in .dev.vars`
    : `  admin: user ${ADMIN_USERNAME}, password ${generated.ADMIN_PASSWORD}\n         (generated now and shown only this once; kept in .dev.vars)`;

console.log(`
Pier, an OCI registry, is starting on http://${address}
${adminLine}
  login: skopeo login --tls-verify=false ${address} -u ${ADMIN_USERNAME}   (asks for the password)
         podman login --tls-verify=false ${address} -u ${ADMIN_USERNAME}; docker login ${address} -u ${ADMIN_USERNAME}
  names: local repositories are <project>/<name>; the admin's first push into a project
         creates it (private: pulls need a login too)
  push:  skopeo copy --dest-tls-verify=false oci:./my-image docker://${address}/team/app:1.0
         (podman push --tls-verify=false …; docker push ${address}/team/app:1.0, loopback needs no TLS)
  pull:  skopeo copy --src-tls-verify=false docker://${address}/team/app:1.0 oci:./copy
  data:  .wrangler/state (R2 blobs, D1 metadata, Durable Objects); delete it for an empty registry
  cache: to pull Docker Hub, ghcr.io… through Pier, set PIER_UPSTREAMS in .dev.vars
         (README, "Pull-through cache"); then e.g. docker://${address}/hub/library/alpine:3.20
         (upstream caches are public: pulls through them need no login)
`);

// --test-scheduled: wrangler dev runs no Cron Triggers by itself; GET /__scheduled fires one.
const server = spawn("npx", ["wrangler", "dev", "--test-scheduled", ...process.argv.slice(2)], { cwd: root, env, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.kill(signal));
server.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
checkConfiguration();

/**
 * Asks the running worker once whether its configuration is valid. The worker reads exactly
 * what wrangler gives it (wrangler.toml [vars], .dev.vars, --var), so this checks the real
 * thing; a bad setting stops `npm start` with the worker's own message naming it. It signs in
 * as admin (an anonymous GET /v2/ is a 401 challenge), so a 200 also proves the password in
 * .dev.vars is the one the worker has.
 */
async function checkConfiguration() {
  const headers = { Authorization: adminAuthorization(devVars.ADMIN_PASSWORD ?? "") };
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`http://${address}/v2/`, { headers, signal: AbortSignal.timeout(5_000) });
      const text = await response.text();
      if (response.status === 401) {
        console.error("\nPier refused the ADMIN_PASSWORD in .dev.vars: was another one given to wrangler dev (--var)?");
        return;
      }
      if (!text.includes("Pier is misconfigured")) return;
      const message = JSON.parse(text).errors?.[0]?.message ?? text;
      console.error(`\n${message}\nFix the setting (wrangler.toml [vars] or .dev.vars) and run npm start again.`);
      server.kill("SIGTERM");
      process.exitCode = 1;
      return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
