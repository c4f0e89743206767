// The registry `npm run bench:gc` collects (bench/gc.mjs): a deterministic plan of blobs,
// manifests, links and tags, and its seeding straight into a Pier's D1 and R2 (server.mf),
// which is far quicker than pushing 100,000 blobs through the API and stores exactly what a
// push stores (worker/storage/db/schema.ts; migrations 0005 and 0006 for the lifecycle columns).
//
// The shape, for B blobs and M manifests (each manifest: a config and 9 layers, 10 blobs):
//   - K = M/2 kept manifests, each tagged, referencing R = min(B/2, 10 K) "kept" blobs in turn;
//   - U = M - K untagged manifests: a config and 7 layers of their own, plus layer 1 of the kept
//     manifest of the same index (same repository: the link must stay) and layer 2 of the next
//     one (another repository: that link goes, the blob stays);
//   - the remaining blobs referenced by nothing: half linked to a repository (an abandoned
//     push: the link goes, then the blob), half linked nowhere (the blob goes).
// Everything is old (pushed_at, linked_at, touched_at 0), so with PIER_GC_GRACE_SECONDS=0 a
// collection with deleteUntagged keeps exactly the kept manifests and what they reference.
import { createHash, randomUUID } from "node:crypto";
import * as client from "./registry-client.mjs";

const CONFIG_TYPE = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";
const BLOBS_PER_MANIFEST = 10;
const OWN_UNTAGGED = 8;
const PROJECTS = ["gcalpha", "gcbeta", "gcgamma", "gcdelta"];
const ROWS_PER_STATEMENT = 500;
const R2_IN_FLIGHT = 32;

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

/** The bytes of blob `n`: 64 to 256 pseudo-random bytes, the same on every run. */
export function blobBytes(n) {
  const size = 64 + ((n * 37) % 193);
  const chunks = [];
  for (let k = 0; k * 32 < size; k++) chunks.push(createHash("sha256").update(`pier-gc:${n}:${k}`).digest());
  return Buffer.concat(chunks).subarray(0, size);
}

/** The registry as data: blobs, manifests (with their JSON), links, and what must survive. */
export function planRegistry({ blobs: blobCount, manifests: manifestCount, repositories: repositoryCount = 100 }) {
  const kept = Math.ceil(manifestCount / 2);
  const untagged = manifestCount - kept;
  if (kept < 2 || blobCount < 4 * BLOBS_PER_MANIFEST) throw new Error("BENCH_GC_MANIFESTS must be >= 4 and BENCH_GC_BLOBS >= 40");
  const repoCount = Math.min(repositoryCount, kept);
  const repositories = Array.from({ length: repoCount }, (_, r) => `${PROJECTS[r % PROJECTS.length]}/app-${String(r).padStart(3, "0")}`);
  const blobs = Array.from({ length: blobCount }, (_, n) => {
    const bytes = blobBytes(n);
    const hex = sha256(bytes);
    return { n, digest: `sha256:${hex}`, size: bytes.length, objectKey: `blobs/sha256/${hex}/${randomUUID()}` };
  });
  const keptPool = Math.min(Math.floor(blobCount / 2), kept * BLOBS_PER_MANIFEST);
  const untaggedPool = Math.min(untagged * OWN_UNTAGGED, blobCount - keptPool);
  const keptRefs = (i) => Array.from({ length: BLOBS_PER_MANIFEST }, (_, j) => blobs[(i * BLOBS_PER_MANIFEST + j) % keptPool]);
  const manifests = [];
  const manifest = (repository, refs, tag) => {
    const descriptor = (mediaType, blob) => ({ mediaType, digest: blob.digest, size: blob.size });
    const json = JSON.stringify({ schemaVersion: 2, mediaType: client.OCI_MANIFEST, config: descriptor(CONFIG_TYPE, refs[0]), layers: refs.slice(1).map((blob) => descriptor(LAYER_TYPE, blob)) });
    const entry = { repository, tag, refs, json, digest: `sha256:${sha256(json)}`, size: Buffer.byteLength(json) };
    manifests.push(entry);
    return entry;
  };
  for (let i = 0; i < kept; i++) manifest(repositories[i % repoCount], keptRefs(i), `v${i}`);
  for (let u = 0; u < untagged; u++) {
    const own = (j) => blobs[keptPool + ((u * OWN_UNTAGGED + j) % untaggedPool)];
    const refs = [own(0), keptRefs(u % kept)[1], keptRefs((u + 1) % kept)[2], ...Array.from({ length: OWN_UNTAGGED - 1 }, (_, j) => own(j + 1))];
    manifest(repositories[u % repoCount], refs, null);
  }
  // Links: every reference's (repository, blob), then the abandoned pushes'.
  const links = new Map();
  for (const m of manifests) for (const blob of m.refs) links.set(`${m.repository} ${blob.digest}`, { repository: m.repository, digest: blob.digest });
  const unreferenced = blobs.slice(keptPool + untaggedPool);
  unreferenced.forEach((blob, e) => {
    if (e % 2 === 0) links.set(`${repositories[(e / 2) % repoCount]} ${blob.digest}`, { repository: repositories[(e / 2) % repoCount], digest: blob.digest });
  });
  return { repositories, blobs, manifests, links: [...links.values()], expected: expectedAfterGc(blobs, manifests) };
}

/** What a complete collection leaves, and what it removes (counts, bytes). */
function expectedAfterGc(blobs, manifests) {
  const keptManifests = manifests.filter((m) => m.tag !== null);
  const keptLinks = new Set();
  const keptBlobs = new Map();
  for (const m of keptManifests) {
    for (const blob of m.refs) {
      keptLinks.add(`${m.repository} ${blob.digest}`);
      keptBlobs.set(blob.digest, blob);
    }
  }
  const goneBlobs = blobs.filter((blob) => !keptBlobs.has(blob.digest));
  const goneManifests = manifests.filter((m) => m.tag === null);
  return {
    manifests: new Set(keptManifests.map((m) => `${m.repository} ${m.digest}`)),
    links: keptLinks,
    references: keptManifests.reduce((sum, m) => sum + new Set(m.refs.map((b) => b.digest)).size, 0),
    // Blob rows: the kept blobs (R2 objects) and the kept manifests' rows (content inline).
    blobRows: new Set([...keptBlobs.keys(), ...keptManifests.map((m) => m.digest)]),
    objectKeys: new Set([...keptBlobs.values()].map((blob) => blob.objectKey)),
    manifestsDeleted: goneManifests.length,
    blobsDeleted: goneBlobs.length + goneManifests.length,
    bytesFreed: goneBlobs.reduce((sum, blob) => sum + blob.size, 0) + goneManifests.reduce((sum, m) => sum + m.size, 0),
  };
}

/** Inserts `rows` (arrays in `columns` order), ROWS_PER_STATEMENT at a time, each page one statement over a JSON array. */
async function insertRows(db, table, columns, rows) {
  const values = columns.map((_, i) => `json_extract(value, '$[${i}]')`).join(", ");
  const sql = `INSERT INTO ${table} (${columns.join(", ")}) SELECT ${values} FROM json_each(?1)`;
  for (let at = 0; at < rows.length; at += ROWS_PER_STATEMENT) {
    await db.prepare(sql).bind(JSON.stringify(rows.slice(at, at + ROWS_PER_STATEMENT))).run();
  }
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function pool(items, limit, work) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

/**
 * Seeds `pier` (a startPier server, signed in as admin) with `plan`: projects through the API,
 * every other row straight into D1, every blob's object into R2 (its digest checked by R2 on
 * the way in). Returns the seconds each part took.
 */
export async function seedPier(pier, plan, log) {
  const seconds = {};
  const timed = async (name, work) => {
    const started = Date.now();
    await work();
    seconds[name] = (Date.now() - started) / 1000;
  };
  const projects = [...new Set(plan.repositories.map((name) => name.split("/")[0]))];
  for (const name of projects) {
    const answer = await client.request("POST", `${pier.url}/api/v1/projects`, client.jsonBody({ name }));
    client.expectStatus(answer, 201, `creating project ${name}`);
  }
  const db = await pier.mf.getD1Database("DB");
  await timed("d1", async () => {
    await insertRows(db, "repositories", ["name"], plan.repositories.map((name) => [name]));
    const blobRows = plan.blobs.map((b) => [b.digest, b.size, b.objectKey, null, "live", 0]);
    const manifestBlobRows = plan.manifests.map((m) => [m.digest, m.size, null, m.json, "live", 0]);
    await insertRows(db, "blobs", ["digest", "size", "object_key", "content", "state", "touched_at"], [...blobRows, ...manifestBlobRows]);
    await insertRows(db, "repository_blobs", ["repository", "digest", "linked_at"], plan.links.map((l) => [l.repository, l.digest, 0]));
    const manifestColumns = ["repository", "digest", "media_type", "size", "subject", "artifact_type", "pushed_at", "references_recorded"];
    await insertRows(db, "manifests", manifestColumns, plan.manifests.map((m) => [m.repository, m.digest, client.OCI_MANIFEST, m.size, null, null, 0, 1]));
    const references = plan.manifests.flatMap((m) => [...new Set(m.refs.map((b) => b.digest))].map((target) => [m.repository, m.digest, target, "blob"]));
    await insertRows(db, "manifest_references", ["repository", "manifest", "target", "kind"], references);
    await insertRows(db, "tags", ["repository", "name", "digest", "updated_at"], plan.manifests.filter((m) => m.tag !== null).map((m) => [m.repository, m.tag, m.digest, 0]));
  });
  log(`seeded D1 in ${seconds.d1.toFixed(1)} s; putting ${plan.blobs.length} objects into R2, ${R2_IN_FLIGHT} in flight`);
  const bucket = await pier.mf.getR2Bucket("BLOBS");
  await timed("r2", async () => {
    let done = 0;
    await pool(plan.blobs, R2_IN_FLIGHT, async (blob) => {
      await bucket.put(blob.objectKey, blobBytes(blob.n), { sha256: blob.digest.slice("sha256:".length) });
      if (++done % 20_000 === 0) log(`  ${done} objects`);
    });
  });
  return seconds;
}

/** Rows and objects a collection is judged by (bench/gc.mjs compares them with plan.expected). */
export async function storedState(pier) {
  const db = await pier.mf.getD1Database("DB");
  const all = async (sql) => (await db.prepare(sql).all()).results;
  const count = async (sql) => Number((await all(sql))[0].n);
  const keys = new Set();
  const bucket = await pier.mf.getR2Bucket("BLOBS");
  for (let cursor; ; ) {
    const page = await bucket.list({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    for (const object of page.objects) keys.add(object.key);
    if (!page.truncated) break;
    cursor = page.cursor;
  }
  return {
    manifests: new Set((await all("SELECT repository, digest FROM manifests")).map((r) => `${r.repository} ${r.digest}`)),
    links: new Set((await all("SELECT repository, digest FROM repository_blobs")).map((r) => `${r.repository} ${r.digest}`)),
    blobRows: new Set((await all("SELECT digest FROM blobs")).map((r) => r.digest)),
    objectKeys: new Set((await all("SELECT object_key FROM blobs WHERE object_key IS NOT NULL")).map((r) => r.object_key)),
    r2Keys: keys,
    references: await count("SELECT count(*) AS n FROM manifest_references"),
    tags: await count("SELECT count(*) AS n FROM tags"),
    tombstoned: await count("SELECT count(*) AS n FROM blobs WHERE state = 'deleting'"),
    candidates: await count("SELECT count(*) AS n FROM gc_candidates"),
  };
}
