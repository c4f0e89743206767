#!/usr/bin/env node
// `npm start`: a local Pier on 127.0.0.1:8787 with its state persisted under .wrangler/state.
// Applies the D1 migrations first (so a fresh checkout just works), says how to use the
// registry, then hands over to `wrangler dev`.
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const address = "127.0.0.1:8787";
// A local registry talks to nothing but its clients: no request.cf lookup, no telemetry.
const env = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

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

console.log(`
Pier, an OCI registry, is starting on http://${address}
  push:  skopeo copy --dest-tls-verify=false oci:./my-image docker://${address}/team/app:1.0
         (podman push --tls-verify=false …; docker push ${address}/team/app:1.0, loopback needs no TLS)
  pull:  skopeo copy --src-tls-verify=false docker://${address}/team/app:1.0 oci:./copy
  data:  .wrangler/state (R2 blobs, D1 metadata, Durable Objects); delete it for an empty registry
`);

const server = spawn("npx", ["wrangler", "dev", ...process.argv.slice(2)], { cwd: root, env, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.kill(signal));
server.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
