#!/usr/bin/env node
// `npm run test:e2e`: every test/e2e/*.test.mjs under node's built-in runner, with the very
// Node that runs this script (the pinned Node 24 when started through npm/npx). Extra
// arguments pass through, e.g. `npm run test:e2e -- --test-name-pattern=list-tags`.
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const files = readdirSync(here)
  .filter((name) => name.endsWith(".test.mjs"))
  .sort()
  .map((name) => join(here, name));
if (files.length === 0) {
  console.error(`no *.test.mjs files in ${here}`);
  process.exit(1);
}

// One file at a time: each file starts its own wrangler dev (workerd), and several at once
// mostly compete for the same few cores.
const args = ["--test", "--test-concurrency=1", ...process.argv.slice(2), ...files];
const child = spawn(process.execPath, args, { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
