// The Wrangler configuration the tests (test/vitest.config.ts) and the benchmarks
// (bench/servers.mjs) run Pier with: the project's wrangler.toml and nothing a developer keeps
// beside it (lesson 19: a `.dev.vars` never changes what `npm test` sees).
//
// Wrangler reads local settings from the configuration file's directory: `.dev.vars`, else
// `.env` and `.env.local` (and, with CLOUDFLARE_INCLUDE_PROCESS_ENV=true, the whole process
// environment), and hands them to the Worker as vars over wrangler.toml's [vars]. The README
// tells developers to put PIER_UPSTREAMS and PIER_MIRROR_DEFAULT there, which would reroute
// the tests' requests. The vitest pool has no option to turn that off, so:
// - the configuration it reads is a copy, alone in a scratch directory: no `.dev.vars` there;
// - CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV=false (a documented Wrangler system variable) in
//   this process, where the pool (or the benchmark) runs wrangler, and in any wrangler
//   started from it with its environment: no `.env` and no process environment either.
// (An empty `.dev.vars` in the scratch directory would do the second part too, but wrangler
// then prints "Using secrets defined in …/.dev.vars" for every test file.)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { experimental_readRawConfig } from "wrangler";

/** Settings holding paths (relative to the configuration file) that the copy does not rewrite yet. */
const UNHANDLED_PATH_SETTINGS = ["assets", "site", "build", "tsconfig", "base_dir", "alias", "rules", "wasm_modules", "text_blobs", "data_blobs", "env"];

/** One scratch directory per project and process, removed when the process exits. */
const scratchDirs = new Map();

/**
 * Writes a copy of `<projectRoot>/wrangler.toml` (as wrangler.json, its paths made absolute)
 * to this process's scratch directory for the project, alone, and returns the copy's path;
 * turns off wrangler's `.env` loading in this process. Each call copies wrangler.toml afresh,
 * so a watching vitest sees its changes; calls are synchronous, so no reader in this process
 * meets a half-written copy.
 * @param {string} projectRoot
 * @returns {string}
 */
export function pinnedWranglerConfig(projectRoot) {
  const { rawConfig } = experimental_readRawConfig({ config: join(projectRoot, "wrangler.toml") });
  const unhandled = UNHANDLED_PATH_SETTINGS.filter((key) => key in rawConfig);
  if (unhandled.length > 0) {
    throw new Error(`pinnedWranglerConfig: wrangler.toml gained ${unhandled.join(", ")}; make its paths absolute in test/helpers/pinned-wrangler-config.mjs`);
  }
  const config = {
    ...rawConfig,
    main: rawConfig.main === undefined ? undefined : resolve(projectRoot, rawConfig.main),
    d1_databases: rawConfig.d1_databases?.map((database) => ({ ...database, migrations_dir: resolve(projectRoot, database.migrations_dir ?? "migrations") })),
  };
  process.env.CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV = "false";
  const path = join(scratchDirFor(projectRoot), "wrangler.json");
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  return path;
}

/** @param {string} projectRoot */
function scratchDirFor(projectRoot) {
  let scratch = scratchDirs.get(projectRoot);
  if (scratch === undefined) {
    scratch = mkdtempSync(join(tmpdir(), "pier-wrangler-"));
    scratchDirs.set(projectRoot, scratch);
    const made = scratch;
    process.once("exit", () => rmSync(made, { recursive: true, force: true }));
  }
  return scratch;
}
