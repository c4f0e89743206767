// `pier pull`: fetches a manifest (an index whole, with every child) and its blobs into an OCI
// image layout, verifying each digest while the bytes stream to disk, then tags it in
// index.json. Blobs already in the layout are kept (content-addressed: same digest, same bytes).
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describeError, drain, readBody, send } from "./http.mjs";
import { MEDIA } from "./sources.mjs";

const ACCEPT = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest].join(", ");
const REF_NAME = "org.opencontainers.image.ref.name";

function blobPath(dir, digest) {
  if (!/^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/.test(digest ?? "")) throw new Error(`unsupported or malformed digest ${digest}`);
  return join(dir, "blobs", ...digest.split(":"));
}

/** GET that follows a blob redirect (to object storage), without our credentials off-site. */
async function getFollowing(registry, path, headers) {
  let answer = await registry.request("GET", path, { headers });
  for (let hops = 0; hops < 5 && [301, 302, 303, 307, 308].includes(answer.statusCode); hops++) {
    await drain(answer);
    answer = await send("GET", new URL(answer.headers.location, registry.base).href);
  }
  return answer;
}

/** Streams a blob into the layout, hashing as it goes; only a matching file gets its name. */
async function pullBlob(registry, dir, descriptor, report) {
  const path = blobPath(dir, descriptor.digest);
  if (existsSync(path)) return report(`${descriptor.digest.slice(0, 19)}  already in the layout`);
  const answer = await getFollowing(registry, `/v2/${registry.repository}/blobs/${descriptor.digest}`);
  if (answer.statusCode !== 200) throw new Error(`GET blob ${descriptor.digest}: ${await describeError(answer)}`);
  const hash = createHash(descriptor.digest.split(":")[0]);
  let size = 0;
  const tap = new Transform({
    transform(chunk, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const partial = `${path}.partial`;
  await pipeline(answer, tap, createWriteStream(partial));
  const actual = `${descriptor.digest.split(":")[0]}:${hash.digest("hex")}`;
  if (actual !== descriptor.digest || size !== descriptor.size) {
    rmSync(partial, { force: true });
    throw new Error(`blob ${descriptor.digest} arrived as ${actual} (${size} bytes): refusing it`);
  }
  renameSync(partial, path);
  report(`${descriptor.digest.slice(0, 19)}  pulled ${size} bytes`);
}

/** Pulls `reference` (tag or digest) into `dir`; tags the result `tag` when given. Returns the top descriptor. */
export async function pullImage(registry, reference, dir, tag, { report = (line) => process.stderr.write(`${line}\n`) } = {}) {
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  async function pullManifest(ref) {
    const answer = await registry.request("GET", `/v2/${registry.repository}/manifests/${ref}`, { headers: { Accept: ACCEPT } });
    if (answer.statusCode !== 200) throw new Error(`GET manifest ${ref}: ${await describeError(answer)}`);
    const bytes = await readBody(answer);
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    if (ref.includes(":") && ref !== digest) throw new Error(`manifest ${ref} arrived with digest ${digest}: refusing it`);
    const parsed = JSON.parse(bytes.toString("utf8"));
    const mediaType = parsed.mediaType ?? answer.headers["content-type"];
    if (parsed.manifests) for (const child of parsed.manifests) await pullManifest(child.digest);
    else for (const blob of [parsed.config, ...(parsed.layers ?? [])].filter(Boolean)) await pullBlob(registry, dir, blob, report);
    // Written after its children and blobs: a manifest in the layout is always complete.
    writeFileSync(blobPath(dir, digest), bytes);
    return { mediaType, digest, size: bytes.length };
  }
  const top = await pullManifest(reference);
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const indexFile = join(dir, "index.json");
  const index = existsSync(indexFile) ? JSON.parse(readFileSync(indexFile, "utf8")) : { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [] };
  const entry = tag ? { ...top, annotations: { [REF_NAME]: tag } } : top;
  // One entry per tag: pulling a tag again replaces what it named.
  index.manifests = index.manifests.filter((m) => (tag ? m.annotations?.[REF_NAME] !== tag : m.digest !== top.digest || m.annotations));
  index.manifests.push(entry);
  writeFileSync(indexFile, JSON.stringify(index, null, 2));
  return top;
}
