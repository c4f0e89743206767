// Where `pier push` and `pier pull` find credentials (issue 12): --creds, then
// PIER_USERNAME/PIER_PASSWORD, then the files docker login, podman login and skopeo login write.
// Pure file lookups, so no registry is started here; cli-push.test.mjs signs in with them.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { parseCreds, resolveCredentials } from "../../worker/cli/credentials.mjs";
import { makeTempDir } from "./harness.mjs";

const HOST = "registry.example:5000";
const auth = (value) => ({ auth: Buffer.from(value).toString("base64") });
let dir;
let env; // points every location the lookup knows at empty places under `dir`

function writeJson(path, value) {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, JSON.stringify(value));
  return path;
}

before(() => {
  dir = makeTempDir("pier-e2e-cli-creds-");
  env = { HOME: join(dir, "home"), DOCKER_CONFIG: join(dir, "docker"), XDG_RUNTIME_DIR: join(dir, "run") };
});

test("--creds splits at the first colon, so passwords may hold colons", () => {
  assert.deepEqual(parseCreds("alice:pa:ss"), { username: "alice", password: "pa:ss" });
  assert.throws(() => parseCreds("alice"), /user:password/);
});

test("--creds wins over the environment, which wins over auth files", () => {
  const fromEnv = { ...env, PIER_USERNAME: "env-user", PIER_PASSWORD: "env-pass" };
  assert.deepEqual(resolveCredentials(HOST, { creds: "flag:pw", env: fromEnv }), { username: "flag", password: "pw" });
  assert.deepEqual(resolveCredentials(HOST, { env: fromEnv }), { username: "env-user", password: "env-pass" });
});

test("nothing configured means anonymous", () => {
  assert.equal(resolveCredentials(HOST, { env }), null);
});

test("docker login's config.json is read from DOCKER_CONFIG, whatever form the key has", () => {
  const dockerEnv = { ...env, DOCKER_CONFIG: join(dir, "docker-a") };
  writeJson(join(dockerEnv.DOCKER_CONFIG, "config.json"), { auths: { [`https://${HOST}/v1/`]: auth("dock:er") } });
  assert.deepEqual(resolveCredentials(HOST, { env: dockerEnv }), { username: "dock", password: "er" });
});

test("podman and skopeo login's auth.json is read from XDG_RUNTIME_DIR and REGISTRY_AUTH_FILE", () => {
  const runEnv = { ...env, XDG_RUNTIME_DIR: join(dir, "run-b") };
  writeJson(join(runEnv.XDG_RUNTIME_DIR, "containers", "auth.json"), { auths: { [HOST]: auth("pod:man") } });
  assert.deepEqual(resolveCredentials(HOST, { env: runEnv }), { username: "pod", password: "man" });
  const file = writeJson(join(dir, "explicit", "auth.json"), { auths: { [HOST]: auth("sko:peo") } });
  assert.deepEqual(resolveCredentials(HOST, { env: { ...runEnv, REGISTRY_AUTH_FILE: file } }), { username: "sko", password: "peo" });
});

test("a credential helper is reported as unsupported, not silently skipped", () => {
  const helperEnv = { ...env, DOCKER_CONFIG: join(dir, "docker-c") };
  writeJson(join(helperEnv.DOCKER_CONFIG, "config.json"), { auths: { [HOST]: {} }, credsStore: "desktop" });
  assert.throws(() => resolveCredentials(HOST, { env: helperEnv }), /docker-credential-desktop.*not support/);
});
