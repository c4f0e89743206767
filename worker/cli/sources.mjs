// What `pier push` reads: an OCI image layout directory (image-spec "image-layout.md") or a
// `docker save` archive, turned into one tree of manifests to push:
//   node = { digest, mediaType, bytes, blobs: [blob], children: [node] }
//   blob = { digest, size, mediaType, open(start, end) → Readable }
// Every digest is checked against the bytes before anything is sent (content that does not
// match its digest is never pushed), streaming, so a large layer is never in memory.
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { indexTar, member } from "./tar.mjs";

export const MEDIA = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
};
const REF_NAME = "org.opencontainers.image.ref.name";
const isIndex = (mediaType) => mediaType === MEDIA.ociIndex || mediaType === MEDIA.dockerList;

/** Bytes [start, start+size) of `file`, streamed. */
function rangeOf(file, start, size) {
  return (from, to) => (to <= from ? Readable.from([]) : createReadStream(file, { start: start + from, end: start + to - 1 }));
}

/** "sha256:<hex>" of a stream's bytes, in the digest's algorithm. */
async function digestOf(stream, algorithm = "sha256") {
  const hash = createHash(algorithm);
  await pipeline(stream, hash);
  return `${algorithm}:${hash.digest("hex")}`;
}

function checkDigest(digest) {
  if (!/^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/.test(digest ?? "")) throw new Error(`unsupported or malformed digest ${digest}`);
  return digest.split(":");
}

/** Opens an OCI layout: resolve("tag"?) → the tree for that tag (or the only manifest). */
export function ociLayout(dir) {
  if (!existsSync(join(dir, "index.json"))) throw new Error(`${dir} is not an OCI image layout (no index.json)`);
  const blobPath = (digest) => join(dir, "blobs", ...checkDigest(digest));

  async function verifiedBlob(descriptor) {
    const path = blobPath(descriptor.digest);
    if (!existsSync(path)) throw new Error(`${dir} lacks blob ${descriptor.digest}`);
    const actual = await digestOf(createReadStream(path), descriptor.digest.split(":")[0]);
    if (actual !== descriptor.digest) throw new Error(`${path} does not match its digest (it hashes to ${actual})`);
    return { digest: descriptor.digest, size: descriptor.size, mediaType: descriptor.mediaType, open: rangeOf(path, 0, descriptor.size) };
  }

  async function node(descriptor) {
    const blob = await verifiedBlob(descriptor);
    const bytes = readFileSync(blobPath(descriptor.digest));
    if (bytes.length !== descriptor.size) throw new Error(`${descriptor.digest} is ${bytes.length} bytes, its descriptor says ${descriptor.size}`);
    const parsed = JSON.parse(bytes.toString("utf8"));
    const mediaType = parsed.mediaType ?? descriptor.mediaType;
    if (isIndex(mediaType)) {
      const children = [];
      for (const child of parsed.manifests ?? []) children.push(await node(child));
      return { digest: blob.digest, mediaType, bytes, blobs: [], children };
    }
    const blobs = [];
    for (const descriptorOfBlob of [parsed.config, ...(parsed.layers ?? [])].filter(Boolean)) blobs.push(await verifiedBlob(descriptorOfBlob));
    return { digest: blob.digest, mediaType, bytes, blobs, children: [] };
  }

  return async function resolve(tag) {
    const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
    const manifests = index.manifests ?? [];
    const top = tag ? manifests.find((entry) => entry.annotations?.[REF_NAME] === tag) : manifests.length === 1 ? manifests[0] : null;
    if (!top) throw new Error(tag ? `no manifest tagged "${tag}" in ${dir}/index.json` : `${dir} holds ${manifests.length} manifests: name one with oci:${dir}:<tag>`);
    return node(top);
  };
}

/** Opens a `docker save` archive: manifest.json's first image as a Docker v2 schema 2 manifest. */
export async function dockerArchive(file) {
  const members = indexTar(file);
  const entry = (name) => {
    const found = member(members, name);
    if (!found) throw new Error(`${file} has no member ${name}`);
    return found;
  };
  const manifestEntry = entry("manifest.json");
  const list = JSON.parse((await readAll(rangeOf(file, manifestEntry.offset, manifestEntry.size)(0, manifestEntry.size))).toString("utf8"));
  if (!Array.isArray(list) || list.length === 0) throw new Error(`${file}: manifest.json lists no image`);
  if (list.length > 1) process.stderr.write(`${file} holds ${list.length} images; pushing the first (${list[0].RepoTags?.[0] ?? list[0].Config})\n`);
  const image = list[0];

  // A docker save archive names members by path, not digest: hash each to learn its digest.
  async function blobOf(name, mediaTypeFor) {
    const { offset, size } = entry(name);
    const open = rangeOf(file, offset, size);
    const digest = await digestOf(open(0, size));
    // Where the member's name states its digest (blobs/sha256/<hex> in docker 25+ archives,
    // <hex>.json for the config in older ones), the bytes must match it.
    const named = /(?:^|\/)blobs\/sha256\/([a-f0-9]{64})$/.exec(name) ?? /^([a-f0-9]{64})\.json$/.exec(name);
    if (named && digest !== `sha256:${named[1]}`) throw new Error(`${file}: ${name} does not match its digest (it hashes to ${digest})`);
    const head = await readAll(open(0, Math.min(2, size)));
    return { digest, size, mediaType: mediaTypeFor(head), open };
  }
  const config = await blobOf(image.Config, () => MEDIA.dockerConfig);
  const layers = [];
  for (const layer of image.Layers ?? []) {
    // Layers are usually plain tar; some tools store them gzip'd (magic 1f 8b): say which.
    layers.push(await blobOf(layer, (head) => (head[0] === 0x1f && head[1] === 0x8b ? MEDIA.dockerLayerGzip : MEDIA.dockerLayer)));
  }
  const describe = (blob) => ({ mediaType: blob.mediaType, size: blob.size, digest: blob.digest });
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: describe(config), layers: layers.map(describe) }));
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  return { digest, mediaType: MEDIA.dockerManifest, bytes, blobs: [config, ...layers], children: [] };
}

async function readAll(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}
