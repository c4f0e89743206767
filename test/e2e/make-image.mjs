#!/usr/bin/env node
// Writes OCI image layouts (image-spec v1.1 "image-layout.md") from scratch, for the e2e tests:
// real gzip'd ustar layers, a config whose rootfs.diff_ids match them, a manifest, and
// optionally an image index with one image per platform. No dependencies, so the tests need
// nothing but Node and the client under test.
//
// Content is deterministic (same options, same digests) yet incompressible: bytes come from
// AES-256-CTR keyed by the seed, so a 50 MiB layer really is a ~50 MiB blob on the wire.
//
// CLI: node test/e2e/make-image.mjs <dir> [--tag v1] [--layers 1024,65536] [--seed s] [--multi]
import { createCipheriv, createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

export const MEDIA_TYPES = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
};
const REF_NAME = "org.opencontainers.image.ref.name";

export const PLATFORMS = [
  { architecture: "amd64", os: "linux" },
  { architecture: "arm64", os: "linux" },
  { architecture: "arm", os: "linux", variant: "v7" },
];

/** `size` pseudo-random bytes, a pure function of `seed`. */
export function pseudoRandomBytes(seed, size) {
  const key = createHash("sha256").update(`key:${seed}`).digest();
  const iv = createHash("sha256").update(`iv:${seed}`).digest().subarray(0, 16);
  return createCipheriv("aes-256-ctr", key, iv).update(Buffer.alloc(size));
}

/** A ustar archive (POSIX.1-1988) of regular files: [{ name, content }]. */
export function tar(files) {
  const blocks = [];
  for (const { name, content } of files) {
    blocks.push(ustarHeader(name, content.length), content);
    const padding = (512 - (content.length % 512)) % 512;
    if (padding > 0) blocks.push(Buffer.alloc(padding));
  }
  blocks.push(Buffer.alloc(1024)); // end of archive: two zero blocks
  return Buffer.concat(blocks);
}

function ustarHeader(name, size) {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name too long for ustar: ${name}`);
  const header = Buffer.alloc(512);
  const field = (offset, length, value) => header.write(value, offset, length, "utf8");
  const octal = (offset, length, value) => field(offset, length, value.toString(8).padStart(length - 1, "0") + "\0");
  field(0, 100, name);
  octal(100, 8, 0o644); // mode
  octal(108, 8, 0); // uid
  octal(116, 8, 0); // gid
  octal(124, 12, size);
  octal(136, 12, 0); // mtime: fixed, so digests are reproducible
  field(148, 8, "        "); // checksum is computed with its own field as spaces
  field(156, 1, "0"); // regular file
  field(257, 6, "ustar\0");
  field(263, 2, "00");
  field(265, 32, "root");
  field(297, 32, "root");
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return header;
}

const sha256 = (bytes) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/** Stores bytes under blobs/sha256/ and returns their descriptor. */
function writeBlob(dir, mediaType, bytes, extra = {}) {
  const digest = sha256(bytes);
  const blobDir = join(dir, "blobs", "sha256");
  mkdirSync(blobDir, { recursive: true });
  writeFileSync(join(blobDir, digest.slice("sha256:".length)), bytes);
  return { mediaType, digest, size: bytes.length, ...extra };
}

function json(value) {
  return Buffer.from(JSON.stringify(value, null, 2));
}

/** One layer: a tar with one file of `size` bytes, gzip'd. Level 1: the content won't shrink anyway. */
function makeLayer(dir, seed, size, index) {
  const archive = tar([{ name: `data/layer-${index}.bin`, content: pseudoRandomBytes(`${seed}/layer-${index}`, size) }]);
  const descriptor = writeBlob(dir, MEDIA_TYPES.layer, gzipSync(archive, { level: 1 }));
  return { descriptor, diffId: sha256(archive) };
}

/**
 * Writes the blobs of one image (layers, config, manifest) into the layout at `dir` and returns
 * the manifest's descriptor and bytes. Does not touch index.json.
 */
export function writeImage(dir, { layerSizes = [4096], seed = "pier", platform = PLATFORMS[0] } = {}) {
  const imageSeed = `${seed}/${platform.os}/${platform.architecture}/${platform.variant ?? ""}`;
  const layers = layerSizes.map((size, index) => makeLayer(dir, imageSeed, size, index));
  const config = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: ["PATH=/usr/bin:/bin"], Cmd: ["/bin/true"], Labels: { "pier.e2e.seed": seed } },
    rootfs: { type: "layers", diff_ids: layers.map((layer) => layer.diffId) },
    history: layers.map((_, index) => ({ created_by: `pier e2e layer ${index}` })),
  };
  const configDescriptor = writeBlob(dir, MEDIA_TYPES.config, json(config));
  const manifestBytes = json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: configDescriptor,
    layers: layers.map((layer) => layer.descriptor),
  });
  const descriptor = writeBlob(dir, MEDIA_TYPES.manifest, manifestBytes);
  return { descriptor, manifestBytes, config: configDescriptor, layers: layers.map((layer) => layer.descriptor) };
}

function writeLayoutIndex(dir, descriptor, tag) {
  writeFileSync(join(dir, "oci-layout"), json({ imageLayoutVersion: "1.0.0" }));
  const annotated = { ...descriptor, annotations: { [REF_NAME]: tag } };
  writeFileSync(join(dir, "index.json"), json({ schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests: [annotated] }));
}

/** A layout holding one single-platform image, tagged `tag`. */
export function writeImageLayout(dir, { tag = "v1", ...options } = {}) {
  mkdirSync(dir, { recursive: true });
  const image = writeImage(dir, options);
  writeLayoutIndex(dir, image.descriptor, tag);
  return { dir, tag, ...image, digest: image.descriptor.digest };
}

/** A layout whose `tag` is an image index with one image per platform (amd64, arm64, arm/v7). */
export function writeMultiPlatformLayout(dir, { tag = "v1", platforms = PLATFORMS, ...options } = {}) {
  mkdirSync(dir, { recursive: true });
  const children = platforms.map((platform) => {
    const image = writeImage(dir, { ...options, platform });
    return { platform, ...image, digest: image.descriptor.digest };
  });
  const indexBytes = json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: children.map((child) => ({ ...child.descriptor, platform: child.platform })),
  });
  const descriptor = writeBlob(dir, MEDIA_TYPES.index, indexBytes);
  writeLayoutIndex(dir, descriptor, tag);
  return { dir, tag, descriptor, indexBytes, digest: descriptor.digest, children };
}

/** Reads back a layout (e.g. one skopeo pulled into): the top descriptor tagged `tag`, and blobs. */
export function readLayout(dir, tag) {
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
  const descriptor = index.manifests.find((entry) => entry.annotations?.[REF_NAME] === tag);
  if (!descriptor) throw new Error(`no manifest tagged ${tag} in ${dir}/index.json`);
  const blob = (digest) => readFileSync(join(dir, "blobs", ...digest.split(":")));
  return { descriptor, bytes: blob(descriptor.digest), blob };
}

function cli(argv) {
  const [dir, ...rest] = argv;
  if (!dir || dir.startsWith("--")) {
    console.error("usage: make-image.mjs <dir> [--tag v1] [--layers 1024,52428800] [--seed s] [--multi]");
    process.exit(2);
  }
  const options = { tag: "v1", seed: "pier", layerSizes: [4096], multi: false };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    if (flag === "--multi") options.multi = true;
    else if (flag === "--tag") options.tag = rest[++i];
    else if (flag === "--seed") options.seed = rest[++i];
    else if (flag === "--layers") options.layerSizes = rest[++i].split(",").map(Number);
    else throw new Error(`unknown option ${flag}`);
  }
  if (options.layerSizes.some((size) => !Number.isSafeInteger(size) || size < 0)) throw new Error("--layers takes byte counts");
  const result = options.multi ? writeMultiPlatformLayout(dir, options) : writeImageLayout(dir, options);
  console.log(`${dir}:${options.tag} ${result.digest}`);
  for (const child of result.children ?? []) console.log(`  ${Object.values(child.platform).join("/")} ${child.digest}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) cli(process.argv.slice(2));
