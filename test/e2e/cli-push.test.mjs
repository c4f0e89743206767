// `npx pier push` / `pier pull` (issue 12, "Large layers on every plan") against a Pier whose
// request body cap (PIER_MAX_BODY_BYTES) is far below a layer, as the 100 MB cap of the Free
// and Pro plans is below a large layer: one request per layer is refused, chunks get through.
// Also against docker-registry (no auth, plain HTTP on loopback), with every credential source.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { asAdmin, makeTempDir, requireTool, runSkopeo, ROOT, startPier, startUpstreamRegistry } from "./harness.mjs";
import { PLATFORMS, pseudoRandomBytes, readLayout, tar, writeImageLayout, writeMultiPlatformLayout } from "./make-image.mjs";

const CAP = 5_000_000;
const PIER_CLI = join(ROOT, "worker", "cli", "pier.mjs");
let pier;
let work;
let big; // a two-platform layout whose first layers are ~12 MB each

before(async () => {
  work = makeTempDir("pier-e2e-cli-");
  big = writeMultiPlatformLayout(join(work, "big"), { tag: "v1", platforms: PLATFORMS.slice(0, 2), layerSizes: [12_000_000, 4096], seed: "cli-big" });
  pier = await startPier({ vars: { PIER_MAX_BODY_BYTES: String(CAP) } });
});

after(async () => {
  await pier?.stop();
});

/** Runs the CLI in a child process (as `npx pier` would): { status, stdout, stderr }. */
function cli(args, env = {}) {
  return new Promise((resolve, reject) => {
    const clean = { ...process.env, PIER_USERNAME: "", PIER_PASSWORD: "", DOCKER_CONFIG: join(work, "no-docker-config"), REGISTRY_AUTH_FILE: "", XDG_RUNTIME_DIR: join(work, "no-xdg"), HOME: join(work, "home") };
    for (const name of ["PIER_USERNAME", "PIER_PASSWORD", "REGISTRY_AUTH_FILE"]) delete clean[name];
    const child = spawn(process.execPath, [PIER_CLI, ...args], { env: { ...clean, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let [stdout, stderr] = ["", ""];
    child.stdout.setEncoding("utf8").on("data", (chunk) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

async function cliOk(args, env) {
  const result = await cli(args, env);
  assert.equal(result.status, 0, `pier ${args.join(" ")} failed:\n${result.stderr}\n--- Pier log (tail) ---\n${pier.logs().split("\n").slice(-30).join("\n")}`);
  return result;
}

const creds = () => `admin:${pier.adminPassword}`;

/** Both layouts hold the same image under their tags: top manifest bytes, then every blob, byte for byte. */
function assertSameLayout(pulledDir, tag, source) {
  const pulled = readLayout(pulledDir, tag);
  const original = readLayout(source.dir, source.tag);
  assert.equal(pulled.descriptor.digest, original.descriptor.digest);
  assert.ok(pulled.bytes.equals(original.bytes));
  for (const child of source.children ?? [source]) {
    assert.ok(pulled.blob(child.digest).equals(original.blob(child.digest)));
    for (const descriptor of [child.config, ...child.layers]) assert.ok(pulled.blob(descriptor.digest).equals(original.blob(descriptor.digest)), `blob ${descriptor.digest}`);
  }
}

test("a layer over the body cap is refused in one request (413)", async () => {
  const layer = big.children[0].layers[0];
  const bytes = readFileSync(join(big.dir, "blobs", ...layer.digest.split(":")));
  const status = await new Promise((resolve, reject) => {
    const headers = asAdmin(pier, { "Content-Length": String(bytes.length), "Content-Type": "application/octet-stream" });
    const req = request(`${pier.url}/v2/e2e/cli/refused/blobs/uploads/?digest=${layer.digest}`, { method: "POST", headers }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("error", reject);
    req.end(bytes);
  });
  assert.equal(status, 413);
});

test("pier push sends a multi-platform layout in chunks under the cap, and pier pull gets it back byte for byte", async () => {
  const pushed = await cliOk(["push", "--creds", creds(), `oci:${big.dir}:v1`, `${pier.host}/e2e/cli/big:v1`]);
  assert.match(pushed.stdout, new RegExp(`@${big.digest}`));
  assert.match(pushed.stderr, /5000000\/\d+ bytes/); // progress per chunk, capped by OCI-Chunk-Max-Length
  const out = join(work, "pulled-big");
  await cliOk(["pull", "--creds", creds(), `${pier.host}/e2e/cli/big:v1`, `oci:${out}:v1`]);
  assertSameLayout(out, "v1", big);
});

test("skopeo pulls what pier push sent", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  await cliOk(["push", "--creds", creds(), `oci:${big.dir}:v1`, `${pier.host}/e2e/cli/big:v1`]); // all blobs already there
  const out = join(work, "skopeo-big");
  await runSkopeo(["copy", "--src-tls-verify=false", "--src-creds", creds(), "--all", "--preserve-digests", `docker://${pier.host}/e2e/cli/big:v1`, `oci:${out}:v1`], { logs: pier.logs });
  assertSameLayout(out, "v1", big);
});

test("pier push works against docker-registry: no auth, plain HTTP on loopback", async (t) => {
  if (!requireTool(t, "docker-registry")) return;
  const registry = await startUpstreamRegistry();
  try {
    await cliOk(["push", "--chunk-size", String(CAP), `oci:${big.dir}:v1`, `${registry.host}/e2e/big:v1`]);
    assert.ok(registry.accessLog().filter((line) => line.method === "PATCH").length >= 6, "layers were not sent in chunks");
    const out = join(work, "from-distribution");
    await cliOk(["pull", `${registry.host}/e2e/big:v1`, `oci:${out}:v1`]);
    assertSameLayout(out, "v1", big);
  } finally {
    await registry.stop();
  }
});

const small = () => writeImageLayout(join(work, `small-${Math.random().toString(36).slice(2)}`), { layerSizes: [2048], seed: "cli-small" });

test("credentials come from PIER_USERNAME and PIER_PASSWORD", async () => {
  const image = small();
  await cliOk(["push", `oci:${image.dir}:v1`, `${pier.host}/e2e/cli/env:v1`], { PIER_USERNAME: "admin", PIER_PASSWORD: pier.adminPassword });
});

test("credentials come from docker login's config.json in DOCKER_CONFIG", async () => {
  const image = small();
  const dockerConfig = join(work, "docker-config");
  mkdirSync(dockerConfig, { recursive: true });
  writeFileSync(join(dockerConfig, "config.json"), JSON.stringify({ auths: { [pier.host]: { auth: Buffer.from(creds()).toString("base64") } } }));
  await cliOk(["push", `oci:${image.dir}:v1`, `${pier.host}/e2e/cli/docker-config:v1`], { DOCKER_CONFIG: dockerConfig });
});

test("a wrong password fails with a clear message and a non-zero exit", async () => {
  const image = small();
  const result = await cli(["push", "--creds", "admin:not-the-password", `oci:${image.dir}:v1`, `${pier.host}/e2e/cli/denied:v1`]);
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /^pier: sign-in to .* as "admin" failed .*check the user name and password/m);
});

test("a docker save archive (uncompressed layers) is pushed as a Docker v2 image", async () => {
  const layer = tar([{ name: "hello.txt", content: pseudoRandomBytes("cli-archive", 6_000_000) }]);
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
  const manifest = Buffer.from(JSON.stringify([{ Config: "config.json", RepoTags: ["example:v1"], Layers: ["abc/layer.tar"] }]));
  const archive = join(work, "saved.tar");
  writeFileSync(archive, tar([{ name: "manifest.json", content: manifest }, { name: "config.json", content: config }, { name: "abc/layer.tar", content: layer }]));
  await cliOk(["push", "--creds", creds(), `docker-archive:${archive}`, `${pier.host}/e2e/cli/archive:v1`]);
  const out = join(work, "pulled-archive");
  await cliOk(["pull", "--creds", creds(), `${pier.host}/e2e/cli/archive:v1`, `oci:${out}:v1`]);
  const pulled = readLayout(out, "v1");
  const pulledManifest = JSON.parse(pulled.bytes.toString("utf8"));
  assert.equal(pulledManifest.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
  assert.equal(pulledManifest.config.mediaType, "application/vnd.docker.container.image.v1+json");
  assert.equal(pulledManifest.layers[0].mediaType, "application/vnd.docker.image.rootfs.diff.tar");
  assert.ok(pulled.blob(pulledManifest.layers[0].digest).equals(layer));
  assert.ok(pulled.blob(pulledManifest.config.digest).equals(config));
});
