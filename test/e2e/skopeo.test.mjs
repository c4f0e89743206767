// skopeo against a real Pier (wrangler dev): pushes from OCI layouts, pulls back into new
// layouts, and checks that what comes back is byte for byte what went in (distribution spec
// v1.1: a manifest is served with the exact bytes it was pushed with).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { adminCreds, makeTempDir, removeTempDir, requireTool, startPier, runSkopeo } from "./harness.mjs";
import { readLayout, writeImageLayout, writeMultiPlatformLayout } from "./make-image.mjs";

const FIFTY_MIB = 50 * 1024 * 1024;

let pier;
let work;
let single;
let multi;

before(async () => {
  work = makeTempDir("pier-e2e-skopeo-");
  single = writeImageLayout(join(work, "single"), { seed: "single", layerSizes: [1024, 300_000] });
  multi = writeMultiPlatformLayout(join(work, "multi"), { seed: "multi", layerSizes: [2048, 100_000] });
  pier = await startPier();
});

after(async () => {
  await pier?.stop();
  if (work) removeTempDir(work);
});

/** skopeo against this file's Pier: failures show the tail of Pier's log. */
function skopeo(args, { allowFailure = false } = {}) {
  return runSkopeo(args, { allowFailure, logs: () => pier?.logs() ?? "" });
}

const ref = (repository) => `docker://${pier.host}/${repository}`;
// The projects pushed here are private (created by the first push): every call signs in as
// admin, with `flag` naming the side that is Pier (--src-creds, --dest-creds, or --creds).
const creds = (flag = "--creds") => [flag, adminCreds(pier)];
const push = (layout, repository, ...flags) =>
  skopeo(["copy", "--dest-tls-verify=false", ...creds("--dest-creds"), "--preserve-digests", ...flags, `oci:${layout.dir}:${layout.tag}`, ref(repository)]);

/** Pulls into a new layout under the work dir and reads it back. */
async function pull(repository, tag, ...flags) {
  const dir = mkdtempSync(join(work, "pulled-"));
  await skopeo(["copy", "--src-tls-verify=false", ...creds("--src-creds"), "--preserve-digests", ...flags, ref(repository), `oci:${dir}:${tag}`]);
  return readLayout(dir, tag);
}

// Tests push what they need; pushing the same layout to the same reference twice is pointless,
// so it happens once however the tests are filtered or ordered.
const pushes = new Map();
function pushedOnce(layout, repository, ...flags) {
  const key = `${layout.dir} ${repository}`;
  if (!pushes.has(key)) pushes.set(key, push(layout, repository, ...flags));
  return pushes.get(key);
}

const sha256 = (bytes) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/** The pulled image has the pushed manifest bytes, and the same config and layer bytes. */
function assertSameImage(pulled, image, pushedLayoutBlob) {
  assert.equal(pulled.descriptor.digest, image.digest);
  assert.ok(pulled.bytes.equals(image.manifestBytes), "pulled manifest bytes differ from the pushed ones");
  for (const descriptor of [image.config, ...image.layers]) {
    const bytes = pulled.blob(descriptor.digest);
    assert.equal(bytes.length, descriptor.size, `size of ${descriptor.digest}`);
    assert.equal(sha256(bytes), descriptor.digest);
    if (pushedLayoutBlob) assert.ok(bytes.equals(pushedLayoutBlob(descriptor.digest)));
  }
}

test("an image pushed from an OCI layout pulls back with identical manifest, config and layers", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  await pushedOnce(single, "e2e/single:v1");
  const pulled = await pull("e2e/single:v1", "v1");
  assertSameImage(pulled, single, readLayout(single.dir, single.tag).blob);
});

test("an image with a 50 MiB layer (under the 100 MB body cap) pushes and pulls back intact", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  const big = writeImageLayout(join(work, "big"), { seed: "big", layerSizes: [512, FIFTY_MIB] });
  const layer = big.layers[1];
  // Incompressible content: the blob on the wire is the full 50 MiB, not a gzip'd trifle.
  assert.ok(layer.size > FIFTY_MIB, `layer blob is ${layer.size} bytes`);
  await push(big, "e2e/big:v1");
  assertSameImage(await pull("e2e/big:v1", "v1"), big);
});

test("an image index copied with --all pulls back with the index and every child identical", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  await pushedOnce(multi, "e2e/multi:v1", "--all");
  const pulled = await pull("e2e/multi:v1", "v1", "--all");
  assert.equal(pulled.descriptor.digest, multi.digest);
  assert.ok(pulled.bytes.equals(multi.indexBytes), "pulled index bytes differ from the pushed ones");
  for (const child of multi.children) {
    const bytes = pulled.blob(child.digest);
    assert.ok(bytes.equals(child.manifestBytes), `child manifest ${child.platform.architecture} differs`);
    for (const descriptor of [child.config, ...child.layers]) assert.equal(sha256(pulled.blob(descriptor.digest)), descriptor.digest);
  }
});

// skopeo inspect reads Architecture, Os and Layers from the image it picks for the platform,
// but reports as Digest the digest of the manifest the tag names: here the index's.
async function inspectPlatform(...platformFlags) {
  await pushedOnce(multi, "e2e/multi:v1", "--all");
  const { stdout } = await skopeo(["inspect", "--tls-verify=false", ...creds(), "--override-os", "linux", ...platformFlags, ref("e2e/multi:v1")]);
  return JSON.parse(stdout.toString("utf8"));
}

const child = (architecture, variant) =>
  multi.children.find((image) => image.platform.architecture === architecture && image.platform.variant === variant);

test("inspect --override-arch arm64 resolves the index to the arm64 image", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  const inspected = await inspectPlatform("--override-arch", "arm64");
  const arm64 = child("arm64", undefined);
  assert.equal(inspected.Architecture, "arm64");
  assert.deepEqual(inspected.Layers, arm64.layers.map((layer) => layer.digest));
  assert.equal(inspected.Digest, multi.digest);
});

test("inspect --override-arch arm --override-variant v7 resolves the index to the arm/v7 image", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  const inspected = await inspectPlatform("--override-arch", "arm", "--override-variant", "v7");
  const armV7 = child("arm", "v7");
  assert.equal(inspected.Architecture, "arm");
  assert.deepEqual(inspected.Layers, armV7.layers.map((layer) => layer.digest));
});

test("copy --override-arch arm64 (without --all) pulls exactly the arm64 child manifest", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  await pushedOnce(multi, "e2e/multi:v1", "--all");
  const pulled = await pull("e2e/multi:v1", "arm64", "--override-os", "linux", "--override-arch", "arm64");
  assertSameImage(pulled, child("arm64", undefined));
});

test("a child manifest pulls by digest from the repository holding its index", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  await pushedOnce(multi, "e2e/multi:v1", "--all");
  const armV7 = child("arm", "v7");
  assertSameImage(await pull(`e2e/multi@${armV7.digest}`, "v7"), armV7);
});

test("inspect --raw returns the pushed index bytes exactly", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  await pushedOnce(multi, "e2e/multi:v1", "--all");
  const { stdout } = await skopeo(["inspect", "--tls-verify=false", ...creds(), "--raw", ref("e2e/multi:v1")]);
  assert.ok(stdout.equals(multi.indexBytes), `inspect --raw gave ${stdout.length} bytes, not the ${multi.indexBytes.length} pushed`);
});

test("layers recompressed while pushing (streamed PATCH, no Content-Length) pull back intact", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  // 20 MiB: more than two of Pier's 8 MiB R2 parts, arriving in chunks of whatever size.
  const layout = writeImageLayout(join(work, "zstd"), { seed: "zstd", layerSizes: [20 * 1024 * 1024] });
  // Recompressing changes the layer digests (and so the manifest): skopeo cannot know the
  // blob's length up front and streams it.
  await skopeo(["copy", "--dest-tls-verify=false", ...creds("--dest-creds"), "--dest-compress-format", "zstd", `oci:${layout.dir}:v1`, ref("e2e/zstd:v1")]);
  const pulled = await pull("e2e/zstd:v1", "v1");
  const manifest = JSON.parse(pulled.bytes.toString("utf8"));
  assert.equal(manifest.layers.length, 1);
  for (const descriptor of manifest.layers) {
    assert.match(descriptor.mediaType, /zstd/);
    const bytes = pulled.blob(descriptor.digest);
    assert.equal(bytes.length, descriptor.size);
    assert.equal(sha256(bytes), descriptor.digest);
  }
  assert.ok(pulled.blob(layout.config.digest).equals(readLayout(layout.dir, "v1").blob(layout.config.digest)));
});

test("list-tags lists every tag pushed to the repository", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  await pushedOnce(single, "e2e/single:v1");
  await pushedOnce(single, "e2e/single:v2");
  const { stdout } = await skopeo(["list-tags", "--tls-verify=false", ...creds(), ref("e2e/single")]);
  const listing = JSON.parse(stdout.toString("utf8"));
  assert.equal(listing.Repository, `${pier.host}/e2e/single`);
  assert.deepEqual([...listing.Tags].sort(), ["v1", "v2"]);
});

test("a deleted manifest is unknown, while another repository holding the same blobs still pulls", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  await push(single, "e2e/doomed:v1");
  await push(single, "e2e/survivor:v1");
  await skopeo(["delete", "--tls-verify=false", ...creds(), ref("e2e/doomed:v1")]);
  const inspected = await skopeo(["inspect", "--tls-verify=false", ...creds(), "--raw", ref("e2e/doomed:v1")], { allowFailure: true });
  assert.notEqual(inspected.status, 0, "inspect of the deleted tag succeeded");
  assert.match(inspected.stderr, /manifest unknown/i);
  assertSameImage(await pull("e2e/survivor:v1", "v1"), single);
});

test("a registry-to-registry copy mounts the blobs across repositories and pulls back intact", async (t) => {
  if (!requireTool(t, "skopeo")) return;
  await pushedOnce(single, "e2e/single:v1");
  const mark = pier.logMark();
  await skopeo(["copy", "--src-tls-verify=false", "--dest-tls-verify=false", ...creds("--src-creds"), ...creds("--dest-creds"), "--preserve-digests", ref("e2e/single:v1"), ref("e2e/copy:v1")]);
  assertSameImage(await pull("e2e/copy:v1", "v1"), single);
  // skopeo offers a layer it knows this registry holds as a mount (POST ?mount=&from=) before
  // uploading it. wrangler's log leaves out the query, but a 201 to a bodiless POST on the
  // uploads endpoint can only be a mount: an upload session answers 202.
  const copyLog = pier.logs(mark);
  const mounts = copyLog.split("\n").filter((line) => /POST \/v2\/e2e\/copy\/blobs\/uploads\/? 201/.test(line));
  assert.ok(mounts.length >= 1, `no cross-repository mount answered 201 during the copy:\n${copyLog}`);
});
