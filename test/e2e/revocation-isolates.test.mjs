// Revocation across isolates (issue 9): two Piers on the same state, each its own workerd
// process, stand for two Cloudflare locations sharing one D1. A change made through one is
// seen by the other only through D1, and must refuse the credentials issued before it within
// the bounds the README states: a refresh token at once, pushes within 10 s, pulls within 60 s.
// Each bound is measured by asking the other Pier until it refuses, never by sleeping it out.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { adminAuthorization, basicAuthorization as basic } from "../../worker/dev/local-run.mjs";
import { startPier } from "./harness.mjs";

const PUSH_BOUND_MS = 10_000;
const PULL_BOUND_MS = 60_000;
let here;
let elsewhere;

before(async () => {
  here = await startPier();
  elsewhere = await startPier({ sharingStateOf: here });
});

after(async () => {
  await elsewhere?.stop();
  await here?.stop();
});

const asAdmin = () => adminAuthorization(here.adminPassword);

async function call(pier, path, { method = "GET", authorization = null, body, contentType } = {}) {
  const headers = { ...(authorization && { Authorization: authorization }), ...(contentType && { "Content-Type": contentType }) };
  const response = await fetch(`${pier.url}${path}`, { method, headers, body });
  return { status: response.status, text: await response.text() };
}

const json = (value) => ({ body: JSON.stringify(value), contentType: "application/json" });

/** A developer of a new private project, with tokens and a refresh token from `elsewhere`, each proven to work there. */
async function developerWithCredentials(label) {
  const project = `rev${label}${Date.now().toString(36)}`;
  const user = { username: `dev-${project}`, password: "developer-password-1" };
  assert.equal((await call(here, "/api/v1/projects", { method: "POST", authorization: asAdmin(), ...json({ name: project }) })).status, 201);
  assert.equal((await call(here, "/api/v1/users", { method: "POST", authorization: asAdmin(), ...json(user) })).status, 201);
  assert.equal((await call(here, `/api/v1/projects/${project}/members`, { method: "POST", authorization: asAdmin(), ...json({ username: user.username, role: "developer" }) })).status, 201);
  const repository = `${project}/app`;
  await pushTinyImage(repository);
  const query = new URLSearchParams({ scope: `repository:${repository}:pull,push`, offline_token: "true" });
  const answer = await call(elsewhere, `/token?${query}`, { authorization: basic(user.username, user.password) });
  assert.equal(answer.status, 200, answer.text);
  const { token, refresh_token: refreshToken } = JSON.parse(answer.text);
  const credentials = { user, repository, bearer: `Bearer ${token}`, refreshToken };
  assert.equal(await pushStatus(credentials.bearer, repository), 202);
  assert.equal(await pullStatus(credentials.bearer, repository), 200);
  return credentials;
}

/** As admin, through `here`: a config blob and a manifest tagged v1, so that pulls have something to read. */
async function pushTinyImage(repository) {
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux" }));
  const digest = `sha256:${createHash("sha256").update(config).digest("hex")}`;
  const blob = await call(here, `/v2/${repository}/blobs/uploads/?digest=${digest}`, { method: "POST", authorization: asAdmin(), body: config, contentType: "application/octet-stream" });
  assert.equal(blob.status, 201, blob.text);
  const mediaType = "application/vnd.oci.image.manifest.v1+json";
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType, config: { mediaType: "application/vnd.oci.image.config.v1+json", digest, size: config.length }, layers: [] });
  const put = await call(here, `/v2/${repository}/manifests/v1`, { method: "PUT", authorization: asAdmin(), body: manifest, contentType: mediaType });
  assert.equal(put.status, 201, put.text);
}

const pushStatus = async (authorization, repository) => (await call(elsewhere, `/v2/${repository}/blobs/uploads/`, { method: "POST", authorization })).status;
const pullStatus = async (authorization, repository) => (await call(elsewhere, `/v2/${repository}/tags/list`, { authorization })).status;

/** Asks `probe` every 200 ms until it answers 401; the time that took, or fails after `bound` + 5 s. */
async function msUntilRefused(probe, bound) {
  const start = Date.now();
  for (;;) {
    const status = await probe();
    if (status === 401) return Date.now() - start;
    assert.ok([200, 202].includes(status), `unexpected ${status}`);
    assert.ok(Date.now() - start < bound + 5_000, `still ${status} after ${Date.now() - start} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function disableHere(username) {
  assert.equal((await call(here, `/api/v1/users/${username}`, { method: "PATCH", authorization: asAdmin(), ...json({ disabled: true }) })).status, 200);
}

test("a refresh token is refused elsewhere at once after the account is disabled here", async () => {
  const { user, refreshToken } = await developerWithCredentials("refresh");
  await disableHere(user.username);
  const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken }).toString();
  const answer = await call(elsewhere, "/token", { method: "POST", body: form, contentType: "application/x-www-form-urlencoded" });
  assert.equal(answer.status, 401, answer.text);
});

test("an access token and a remembered Basic login are refused for pushes elsewhere within 10 s", async (t) => {
  const { user, repository, bearer } = await developerWithCredentials("push");
  const login = basic(user.username, user.password);
  assert.equal(await pushStatus(login, repository), 202);
  await disableHere(user.username);
  const [tokenMs, loginMs] = await Promise.all([msUntilRefused(() => pushStatus(bearer, repository), PUSH_BOUND_MS), msUntilRefused(() => pushStatus(login, repository), PUSH_BOUND_MS)]);
  assert.ok(tokenMs <= PUSH_BOUND_MS, `the token pushed for ${tokenMs} ms`);
  assert.ok(loginMs <= PUSH_BOUND_MS, `the remembered login pushed for ${loginMs} ms`);
  t.diagnostic(`pushes refused after ${tokenMs} ms (token) and ${loginMs} ms (Basic login)`);
});

test("an access token is refused for pulls elsewhere within 60 s", async (t) => {
  const { user, repository, bearer } = await developerWithCredentials("pull");
  await disableHere(user.username);
  const ms = await msUntilRefused(() => pullStatus(bearer, repository), PULL_BOUND_MS);
  assert.ok(ms <= PULL_BOUND_MS, `the token pulled for ${ms} ms`);
  t.diagnostic(`pulls refused after ${ms} ms`);
});
