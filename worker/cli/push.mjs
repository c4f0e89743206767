// `pier push`: blobs first, then each child manifest by digest, then the top manifest or index
// under the tag (distribution spec: a manifest's blobs and children must exist before it).
import { describeError, drain } from "./http.mjs";
import { uploadBlob } from "./upload.mjs";

/** A progress line per blob on stderr: plain lines, so logs and CI output stay readable. */
export function progressReporter(out = process.stderr) {
  const short = (digest) => digest.slice(0, 19);
  return ({ digest, sent, size, state }) => {
    if (state === "progress") out.write(`  ${short(digest)}  ${sent}/${size} bytes (${size ? Math.floor((sent * 100) / size) : 100}%)\n`);
    else out.write(`${short(digest)}  ${state === "exists" ? "already there" : state === "pushed" ? `pushed ${size} bytes` : state}\n`);
  };
}

async function putManifest(registry, reference, node) {
  const answer = await registry.request("PUT", `/v2/${registry.repository}/manifests/${reference}`, {
    headers: { "Content-Type": node.mediaType },
    body: node.bytes,
  });
  if (answer.statusCode !== 201) throw new Error(`PUT manifest ${reference}: ${await describeError(answer)}`);
  await drain(answer);
}

/** Pushes `node` (sources.mjs tree) and everything it refers to; the top one goes under `tag`. */
export async function pushTree(registry, node, tag, { chunkSize, report = progressReporter() } = {}) {
  const pushed = new Set(); // a blob shared by several platforms is asked about once
  async function pushNode(current, reference) {
    for (const child of current.children) await pushNode(child, child.digest);
    for (const blob of current.blobs) {
      if (pushed.has(blob.digest)) continue;
      await uploadBlob(registry, blob, { chunkSize, report });
      pushed.add(blob.digest);
    }
    await putManifest(registry, reference, current);
  }
  await pushNode(node, tag);
  return node.digest;
}
