// For reference in `npm run bench:gc`: distribution's collector (Debian's docker-registry 2.8)
// on the same registry shape (bench/gc-seed.mjs), written straight into its filesystem layout:
//   docker/registry/v2/blobs/sha256/<hex[0:2]>/<hex>/data                     every blob and manifest
//   docker/registry/v2/repositories/<name>/_layers/sha256/<hex>/link          repository → blob links
//   .../_manifests/revisions/sha256/<hex>/link                                the repository's manifests
//   .../_manifests/tags/<tag>/current/link, .../tags/<tag>/index/sha256/<hex>/link
// (each link file holds "sha256:<hex>"), as a push through its API would leave them.
// Its collector is offline: `docker-registry garbage-collect` must run while the registry is
// stopped or read-only (nothing may be pushed meanwhile), so it is timed alone, with no pulls.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { blobBytes } from "./gc-seed.mjs";
import { spawnGroup, stateDir } from "./processes.mjs";
import { distributionConfig } from "../test/e2e/distribution-config.mjs";
import { freePort } from "../worker/dev/local-run.mjs";

const hexOf = (digest) => digest.slice("sha256:".length);

function writeFile(path, content) {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
}

/** Writes `plan` in distribution's layout under `root`. */
function seed(root, plan) {
  const v2 = join(root, "docker/registry/v2");
  const blobPath = (digest) => join(v2, "blobs/sha256", hexOf(digest).slice(0, 2), hexOf(digest), "data");
  const repo = (name) => join(v2, "repositories", name);
  for (const blob of plan.blobs) writeFile(blobPath(blob.digest), blobBytes(blob.n));
  for (const m of plan.manifests) {
    writeFile(blobPath(m.digest), m.json);
    writeFile(join(repo(m.repository), "_manifests/revisions/sha256", hexOf(m.digest), "link"), m.digest);
    if (m.tag !== null) {
      writeFile(join(repo(m.repository), "_manifests/tags", m.tag, "current/link"), m.digest);
      writeFile(join(repo(m.repository), "_manifests/tags", m.tag, "index/sha256", hexOf(m.digest), "link"), m.digest);
    }
  }
  for (const link of plan.links) writeFile(join(repo(link.repository), "_layers/sha256", hexOf(link.digest), "link"), link.digest);
}

/** Blob directories left, and manifest revisions left in every repository. */
function leftOver(root, plan) {
  const v2 = join(root, "docker/registry/v2");
  let blobs = 0;
  for (const prefix of readdirSync(join(v2, "blobs/sha256"))) {
    for (const hex of readdirSync(join(v2, "blobs/sha256", prefix))) if (existsSync(join(v2, "blobs/sha256", prefix, hex, "data"))) blobs++;
  }
  let manifests = 0;
  for (const name of plan.repositories) {
    const revisions = join(v2, "repositories", name, "_manifests/revisions/sha256");
    if (!existsSync(revisions)) continue;
    for (const hex of readdirSync(revisions)) if (existsSync(join(revisions, hex, "link"))) manifests++;
  }
  return { blobs, manifests };
}

/** Seeds distribution's filesystem with `plan`, runs its collector with --delete-untagged, counts what is left. */
export async function distributionGc(plan, log) {
  const dir = stateDir("distribution-gc");
  const dataDir = join(dir, "data");
  const configFile = join(dir, "config.yml");
  writeFileSync(configFile, distributionConfig({ dataDir, port: await freePort(), accessLog: false }));
  const seeding = Date.now();
  seed(dataDir, plan);
  const seedSeconds = (Date.now() - seeding) / 1000;
  log(`distribution: seeded in ${seedSeconds.toFixed(1)} s; collecting`);
  const timing = join(dir, "time.txt");
  // /usr/bin/time writes the collector's own wall and CPU seconds (its printing of every blob it marks included).
  const proc = spawnGroup("/usr/bin/time", ["-o", timing, "-f", "%e %U %S", "docker-registry", "garbage-collect", "--delete-untagged", configFile], { cwd: dir });
  const code = await new Promise((resolve) => proc.child.on("exit", (status) => resolve(status)));
  await proc.stop();
  if (code !== 0) throw new Error(`docker-registry garbage-collect exited ${code}:\n${proc.log()}`);
  const [wall, user, system] = readFileSync(timing, "utf8").trim().split("\n").at(-1).split(" ").map(Number);
  const left = leftOver(dataDir, plan);
  const version = spawnSync("docker-registry", ["--version"], { encoding: "utf8" }).stdout.trim().split(" ").at(-1);
  return {
    version,
    seedSeconds,
    wallSeconds: wall,
    cpuSeconds: user + system,
    blobsLeft: left.blobs,
    blobsExpected: plan.expected.blobRows.size,
    manifestsLeft: left.manifests,
    manifestsExpected: plan.expected.manifests.size,
    outputTail: proc.log().slice(-2_000),
  };
}
