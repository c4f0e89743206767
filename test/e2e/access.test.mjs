// Issue 4's end-to-end proof of access control, with skopeo against a real Pier: the admin
// signs in, creates a private project through the management API with a guest member and a
// project robot; the robot pushes, nobody anonymous may pull, the guest may pull but not push,
// and the audit log tells each of those steps.
//
// Every step is done once (memoised) and awaited by whichever test needs it, so a test run on
// its own (--test-name-pattern) still finds its preconditions, and the audit test sees them all.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { basicAuthorization as basic } from "../../worker/dev/local-run.mjs";
import { makeTempDir, removeTempDir, requireTool, runSkopeo, startPier } from "./harness.mjs";
import { readLayout, writeImageLayout } from "./make-image.mjs";

const PROJECT = "team";
const GUEST = { username: "gina", password: "gina-guest-password" };
const ROBOT = { name: "ci", permissions: ["pull", "push"], expiresInDays: 30 };

let pier;
let work;
let image;
// skopeo reads the user's own auth files unless told which one to use: every call here names
// one, so nothing a developer is signed in to leaks in, and nothing is written there.
let adminAuthFile;
let emptyAuthFile;

before(async () => {
  work = makeTempDir("pier-e2e-access-");
  image = writeImageLayout(join(work, "image"), { seed: "access", layerSizes: [1024, 50_000] });
  adminAuthFile = join(work, "admin-auth.json");
  emptyAuthFile = join(work, "empty-auth.json");
  writeFileSync(emptyAuthFile, JSON.stringify({ auths: {} }));
  pier = await startPier();
});

after(async () => {
  await pier?.stop();
  if (work) removeTempDir(work);
});

/** skopeo against this file's Pier: failures show the tail of Pier's log. */
const skopeo = (args, options = {}) => runSkopeo(args, { ...options, logs: () => pier?.logs() ?? "" });
const ref = (repository) => `docker://${pier.host}/${repository}`;
const adminLogin = () => ({ username: "admin", password: pier.adminPassword });
/** `user:secret` for --creds and friends: passed as one argv entry, so a robot's `$` stays. */
const creds = ({ username, password }) => `${username}:${password}`;

/** A management API call (JSON both ways) as `as` ({ username, password }), or anonymous. */
async function api(path, { method, body, as = adminLogin() } = {}) {
  const response = await fetch(`${pier.url}/api/v1${path}`, {
    method: method ?? (body === undefined ? "GET" : "POST"),
    headers: { ...(as && { Authorization: basic(as.username, as.password) }), ...(body !== undefined && { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) };
}

async function apiJson(path, options, status) {
  const response = await api(path, options);
  assert.equal(response.status, status, `${options?.method ?? (options?.body ? "POST" : "GET")} ${path}: ${response.text}`);
  return response.json();
}

/** Pulls `repository`:v1 into a new layout under the work dir and reads it back. */
async function pull(repository, ...flags) {
  const dir = mkdtempSync(join(work, "pulled-"));
  await skopeo(["copy", "--src-tls-verify=false", ...flags, ref(`${repository}:v1`), `oci:${dir}:v1`]);
  return readLayout(dir, "v1");
}

/** Pushes the image to `repository`:v1; resolves skopeo's result whether it worked or not. */
const pushTo = (repository, ...flags) =>
  skopeo(["copy", "--dest-tls-verify=false", "--preserve-digests", ...flags, `oci:${image.dir}:${image.tag}`, ref(`${repository}:v1`)], { allowFailure: true });

function once(step) {
  let result;
  return () => (result ??= step());
}

// The steps of the story, each done once.
const signInAdmin = once(() =>
  skopeo(["login", "--tls-verify=false", "--authfile", adminAuthFile, "--username", "admin", "--password", pier.adminPassword, pier.host]),
);

/** The private project, its guest and its robot; resolves the robot's login. */
const setUpProject = once(async () => {
  await apiJson("/projects", { body: { name: PROJECT, public: false } }, 201);
  await apiJson("/users", { body: GUEST }, 201);
  await apiJson(`/projects/${PROJECT}/members`, { body: { username: GUEST.username, role: "guest" } }, 201);
  const robot = await apiJson(`/projects/${PROJECT}/robots`, { body: ROBOT }, 201);
  return { username: robot.name, password: robot.secret };
});

const robotPush = once(async () => {
  const robot = await setUpProject();
  return pushTo(`${PROJECT}/app`, "--dest-authfile", emptyAuthFile, "--dest-creds", creds(robot));
});

const anonymousPull = once(async () => {
  await robotPush();
  const dir = mkdtempSync(join(work, "anonymous-"));
  return skopeo(["copy", "--src-tls-verify=false", "--src-no-creds", ref(`${PROJECT}/app:v1`), `oci:${dir}:v1`], { allowFailure: true });
});

const guestPull = once(async () => {
  await robotPush();
  return pull(`${PROJECT}/app`, "--src-authfile", emptyAuthFile, "--src-creds", creds(GUEST));
});

const guestPush = once(async () => {
  await setUpProject();
  return pushTo(`${PROJECT}/other`, "--dest-authfile", emptyAuthFile, "--dest-creds", creds(GUEST));
});

/** Audit records as the admin (who may read them all), filtered by `query`. */
async function auditLog(query) {
  return (await apiJson(`/audit-logs?${new URLSearchParams(query)}`, {}, 200)).items;
}

test("skopeo login signs the admin in through the token endpoint; anonymous GET /v2/ is a Bearer challenge", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  const login = await signInAdmin();
  assert.match(login.stdout.toString("utf8"), /Login Succeeded/i);
  const anonymous = await fetch(`${pier.url}/v2/`);
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get("WWW-Authenticate"), `Bearer realm="${pier.url}/token",service="${pier.host}"`);
});

test("the admin creates a private project, a guest member and a project robot through the API", async () => {
  const robot = await setUpProject();
  assert.equal(robot.username, `robot$${PROJECT}+${ROBOT.name}`);
  assert.ok(robot.password.length >= 16, "the robot's secret is short");
  const project = await apiJson(`/projects/${PROJECT}`, {}, 200);
  assert.equal(project.public, false);
});

test("the project robot pushes an image into the private project", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  const pushed = await robotPush();
  assert.equal(pushed.status, 0, `the robot's push failed:\n${pushed.stderr}`);
});

test("an anonymous pull of the private project is refused", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  await robotPush();
  const manifest = await fetch(`${pier.url}/v2/${PROJECT}/app/manifests/v1`);
  assert.equal(manifest.status, 401);
  assert.match(manifest.headers.get("WWW-Authenticate") ?? "", new RegExp(`scope="repository:${PROJECT}/app:pull"`));
  // The token endpoint gives anyone a token, but an anonymous one carries no access here, and
  // the manifest refuses it as too weak (RFC 6750 §3.1), not as a wrong credential.
  const tokenResponse = await fetch(`${pier.url}/token?service=${pier.host}&scope=repository:${PROJECT}/app:pull`);
  assert.equal(tokenResponse.status, 200);
  const { token } = await tokenResponse.json();
  const withToken = await fetch(`${pier.url}/v2/${PROJECT}/app/manifests/v1`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(withToken.status, 401);
  assert.match(withToken.headers.get("WWW-Authenticate") ?? "", /error="insufficient_scope"/);
  assert.equal((await withToken.json()).errors[0].code, "UNAUTHORIZED");

  // --no-creds: skopeo fetches an anonymous token and is refused with it; an empty auth file
  // (no --no-creds) is the same anonymous client by another road.
  for (const flags of [["--no-creds"], ["--authfile", emptyAuthFile]]) {
    const inspected = await skopeo(["inspect", "--tls-verify=false", "--raw", ...flags, ref(`${PROJECT}/app:v1`)], { allowFailure: true });
    assert.notEqual(inspected.status, 0, `anonymous inspect (${flags.join(" ")}) succeeded`);
    assert.match(inspected.stderr, /unauthorized|authentication required|requested access to the resource is denied/i);
  }
  const copied = await anonymousPull();
  assert.notEqual(copied.status, 0, "anonymous copy succeeded");
  assert.match(copied.stderr, /unauthorized|authentication required|requested access to the resource is denied/i);
});

test("the guest pulls what the robot pushed, byte for byte", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  const pulled = await guestPull();
  assert.equal(pulled.descriptor.digest, image.digest);
  assert.ok(pulled.bytes.equals(image.manifestBytes), "pulled manifest bytes differ from the pushed ones");
});

test("the guest's push is refused", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  const pushed = await guestPush();
  assert.notEqual(pushed.status, 0, "the guest's push succeeded");
  assert.match(pushed.stderr, /denied|unauthorized|insufficient/i);
  // Nothing arrived: the repository the guest aimed at does not exist.
  const manifest = await fetch(`${pier.url}/v2/${PROJECT}/other/manifests/v1`, { headers: { Authorization: basic("admin", pier.adminPassword) } });
  assert.equal(manifest.status, 404);
});

test("signed in with skopeo login (an auth file, no per-command credentials), the admin pushes and pulls", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  await signInAdmin();
  await setUpProject();
  const pushed = await pushTo(`${PROJECT}/admin`, "--dest-authfile", adminAuthFile);
  assert.equal(pushed.status, 0, `the admin's push failed:\n${pushed.stderr}`);
  const pulled = await pull(`${PROJECT}/admin`, "--src-authfile", adminAuthFile);
  assert.equal(pulled.descriptor.digest, image.digest);
});

test("the project's audit log tells each step: creation, the robot's push, the guest's pull and refused push", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  const robot = await setUpProject();
  await robotPush();
  await anonymousPull();
  await guestPull();
  await guestPush();
  const items = await auditLog({ project: PROJECT, n: "100" });
  /** The record matching every field of `fields`. */
  const find = (what, fields) => {
    const item = items.find((candidate) => Object.entries(fields).every(([key, value]) => candidate[key] === value));
    assert.ok(item, `no audit record of ${what} (${JSON.stringify(fields)}) in:\n${JSON.stringify(items, null, 2)}`);
    return item;
  };
  for (const item of items) assert.ok(!Number.isNaN(Date.parse(item.at)) && "ip" in item, `malformed record ${JSON.stringify(item)}`);
  const [success, denied] = ["success", "denied"];

  find("the project's creation", { action: "project.create", principal: "admin", resource: PROJECT, result: success });
  find("the guest made a member", { action: "member.set", principal: "admin", resource: GUEST.username, result: success });
  find("the robot's creation", { action: "robot.create", principal: "admin", resource: robot.username, result: success });
  find("the robot's push", { action: "push", principal: robot.username, resource: `${PROJECT}/app:v1`, result: success });
  find("the guest's pull", { action: "pull", principal: GUEST.username, resource: `${PROJECT}/app:v1`, result: success });
  // skopeo without credentials takes an anonymous token, which carries nothing: a refusal at
  // the token endpoint, then at /v2 when the token is shown.
  find("the anonymous pull refused a token", { action: "token.refuse", principal: "anonymous", resource: `repository:${PROJECT}/app:pull`, result: denied });
  find("the anonymous pull refused at /v2", { action: "pull", principal: "anonymous", resource: `${PROJECT}/app`, result: denied });
  // The guest asks the token endpoint for pull and push on team/other and gets a token for pull
  // only: that is a refusal, recorded as such; the upload skopeo then tries with the token is
  // a push refused to a signed-in principal.
  find("the guest's push refused a token", { action: "token.refuse", principal: GUEST.username, resource: `repository:${PROJECT}/other:push`, result: denied });
  find("the guest's push refused at /v2", { action: "push", principal: GUEST.username, resource: `${PROJECT}/other`, result: denied });
  assert.ok(!items.some((item) => item.principal === GUEST.username && item.action === "push" && item.result === "success"), "a push by the guest is recorded as a success");
});

test("the audit log lists its records newest first", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  await guestPush();
  // Registry records are written about a second after the request, token-endpoint and
  // management records at once: the order must still be that of the events (`at`).
  const items = await auditLog({ project: PROJECT, n: "100" });
  const out = items.findIndex((item, i) => i > 0 && Date.parse(item.at) > Date.parse(items[i - 1].at));
  assert.equal(out, -1, `record ${JSON.stringify(items[out])} is newer than the one listed before it, ${JSON.stringify(items[out - 1])}`);
});

test("the registry-wide audit log records the sign-ins at the token endpoint, failed ones too", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  await signInAdmin();
  await guestPull();
  // Sign-ins belong to no project: only the registry-wide log (system admins) holds them.
  const guestLogins = await auditLog({ principal: GUEST.username, action: "login" });
  assert.ok(guestLogins.length >= 1, "no login record for the guest");
  for (const item of guestLogins) assert.deepEqual([item.result, item.resource, item.project], ["success", "token", null]);
  const adminLogins = await auditLog({ principal: "admin", action: "login" });
  assert.ok(adminLogins.some((item) => item.result === "success"), `no successful admin login in ${JSON.stringify(adminLogins)}`);

  const authfile = join(work, "wrong-auth.json");
  const wrongPassword = ["--username", GUEST.username, "--password", "not-gina-s-password"];
  const wrong = await skopeo(["login", "--tls-verify=false", "--authfile", authfile, ...wrongPassword, pier.host], { allowFailure: true });
  assert.notEqual(wrong.status, 0, "skopeo login with a wrong password succeeded");
  assert.match(wrong.stderr, /unauthorized|authentication required|invalid username\/password/i);
  const failures = await auditLog({ principal: GUEST.username, action: "login" });
  assert.equal(failures[0]?.result, "failure", `no failed login for the guest in ${JSON.stringify(failures)}`);
});

test("the guest may not read the project's audit log, nor the registry-wide one", async () => {
  await setUpProject();
  for (const query of [`?project=${PROJECT}`, ""]) {
    const response = await api(`/audit-logs${query}`, { as: GUEST });
    assert.equal(response.status, 403, `GET /audit-logs${query} as the guest: ${response.text}`);
    assert.equal(response.json().errors[0].code, "DENIED");
  }
});

test("dot segments in a raw request path cannot reach around the check: the runtime resolves them, and the resolved name is decided", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  await robotPush();
  // fetch() would resolve `..` itself; a raw request sends the path exactly as written.
  const raw = (path) =>
    new Promise((resolve, reject) => {
      const sent = httpRequest({ host: "127.0.0.1", port: Number(new URL(pier.url).port), path, method: "GET" }, (response) => {
        response.resume();
        response.on("end", () => resolve({ status: response.statusCode, challenge: response.headers["www-authenticate"] ?? "" }));
      });
      sent.on("error", reject);
      sent.end();
    });
  for (const path of [`/v2/public/../${PROJECT}/app/manifests/v1`, `/v2/${PROJECT}/./app/manifests/v1`, `/v2/../v2/${PROJECT}/app/manifests/v1`]) {
    const answer = await raw(path);
    assert.equal(answer.status, 401, path);
    assert.match(answer.challenge, new RegExp(`scope="repository:${PROJECT}/app:pull"`), path);
  }
  const doubled = await raw(`/v2/${PROJECT}//app/manifests/v1`);
  assert.equal(doubled.status, 400);
});
