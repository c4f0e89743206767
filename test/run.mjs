#!/usr/bin/env node
// `npm test`: the whole suite. First the vitest tests (inside workerd), then the end-to-end
// tests with real clients, whatever the first half gave, then one closing line with the
// totals of both ("N passed, N failed"), so that a reader of the log need not add them up.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "pier-test-"));

function run(args) {
  return spawnSync(process.execPath, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
}

const vitestReport = join(scratch, "vitest.json");
const vitest = run([
  join(root, "node_modules/vitest/vitest.mjs"),
  "run",
  "--config",
  "test/vitest.config.ts",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${vitestReport}`,
]);
const e2eReport = join(scratch, "e2e.txt");
const e2e = run(["test/e2e/run.mjs", "--test-reporter=spec", "--test-reporter-destination=stdout", "--test-reporter=tap", `--test-reporter-destination=${e2eReport}`]);

const counts = { passed: 0, failed: 0, skipped: 0 };
try {
  const report = JSON.parse(readFileSync(vitestReport, "utf8"));
  counts.passed += report.numPassedTests;
  counts.failed += report.numFailedTests;
  counts.skipped += report.numPendingTests + report.numTodoTests;
} catch {
  counts.failed += 1; // vitest did not even report: count the run itself as a failure
}
try {
  const tap = readFileSync(e2eReport, "utf8");
  const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, "m").exec(tap)?.[1] ?? 0);
  counts.passed += count("pass");
  counts.failed += count("fail") + count("cancelled");
  counts.skipped += count("skipped") + count("todo");
} catch {
  counts.failed += 1;
}
rmSync(scratch, { recursive: true, force: true });

console.log(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
process.exit(vitest.status === 0 && e2e.status === 0 && counts.failed === 0 ? 0 : 1);
