// The defaults against a real fleet and a real guesser (issue 9, "Defaults that fit a real
// fleet"), both on a Pier started with wrangler.toml's settings as they ship (no request limit
// raised for the benchmark):
//   rollout   500 nodes pull a 12-layer image at once, through one robot (each node does the
//             token dance with the robot's Basic credentials) and anonymously from one NAT
//             address (a public project); every answer is counted, 429s above all.
//   guessers  256 client addresses guess one user's password at once until every guess is
//             refused; then the real user signs in from an address of its own. The long run
//             (hours of guessing) comes from the throttle's own rules on a simulated clock
//             (bench/sign-in-attack.ts), bundled here with esbuild as the Worker is.
import http from "node:http";
import { join } from "node:path";
import { build } from "esbuild";
import * as client from "./registry-client.mjs";
import { basicAuthorization as basic } from "../worker/dev/local-run.mjs";
import { ROOT } from "./servers.mjs";

const NODES = 500;
const LAYERS = 12;
const GUESSING_ADDRESSES = 256;
const NAT_ADDRESS = "198.51.100.10";
const { expectStatus, jsonBody } = client;

/** As admin: a project holding a 12-layer image, a pull robot in it; the robot's Basic header. */
async function setUpImage(url, project, isPublic) {
  expectStatus(await client.request("POST", `${url}/api/v1/projects`, jsonBody({ name: project, public: isPublic })), 201, `creating ${project}`);
  const repo = `${project}/app`;
  const blobs = [Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", project })), ...Array.from({ length: LAYERS }, (_, i) => Buffer.concat([...client.makeBlob(2048, `${project}-${i}`).bytes()]))];
  const descriptors = [];
  for (const [index, bytes] of blobs.entries()) {
    const digest = client.digestOf({ bytes: () => [bytes] });
    await client.pushMonolithic(url, repo, { size: bytes.length, bytes: () => [bytes] }, digest);
    descriptors.push({ mediaType: index === 0 ? "application/vnd.oci.image.config.v1+json" : "application/vnd.oci.image.layer.v1.tar+gzip", digest, size: bytes.length });
  }
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: client.OCI_MANIFEST, config: descriptors[0], layers: descriptors.slice(1) }));
  const put = await client.request("PUT", `${url}/v2/${repo}/manifests/v1`, { headers: { "Content-Type": client.OCI_MANIFEST, "Content-Length": String(manifest.length) }, body: manifest });
  expectStatus(put, 201, "pushing the manifest");
  const robot = await client.request("POST", `${url}/api/v1/projects/${project}/robots`, jsonBody({ name: "fleet", permissions: ["pull"] }));
  const { name, secret } = JSON.parse(expectStatus(robot, 201, "creating the fleet's robot").text);
  return { repo, blobs: descriptors, robotAuthorization: basic(name, secret) };
}

/**
 * One node's pull, as docker does it: GET /v2/ (401, the challenge), GET /token, the manifest
 * by tag, then the config and every layer. Answers are tallied by status into `tally`.
 */
async function pullAsNode(url, image, authorization, via, tally) {
  const ask = async (method, target, headers) => {
    const answer = await client.request(method, target, { headers: { "CF-Connecting-IP": NAT_ADDRESS, ...headers }, signedIn: false, keepText: true, via });
    tally[answer.status] = (tally[answer.status] ?? 0) + 1;
    return answer;
  };
  await ask("GET", `${url}/v2/`, {});
  const query = new URLSearchParams({ service: new URL(url).host, scope: `repository:${image.repo}:pull` });
  const tokenAnswer = await ask("GET", `${url}/token?${query}`, authorization === null ? {} : { Authorization: authorization });
  if (tokenAnswer.status !== 200) return;
  const bearer = { Authorization: `Bearer ${JSON.parse(tokenAnswer.text).token}` };
  const manifest = await ask("GET", `${url}/v2/${image.repo}/manifests/v1`, { ...bearer, Accept: client.OCI_MANIFEST });
  if (manifest.status !== 200) return;
  await Promise.all(image.blobs.map((blob) => ask("GET", `${url}/v2/${image.repo}/blobs/${blob.digest}`, bearer)));
}

/** NODES nodes at once; { requests, byStatus, tooMany, failures, seconds }. */
async function rollout(url, image, authorization) {
  const via = new http.Agent({ keepAlive: true, maxSockets: NODES });
  const tally = {};
  const started = Date.now();
  await Promise.all(Array.from({ length: NODES }, () => pullAsNode(url, image, authorization, via, tally)));
  via.destroy();
  const requests = Object.values(tally).reduce((a, b) => a + b, 0);
  // The only refusals expected: each node's first GET /v2/, the challenge that starts the token dance.
  const failures = Object.entries(tally).filter(([status]) => status !== "200" && status !== "401").reduce((sum, [, n]) => sum + n, 0) + Math.max(0, (tally[401] ?? 0) - NODES);
  return { nodes: NODES, layers: LAYERS, requests, byStatus: tally, tooMany: tally[429] ?? 0, failures, seconds: (Date.now() - started) / 1000 };
}

/** Both rollouts at the defaults. */
export async function rollouts(url) {
  const viaRobot = await setUpImage(url, "fleet", false);
  const anonymously = await setUpImage(url, "fleetpub", true);
  return { robot: await rollout(url, viaRobot, viaRobot.robotAuthorization), anonymous: await rollout(url, anonymously, null) };
}

/**
 * GUESSING_ADDRESSES addresses guess at once, each until refused; then the real user signs in
 * from an address of its own. { guessesChecked, refusedWith, realUser, seconds }.
 */
export async function guessers(url) {
  const victim = { username: "victim", password: "the-real-password-1" };
  expectStatus(await client.request("POST", `${url}/api/v1/users`, jsonBody(victim)), 201, "creating the user guessed at");
  const via = new http.Agent({ keepAlive: true, maxSockets: GUESSING_ADDRESSES });
  const tokenWith = (password, address) =>
    client.request("GET", `${url}/token`, { headers: { Authorization: basic(victim.username, password), "CF-Connecting-IP": address }, signedIn: false, via });
  let checked = 0;
  const retryAfter = new Set();
  const started = Date.now();
  await Promise.all(
    Array.from({ length: GUESSING_ADDRESSES }, async (_, i) => {
      const address = `198.18.${i >> 8}.${i & 255}`;
      for (let guess = 0; ; guess++) {
        const answer = await tokenWith(`wrong-${i}-${guess}`, address);
        if (answer.status === 401) checked++;
        else if (answer.status === 429) {
          retryAfter.add(Number(answer.headers["retry-after"]));
          return;
        } else throw new Error(`a guess got ${answer.status}: ${answer.text.slice(0, 200)}`);
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  const realUser = (await tokenWith(victim.password, "192.0.2.77")).status;
  via.destroy();
  return { addresses: GUESSING_ADDRESSES, guessesChecked: checked, retryAfterSeconds: [...retryAfter].sort((a, b) => a - b), realUserStatus: realUser, seconds };
}

/** The throttle's rules on a simulated clock: how long 1,000 guesses at one name take. */
export async function simulatedAttacks() {
  const bundled = await build({ entryPoints: [join(ROOT, "bench/sign-in-attack.ts")], bundle: true, write: false, format: "esm", platform: "neutral", logLevel: "error" });
  const { spreadGuessing } = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`);
  return [1, 16, 256, 1024].map((addresses) => spreadGuessing(addresses, 1_000));
}
