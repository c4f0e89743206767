// Lesson 19: a developer's `.dev.vars` (or `.env`, or shell) never changes what `npm test` sees.
// The vitest pool hands wrangler the configuration test/vitest.config.ts builds with
// pinnedWranglerConfig (test/helpers/pinned-wrangler-config.mjs); here that same function runs
// against a throwaway project holding the local settings the README suggests, and wrangler
// itself is asked, as the pool asks it, which vars it would give the Worker. Each test first
// shows that reading the project's own wrangler.toml (what the pool used to be given) lets
// the setting through, so the check would catch a return to that.
import assert from "node:assert/strict";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";
import { pinnedWranglerConfig } from "../helpers/pinned-wrangler-config.mjs";
import { makeTempDir, removeTempDir, ROOT } from "./harness.mjs";

/** Process variables the tests or pinnedWranglerConfig set, restored after each test. */
const TOUCHED = ["CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV", "CLOUDFLARE_INCLUDE_PROCESS_ENV", "PIER_MIRROR_DEFAULT"];
let saved;
let project;

beforeEach(() => {
  saved = Object.fromEntries(TOUCHED.map((name) => [name, process.env[name]]));
  for (const name of TOUCHED) delete process.env[name];
  // A project as a developer has it: Pier's wrangler.toml, and local settings beside it.
  project = makeTempDir("pier-pinned-");
  copyFileSync(join(ROOT, "wrangler.toml"), join(project, "wrangler.toml"));
});

afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  removeTempDir(project);
});

/** What the pool does with a configPath (vitest-pool-workers: unstable_readConfig, then this). */
function workerSettings(configPath) {
  const config = unstable_readConfig({ config: configPath });
  const { workerOptions, main } = unstable_getMiniflareWorkerOptions(config, undefined, { overrides: { enableContainers: false } });
  return { vars: workerOptions.bindings ?? {}, main };
}

test("a .dev.vars beside wrangler.toml does not reach the tests' Worker", () => {
  writeFileSync(join(project, ".dev.vars"), "PIER_MIRROR_DEFAULT=hub\n");
  assert.equal(workerSettings(join(project, "wrangler.toml")).vars.PIER_MIRROR_DEFAULT, "hub");

  const pinned = workerSettings(pinnedWranglerConfig(project));
  assert.equal(pinned.vars.PIER_MIRROR_DEFAULT, undefined);
});

test("nor does a .env, nor the shell's environment when CLOUDFLARE_INCLUDE_PROCESS_ENV asks for it", () => {
  writeFileSync(join(project, ".env"), "PIER_MIRROR_DEFAULT=hub\n");
  assert.equal(workerSettings(join(project, "wrangler.toml")).vars.PIER_MIRROR_DEFAULT, "hub");
  assert.equal(workerSettings(pinnedWranglerConfig(project)).vars.PIER_MIRROR_DEFAULT, undefined);

  delete process.env.CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV;
  Object.assign(process.env, { CLOUDFLARE_INCLUDE_PROCESS_ENV: "true", PIER_MIRROR_DEFAULT: "hub" });
  assert.equal(workerSettings(pinnedWranglerConfig(project)).vars.PIER_MIRROR_DEFAULT, undefined);
});

test("the pinned configuration is still the project's: its [vars], its entry point, its bindings", () => {
  const fromProject = workerSettings(join(project, "wrangler.toml"));
  const pinned = workerSettings(pinnedWranglerConfig(project));
  assert.equal(pinned.vars.PIER_MAX_BODY_BYTES, fromProject.vars.PIER_MAX_BODY_BYTES);
  assert.equal(pinned.main, join(project, "worker/index.ts"));
  const { workerOptions: a } = unstable_getMiniflareWorkerOptions(unstable_readConfig({ config: join(project, "wrangler.toml") }));
  const { workerOptions: b } = unstable_getMiniflareWorkerOptions(unstable_readConfig({ config: pinnedWranglerConfig(project) }));
  for (const option of ["r2Buckets", "d1Databases", "durableObjects", "queueProducers", "queueConsumers", "compatibilityDate"]) {
    assert.deepEqual(b[option], a[option], option);
  }
});
