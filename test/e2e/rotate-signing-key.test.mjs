// `npm run rotate-signing-key` (worker/dev/rotate-signing-key.mjs), run as a developer runs it:
// locally against a throwaway .dev.vars (--dev-vars; the developer's own file is never read),
// and with --remote against a fake deployed Pier (its JWKS and token endpoint, served here)
// and a fake wrangler (PIER_WRANGLER) that records what `wrangler secret bulk` was given.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { calculateJwkThumbprint } from "jose";
import { parseEnv } from "node:util";
import { generateSigningKeyJwk, publicSigningKeyJwk, signingKeyId } from "../../worker/dev/signing-key.mjs";
import { makeTempDir, removeTempDir, ROOT } from "./harness.mjs";

const SCRIPT = join(ROOT, "worker/dev/rotate-signing-key.mjs");
let dir;

beforeEach(() => {
  dir = makeTempDir("pier-rotate-");
});

afterEach(() => removeTempDir(dir));

/** Runs the script with `args` (and `env` added); resolves to { status, stdout, stderr }. */
function rotate(args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let [stdout, stderr] = ["", ""];
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

const RULE = /rotate at most once per refresh-token lifetime \(30 days\)/i;

describe("npm run rotate-signing-key (local)", () => {
  test("keeps the old key's public part as PIER_SIGNING_KEY_PREVIOUS, a new key as PIER_SIGNING_KEY, and every other line", async () => {
    const old = await generateSigningKeyJwk();
    const devVars = join(dir, ".dev.vars");
    const others = ["# my settings", "ADMIN_PASSWORD=correct-horse-battery", `PIER_UPSTREAMS='[{"name":"hub","url":"https://registry-1.docker.io","type":"dockerhub"}]'`];
    writeFileSync(devVars, [others[0], others[1], `PIER_SIGNING_KEY='${old}'`, others[2], ""].join("\n"), { mode: 0o600 });

    const { status, stdout, stderr } = await rotate(["--dev-vars", devVars]);
    assert.equal(status, 0, stderr);
    const after = readFileSync(devVars, "utf8");
    const vars = parseEnv(after);
    assert.equal(vars.PIER_SIGNING_KEY_PREVIOUS, publicSigningKeyJwk(old));
    assert.equal(JSON.parse(vars.PIER_SIGNING_KEY_PREVIOUS).d, undefined);
    assert.notEqual(vars.PIER_SIGNING_KEY, old);
    assert.deepEqual(Object.keys(JSON.parse(vars.PIER_SIGNING_KEY)).sort(), ["crv", "d", "kty", "x", "y"]);
    assert.notEqual(await signingKeyId(vars.PIER_SIGNING_KEY), await signingKeyId(old));
    for (const line of others) assert.ok(after.split("\n").includes(line), `kept: ${line}`);
    assert.equal(after.split("\n").indexOf(others[1]) < after.split("\n").findIndex((line) => line.startsWith("PIER_SIGNING_KEY=")), true, "the key stays where it was");
    assert.equal(statSync(devVars).mode & 0o777, 0o600);
    assert.match(stdout, new RegExp(`kid ${await signingKeyId(old)}`));
    assert.match(stdout, RULE);
    assert.doesNotMatch(stdout, new RegExp(JSON.parse(vars.PIER_SIGNING_KEY).d), "the new private key is not printed");
  });

  test("a second rotation makes the first one's key the previous one, and says which key it drops", async () => {
    const first = await generateSigningKeyJwk();
    const devVars = join(dir, ".dev.vars");
    writeFileSync(devVars, `PIER_SIGNING_KEY='${first}'\n`);
    assert.equal((await rotate(["--dev-vars", devVars])).status, 0);
    const second = parseEnv(readFileSync(devVars, "utf8")).PIER_SIGNING_KEY;

    const { status, stdout } = await rotate(["--dev-vars", devVars]);
    assert.equal(status, 0);
    const vars = parseEnv(readFileSync(devVars, "utf8"));
    assert.equal(vars.PIER_SIGNING_KEY_PREVIOUS, publicSigningKeyJwk(second));
    assert.equal(readFileSync(devVars, "utf8").match(/^PIER_SIGNING_KEY_PREVIOUS=/gm).length, 1);
    assert.match(stdout, new RegExp(`no longer accepted: .*${await signingKeyId(first)}`));
  });

  test("refuses a .dev.vars without PIER_SIGNING_KEY, and leaves it as it was", async () => {
    const devVars = join(dir, ".dev.vars");
    writeFileSync(devVars, "ADMIN_PASSWORD=correct-horse-battery\n");
    const { status, stderr } = await rotate(["--dev-vars", devVars]);
    assert.notEqual(status, 0);
    assert.match(stderr, /has no PIER_SIGNING_KEY/);
    assert.equal(readFileSync(devVars, "utf8"), "ADMIN_PASSWORD=correct-horse-battery\n");
  });

  test("refuses a malformed PIER_SIGNING_KEY without repeating it", async () => {
    const devVars = join(dir, ".dev.vars");
    writeFileSync(devVars, `PIER_SIGNING_KEY='{"kty":"RSA","d":"very-secret"}'\n`);
    const { status, stderr } = await rotate(["--dev-vars", devVars]);
    assert.notEqual(status, 0);
    assert.match(stderr, /PIER_SIGNING_KEY/);
    assert.doesNotMatch(stderr, /very-secret/);
  });

  test("refuses --url without --remote rather than rotating the local key", async () => {
    const { status, stderr } = await rotate(["--url", "https://pier.example.com", "--dev-vars", join(dir, ".dev.vars")]);
    assert.notEqual(status, 0);
    assert.match(stderr, /--remote/);
  });
});

describe("npm run rotate-signing-key -- --remote", () => {
  /**
   * A deployed Pier as the script sees it: its JWKS (the keys it holds, current first) and an
   * anonymous token whose header names the current key. The fake wrangler's secrets take effect
   * at once, as a new Worker version would.
   */
  async function fakePier(privateKeys) {
    const received = join(dir, "received.json");
    const publicKeys = async () => {
      const keys = existsSync(received) ? Object.values(JSON.parse(readFileSync(received, "utf8")).secrets) : privateKeys;
      return Promise.all(keys.map(async (key) => ({ ...JSON.parse(publicSigningKeyJwk(key)), kid: await signingKeyId(key), alg: "ES256", use: "sig" })));
    };
    const server = createServer(async (request, response) => {
      const keys = await publicKeys();
      const body =
        request.url === "/.well-known/jwks.json"
          ? { keys }
          : { token: `${Buffer.from(JSON.stringify({ alg: "ES256", typ: "JWT", kid: keys[0].kid })).toString("base64url")}.e30.c2ln` };
      response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(body));
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    // The fake wrangler keeps its arguments and stdin, and nothing else.
    const fake = join(dir, "fake-wrangler.mjs");
    writeFileSync(fake, `import { readFileSync, writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(received)}, JSON.stringify({ args: process.argv.slice(2), secrets: JSON.parse(readFileSync(0, "utf8")) }));\n`);
    const wrangler = join(dir, "wrangler");
    writeFileSync(wrangler, `#!/bin/sh\nexec "${process.execPath}" "${fake}" "$@"\n`);
    chmodSync(wrangler, 0o755);
    return {
      url: `http://127.0.0.1:${server.address().port}`,
      env: { PIER_WRANGLER: wrangler },
      received: () => (existsSync(received) ? JSON.parse(readFileSync(received, "utf8")) : null),
      close: () => new Promise((resolve) => server.close(resolve)),
    };
  }

  test("sets the new key and the deployed key's public part in one wrangler secret bulk", async () => {
    const deployed = await generateSigningKeyJwk();
    const pier = await fakePier([deployed]);
    try {
      const { status, stdout, stderr } = await rotate(["--remote", "--url", pier.url, "--name", "pier-test"], pier.env);
      assert.equal(status, 0, stderr);
      const { args, secrets } = pier.received();
      assert.deepEqual(args, ["secret", "bulk", "--name", "pier-test"]);
      assert.deepEqual(Object.keys(secrets).sort(), ["PIER_SIGNING_KEY", "PIER_SIGNING_KEY_PREVIOUS"]);
      assert.equal(secrets.PIER_SIGNING_KEY_PREVIOUS, publicSigningKeyJwk(deployed));
      assert.ok(JSON.parse(secrets.PIER_SIGNING_KEY).d, "the new key is a private key");
      assert.notEqual(await signingKeyId(secrets.PIER_SIGNING_KEY), await signingKeyId(deployed));
      assert.match(stdout, /now lists the new key first/);
      assert.match(stdout, RULE);
    } finally {
      await pier.close();
    }
  });

  test("keeps the key that signs now, and says which older key stops being accepted", async () => {
    const [current, older] = [await generateSigningKeyJwk(), await generateSigningKeyJwk()];
    const pier = await fakePier([current, older]);
    try {
      const { status, stdout } = await rotate(["--remote", "--url", pier.url], pier.env);
      assert.equal(status, 0);
      assert.equal(pier.received().secrets.PIER_SIGNING_KEY_PREVIOUS, publicSigningKeyJwk(current));
      assert.match(stdout, new RegExp(`no longer accepted: .*${await signingKeyId(older)}`));
    } finally {
      await pier.close();
    }
  });

  test("refuses without --url, and sets nothing", async () => {
    const pier = await fakePier([await generateSigningKeyJwk()]);
    try {
      const { status, stderr } = await rotate(["--remote"], pier.env);
      assert.notEqual(status, 0);
      assert.match(stderr, /--url/);
      assert.equal(pier.received(), null);
    } finally {
      await pier.close();
    }
  });
});

test("names keys by their RFC 7638 thumbprint, as Pier's JWKS does", async () => {
  const key = await generateSigningKeyJwk();
  assert.equal(await signingKeyId(key), await calculateJwkThumbprint(JSON.parse(publicSigningKeyJwk(key)), "sha256"));
});
