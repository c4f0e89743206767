// Images for the pull-through benchmark: pushed to the upstream registry with generated layers,
// and pulled the way a client pulls (manifest by tag, then config and layers by digest).
import { createHash } from "node:crypto";
import * as client from "./registry-client.mjs";

const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
const ACCEPT = `${client.OCI_MANIFEST}, application/vnd.oci.image.index.v1+json`;

const sha256 = (bytes) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/**
 * Pushes an image with one layer per size in `layerSizes` (bytes generated from `seed`, so
 * unique to this image, config included) to `base` as `<repo>:<tag>`. distribution 2.8 takes
 * monolithic blobs as POST + PUT. Returns { repo, tag, digest, manifest, config, layers } where
 * each layer is { digest, size, blob } (blob: the generator, for re-sending the same bytes).
 */
export async function pushImage(base, repo, tag, layerSizes, seed) {
  const layers = layerSizes.map((size, index) => {
    const blob = client.makeBlob(size, `${seed}/layer-${index}`);
    return { digest: client.digestOf(blob), size, blob };
  });
  const configBytes = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config: { Labels: { seed } } }));
  const config = { digest: sha256(configBytes), size: configBytes.length };
  await client.pushMonolithic(base, repo, { size: configBytes.length, bytes: () => [configBytes] }, config.digest, { singleRequest: false });
  for (const layer of layers) await client.pushMonolithic(base, repo, layer.blob, layer.digest, { singleRequest: false });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: client.OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, ...config },
    layers: layers.map(({ digest, size }) => ({ mediaType: OCI_LAYER, digest, size })),
  });
  const headers = { "Content-Type": client.OCI_MANIFEST, "Content-Length": String(Buffer.byteLength(manifest)) };
  const answer = await client.request("PUT", `${base}/v2/${repo}/manifests/${tag}`, { headers, body: Buffer.from(manifest) });
  if (answer.status !== 201) throw new Error(`pushing ${repo}:${tag} to ${base}: ${answer.status} ${answer.text}`);
  return { repo, tag, digest: sha256(Buffer.from(manifest)), manifest, config, layers };
}

/**
 * Pulls `image` from `base` under the name `name` (e.g. `up/<repo>` through Pier's prefix):
 * GET the manifest by tag, then the config and every layer by digest, in order. Every answer
 * must be 200 and the manifest the pushed bytes; with `verify`, every blob's sha256 is checked.
 * Returns the X-Pier-Cache header of each request ({ manifest, config, layers: [] }).
 */
export async function pullImage(base, name, image, { verify = false, via } = {}) {
  const manifest = await client.request("GET", `${base}/v2/${name}/manifests/${image.tag}`, { headers: { Accept: ACCEPT }, via });
  if (manifest.status !== 200) throw new Error(`GET ${base}/v2/${name}/manifests/${image.tag}: ${manifest.status} ${manifest.text.slice(0, 300)}`);
  if (manifest.text !== image.manifest) throw new Error(`${base}/v2/${name}: the manifest by tag differs from the one pushed`);
  const config = await getBlob(base, name, image.config, { verify, via });
  const layers = [];
  for (const layer of image.layers) layers.push(await getBlob(base, name, layer, { verify, via }));
  return { manifest: manifest.headers["x-pier-cache"] ?? null, config, layers };
}

async function getBlob(base, name, { digest, size }, { verify, via }) {
  const hash = verify ? createHash("sha256") : null;
  const url = `${base}/v2/${name}/blobs/${digest}`;
  const answer = await client.request("GET", url, { onBody: hash && ((chunk) => hash.update(chunk)), keepText: false, via });
  if (answer.status !== 200) throw new Error(`GET ${url}: ${answer.status}`);
  if (answer.bytes !== size) throw new Error(`GET ${url}: ${answer.bytes} bytes, expected ${size}`);
  if (hash !== null && `sha256:${hash.digest("hex")}` !== digest) throw new Error(`GET ${url}: content does not match its digest`);
  return answer.headers["x-pier-cache"] ?? null;
}

/** X-Pier-Cache of a HEAD on a blob through Pier (status and header). */
export async function headBlob(base, name, digest) {
  const answer = await client.request("HEAD", `${base}/v2/${name}/blobs/${digest}`);
  return { status: answer.status, cache: answer.headers["x-pier-cache"] ?? null };
}
