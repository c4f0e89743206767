// The pull-through cache against a real upstream: CNCF distribution (`docker-registry`) holds
// images pushed with skopeo, and Pier (wrangler dev, PIER_UPSTREAMS naming it "up") serves them
// the three ways clients ask a mirror: by prefix /v2/up/<repo> (Harbor style), unprefixed to
// PIER_MIRROR_DEFAULT (dockerd registry-mirrors), and with ?ns=<upstream host> (containerd
// hosts.toml). What comes back must be byte for byte what the upstream holds; once cached it
// must keep coming back with the upstream gone. Pulls are anonymous, as a dockerd mirror's are
// (it cannot sign in): an upstream's proxy project is public. The cache API is admin-only.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { adminCreds, asAdmin, hasTool, makeTempDir, removeTempDir, requireTool, startPier, startUpstreamRegistry, runSkopeo } from "./harness.mjs";
import { MEDIA_TYPES, readLayout, writeImageLayout, writeMultiPlatformLayout } from "./make-image.mjs";

// What containerd's resolver sends (core/remotes/docker/resolver.go), in its order.
const MANIFEST_ACCEPT = [
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  MEDIA_TYPES.manifest,
  MEDIA_TYPES.index,
  "*/*",
].join(", ");

let work;
let upstream;
let pier;

before(async () => {
  // Without the tools, each test below skips (or fails under CI) through requireTool.
  if (!hasTool("skopeo") || !hasTool("docker-registry")) return;
  work = makeTempDir("pier-e2e-pull-through-");
  upstream = await startUpstreamRegistry();
  const upstreams = [
    { name: "up", url: upstream.url, type: "oci", tagTtlSeconds: 600, timeoutMs: 10_000 },
    // The same registry again with tags never fresh: every pull by tag revalidates upstream,
    // so with the upstream gone a cached tag can only be served stale.
    { name: "short", url: upstream.url, type: "oci", tagTtlSeconds: 0, timeoutMs: 10_000 },
  ];
  pier = await startPier({ vars: { PIER_UPSTREAMS: JSON.stringify(upstreams), PIER_MIRROR_DEFAULT: "up" } });
});

after(async () => {
  await pier?.stop();
  await upstream?.stop();
  if (work) removeTempDir(work);
});

const tools = (t) => requireTool(t, "skopeo") && requireTool(t, "docker-registry");

/** skopeo against this file's Pier: failures show the tail of Pier's log. */
function skopeo(args, { allowFailure = false } = {}) {
  return runSkopeo(args, { allowFailure, logs: () => pier?.logs() ?? "" });
}

// --- content on the upstream -------------------------------------------------------------

// One image per upstream repository, each with its own seed (so its own blobs): a pull in one
// test never finds its blobs already cached by another, and every test sees a cold fill.
const images = new Map();
/** The layout pushed to the upstream as `<repository>:v1` (single image, or an index with --all). */
function upstreamImage(repository, { multi = false } = {}) {
  if (!images.has(repository)) {
    const dir = join(work, repository.replaceAll("/", "_"));
    const options = { seed: `pull-through/${repository}`, layerSizes: multi ? [2048, 60_000] : [1024, 200_000] };
    const layout = multi ? writeMultiPlatformLayout(dir, options) : writeImageLayout(dir, options);
    const flags = multi ? ["--all"] : [];
    const pushed = skopeo(["copy", "--dest-tls-verify=false", "--preserve-digests", ...flags, `oci:${dir}:v1`, `docker://${upstream.host}/${repository}:v1`]);
    images.set(repository, pushed.then(() => ({ ...layout, multi, layoutBlob: readLayout(dir, "v1").blob })));
  }
  return images.get(repository);
}

const sha256 = (bytes) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/**
 * `pulled` ({ digest, bytes, blob(digest) }) is `image` exactly: top manifest (or index) bytes,
 * every child manifest of an index, and every config and layer, byte for byte.
 */
function assertSameContent(pulled, image) {
  assert.equal(pulled.digest, image.digest);
  assert.ok(pulled.bytes.equals(image.multi ? image.indexBytes : image.manifestBytes), "top-level manifest bytes differ from the upstream's");
  for (const manifest of image.multi ? image.children : [image]) {
    if (image.multi) assert.ok(pulled.blob(manifest.digest).equals(manifest.manifestBytes), `child manifest ${manifest.digest} differs`);
    for (const descriptor of [manifest.config, ...manifest.layers]) {
      const bytes = pulled.blob(descriptor.digest);
      assert.equal(sha256(bytes), descriptor.digest);
      assert.ok(bytes.equals(image.layoutBlob(descriptor.digest)), `blob ${descriptor.digest} differs from the pushed one`);
    }
  }
}

// --- the three ways to pull ---------------------------------------------------------------

/** skopeo copy from Pier (`docker://<pier>/<name>:v1`) into a fresh layout, read back. */
async function skopeoPull(name, image) {
  const dir = mkdtempSync(join(work, "pulled-"));
  const flags = image.multi ? ["--all"] : [];
  await skopeo(["copy", "--src-tls-verify=false", "--preserve-digests", ...flags, `docker://${pier.host}/${name}:v1`, `oci:${dir}:v1`]);
  const pulled = readLayout(dir, "v1");
  return { digest: pulled.descriptor.digest, bytes: pulled.bytes, blob: pulled.blob };
}

/** GET (or HEAD) on Pier with `?ns=<upstream host>`; a body fetched by digest must hash to it. */
async function nsRequest(path, { method = "GET", accept, digest } = {}) {
  const url = `${pier.url}${path}?ns=${encodeURIComponent(upstream.host)}`;
  const response = await fetch(url, { method, headers: accept ? { Accept: accept } : {} });
  const bytes = Buffer.from(await response.arrayBuffer());
  assert.equal(response.status, 200, `${method} ${url}: ${response.status} ${bytes.toString("utf8").slice(0, 300)}`);
  if (digest && method === "GET") assert.equal(sha256(bytes), digest, `${url} answered bytes that are not ${digest}`);
  return { response, bytes };
}

/**
 * Pulls like containerd through a hosts.toml mirror: HEAD the tag for its digest, GET the
 * manifest by digest, walk an index's children, then GET every config and layer by digest.
 * Returns what skopeoPull returns, plus `tagCache`: X-Pier-Cache of the request by tag.
 */
async function containerdPull(repository) {
  const base = `/v2/${repository}`;
  const head = await nsRequest(`${base}/manifests/v1`, { method: "HEAD", accept: MANIFEST_ACCEPT });
  const digest = head.response.headers.get("docker-content-digest");
  assert.match(digest ?? "", /^sha256:[0-9a-f]{64}$/, "HEAD by tag gave no Docker-Content-Digest");
  const blobs = new Map();
  const fetchManifest = async (manifestDigest) => {
    const { bytes } = await nsRequest(`${base}/manifests/${manifestDigest}`, { accept: MANIFEST_ACCEPT, digest: manifestDigest });
    blobs.set(manifestDigest, bytes);
    const manifest = JSON.parse(bytes.toString("utf8"));
    for (const child of manifest.manifests ?? []) await fetchManifest(child.digest);
    for (const descriptor of manifest.config ? [manifest.config, ...manifest.layers] : []) {
      blobs.set(descriptor.digest, (await nsRequest(`${base}/blobs/${descriptor.digest}`, { digest: descriptor.digest })).bytes);
    }
  };
  await fetchManifest(digest);
  return { digest, bytes: blobs.get(digest), blob: (d) => blobs.get(d), tagCache: head.response.headers.get("x-pier-cache") };
}

/** GET a manifest by tag through Pier: { status, cache (X-Pier-Cache), bytes }. */
async function getManifest(name, reference = "v1") {
  const response = await fetch(`${pier.url}/v2/${name}/manifests/${reference}`, { headers: { Accept: MANIFEST_ACCEPT } });
  return { status: response.status, cache: response.headers.get("x-pier-cache"), bytes: Buffer.from(await response.arrayBuffer()) };
}

const upstreamRequestsSince = (mark) => upstream.accessLog().slice(mark);

// --- tests ----------------------------------------------------------------------------------

// Pulls the tests below make while the upstream is up, memoised: the offline tests need the
// cache warm however the tests are filtered, and pulling twice would only prove hits.
const warmed = new Map();
const warm = (key, pull) => {
  if (!warmed.has(key)) warmed.set(key, pull());
  return warmed.get(key);
};
const pulls = {
  prefix: () => warm("prefix", async () => skopeoPull("up/e2e/prefix", await upstreamImage("e2e/prefix"))),
  prefixMulti: () => warm("prefixMulti", async () => skopeoPull("up/e2e/prefix-multi", await upstreamImage("e2e/prefix-multi", { multi: true }))),
  mirror: () => warm("mirror", async () => skopeoPull("e2e/mirror", await upstreamImage("e2e/mirror"))),
  mirrorMulti: () => warm("mirrorMulti", async () => skopeoPull("e2e/mirror-multi", await upstreamImage("e2e/mirror-multi", { multi: true }))),
  ns: () => warm("ns", async () => (await upstreamImage("e2e/ns"), containerdPull("e2e/ns"))),
  nsMulti: () => warm("nsMulti", async () => (await upstreamImage("e2e/ns-multi", { multi: true }), containerdPull("e2e/ns-multi"))),
  short: () => warm("short", async () => skopeoPull("short/e2e/stale", await upstreamImage("e2e/stale"))),
};

test("an image pulled by prefix /up/<repo> has the upstream's manifest, config and layer bytes", async (t) => {
  if (!tools(t)) return;
  assertSameContent(await pulls.prefix(), await upstreamImage("e2e/prefix"));
});

test("a multi-platform index pulled by prefix with --all has the upstream's index and every child", async (t) => {
  if (!tools(t)) return;
  assertSameContent(await pulls.prefixMulti(), await upstreamImage("e2e/prefix-multi", { multi: true }));
});

test("an unprefixed name is pulled from PIER_MIRROR_DEFAULT, as dockerd registry-mirrors ask", async (t) => {
  if (!tools(t)) return;
  assertSameContent(await pulls.mirror(), await upstreamImage("e2e/mirror"));
  assertSameContent(await pulls.mirrorMulti(), await upstreamImage("e2e/mirror-multi", { multi: true }));
});

test("?ns=<upstream host:port> pulls from that upstream, as containerd hosts.toml mirrors ask", async (t) => {
  if (!tools(t)) return;
  assertSameContent(await pulls.ns(), await upstreamImage("e2e/ns"));
  assertSameContent(await pulls.nsMulti(), await upstreamImage("e2e/ns-multi", { multi: true }));
});

test("a repeated manifest GET by tag is a miss, then a hit that asks the upstream nothing", async (t) => {
  if (!tools(t)) return;
  const image = await upstreamImage("e2e/headers");
  const first = await getManifest("up/e2e/headers");
  assert.equal(first.status, 200);
  assert.equal(first.cache, "miss");
  assert.ok(first.bytes.equals(image.manifestBytes));
  const mark = upstream.accessLog().length;
  const second = await getManifest("up/e2e/headers");
  assert.equal(second.status, 200);
  assert.equal(second.cache, "hit");
  assert.ok(second.bytes.equals(image.manifestBytes));
  assert.deepEqual(upstreamRequestsSince(mark), [], "a pull by tag within tagTtlSeconds went to the upstream");
});

test("a repeated blob GET is a miss, then a hit served without the upstream", async (t) => {
  if (!tools(t)) return;
  const image = await upstreamImage("e2e/blob-headers");
  const layer = image.layers[1];
  const get = async () => {
    const response = await fetch(`${pier.url}/v2/up/e2e/blob-headers/blobs/${layer.digest}`);
    return { status: response.status, cache: response.headers.get("x-pier-cache"), bytes: Buffer.from(await response.arrayBuffer()) };
  };
  const first = await get();
  assert.deepEqual([first.status, first.cache, sha256(first.bytes)], [200, "miss", layer.digest]);
  const mark = upstream.accessLog().length;
  const second = await get();
  assert.deepEqual([second.status, second.cache, sha256(second.bytes)], [200, "hit", layer.digest]);
  assert.deepEqual(upstreamRequestsSince(mark), []);
});

test("the three styles share one cache: what a mirror-path pull cached is a hit by prefix and by ns", async (t) => {
  if (!tools(t)) return;
  const image = await upstreamImage("e2e/mirror");
  await pulls.mirror();
  const byPrefix = await getManifest("up/e2e/mirror");
  assert.deepEqual([byPrefix.status, byPrefix.cache], [200, "hit"]);
  assert.ok(byPrefix.bytes.equals(image.manifestBytes));
  const byNs = await nsRequest(`/v2/e2e/mirror/blobs/${image.layers[1].digest}`, { digest: image.layers[1].digest });
  assert.equal(byNs.response.headers.get("x-pier-cache"), "hit");
});

test("GET /api/v1/cache/stats counts the hits and misses served for the upstream", async (t) => {
  if (!tools(t)) return;
  await pulls.prefix();
  await skopeoPull("up/e2e/prefix", await upstreamImage("e2e/prefix")); // all hits
  const response = await fetch(`${pier.url}/api/v1/cache/stats`, { headers: asAdmin(pier) });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  const stats = JSON.parse(text);
  // One entry per upstream: a list of { upstream, … } or an object keyed by upstream name.
  const list = Array.isArray(stats.upstreams) ? stats.upstreams : Object.entries(stats.upstreams ?? stats).map(([upstream, v]) => ({ upstream, ...v }));
  const up = list.find((entry) => (entry.upstream ?? entry.name) === "up");
  assert.ok(up, `no counters for upstream "up" in ${text}`);
  assert.ok(up.misses >= 1, `misses: ${up.misses}`);
  assert.ok(up.hits >= 1, `hits: ${up.hits}`);
});

test("a push to an upstream's prefix is refused with DENIED: the cache is read-only", async (t) => {
  if (!tools(t)) return;
  const image = await upstreamImage("e2e/prefix");
  // Signed in as admin, who may do anything else: read-only holds for everyone.
  const creds = ["--dest-creds", adminCreds(pier)];
  const pushed = await skopeo(["copy", "--dest-tls-verify=false", ...creds, `oci:${image.dir}:v1`, `docker://${pier.host}/up/x:1`], { allowFailure: true });
  assert.notEqual(pushed.status, 0, "skopeo pushed into the pull-through cache");
  assert.match(pushed.stderr, /denied/i);
  const opened = await fetch(`${pier.url}/v2/up/x/blobs/uploads/`, { method: "POST", headers: asAdmin(pier) });
  const body = await opened.json();
  assert.equal(opened.status, 403);
  assert.equal(body.errors?.[0]?.code, "DENIED");
});

test("a prefetch of one platform warms the cache: that image then pulls without asking the upstream", async (t) => {
  if (!tools(t)) return;
  const image = await upstreamImage("e2e/prefetch", { multi: true });
  const request = { upstream: "up", repository: "e2e/prefetch", reference: "v1", platform: "linux/arm64" };
  const queued = await fetch(`${pier.url}/api/v1/cache/prefetch`, { method: "POST", headers: asAdmin(pier, { "Content-Type": "application/json" }), body: JSON.stringify(request) });
  assert.equal(queued.status, 202, await queued.clone().text());
  const job = new URL(queued.headers.get("location"), pier.url).href;
  // The queue consumer runs in the background: poll the job (bounded) until it has finished.
  let status;
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 200))) {
    status = await (await fetch(job, { headers: asAdmin(pier) })).json();
    if (status.status === "done" || status.status === "failed") break;
  }
  assert.equal(status?.status, "done", JSON.stringify(status));
  const arm64 = image.children.find((child) => child.platform.architecture === "arm64");
  const mark = upstream.accessLog().length;
  const index = await getManifest("up/e2e/prefetch");
  assert.deepEqual([index.status, index.cache], [200, "hit"]);
  const child = await getManifest("up/e2e/prefetch", arm64.digest);
  assert.deepEqual([child.status, child.cache], [200, "hit"]);
  for (const { digest } of [arm64.config, ...arm64.layers]) {
    const blob = await fetch(`${pier.url}/v2/up/e2e/prefetch/blobs/${digest}`);
    assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), digest);
    assert.equal(blob.headers.get("x-pier-cache"), "hit");
  }
  assert.deepEqual(upstreamRequestsSince(mark), [], "pulling the prefetched image went to the upstream");
});

/** Warms everything the offline tests pull, then stops the upstream for the rest of the file. */
async function goOffline() {
  await Promise.all(Object.values(pulls).map((pull) => pull()));
  await upstream.stop();
  const probe = await fetch(`${upstream.url}/v2/`).then(() => "answered", (error) => error.cause?.code ?? error.message);
  assert.notEqual(probe, "answered", "the upstream still answers after stop()");
}

test("with the upstream stopped, cached images still pull by prefix, by mirror path and by ns", async (t) => {
  if (!tools(t)) return;
  await goOffline();
  assertSameContent(await skopeoPull("up/e2e/prefix", await upstreamImage("e2e/prefix")), await upstreamImage("e2e/prefix"));
  const prefixMulti = await upstreamImage("e2e/prefix-multi", { multi: true });
  assertSameContent(await skopeoPull("up/e2e/prefix-multi", prefixMulti), prefixMulti);
  assertSameContent(await skopeoPull("e2e/mirror", await upstreamImage("e2e/mirror")), await upstreamImage("e2e/mirror"));
  const mirrorMulti = await upstreamImage("e2e/mirror-multi", { multi: true });
  assertSameContent(await skopeoPull("e2e/mirror-multi", mirrorMulti), mirrorMulti);
  for (const [repository, multi] of [["e2e/ns", false], ["e2e/ns-multi", true]]) {
    const pulled = await containerdPull(repository);
    assertSameContent(pulled, await upstreamImage(repository, { multi }));
    assert.ok(["hit", "stale"].includes(pulled.tagCache), `X-Pier-Cache by tag: ${pulled.tagCache}`);
  }
});

test("with the upstream stopped, a tag past its TTL is served stale with the cached bytes", async (t) => {
  if (!tools(t)) return;
  await goOffline();
  const image = await upstreamImage("e2e/stale");
  const answer = await getManifest("short/e2e/stale");
  assert.equal(answer.status, 200, answer.bytes.toString("utf8"));
  assert.equal(answer.cache, "stale");
  assert.ok(answer.bytes.equals(image.manifestBytes));
  assertSameContent(await skopeoPull("short/e2e/stale", image), image);
});
