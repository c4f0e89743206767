// A randomized model test of the storage lifecycle (issue 10): pushes, mounts, tag moves and
// deletes interleaved with garbage collection steps, some run at the same moment. The
// collection runs in steps of a few D1/R2 calls each (worker/lifecycle/gc-steps.ts, as the
// RegistryLock object runs them), so its mark decisions and its sweeps fall between, and
// during, the writers' requests. After every operation each tagged image must pull byte for
// byte (0 lost); after a final collection, D1 and R2 must hold exactly what the tags need
// (0 leaked). The seed is printed; PIER_MODEL_SEED=<n> npm test replays one.
import { createExecutionContext, env } from "cloudflare:test";
import { expect, it } from "vitest";
import worker from "../../worker/index";
import { runStep } from "../../worker/lifecycle/gc-steps";
import { type GcState, initialState } from "../../worker/lifecycle/gc-state";
import { StepBudget } from "../../worker/lifecycle/step-budget";
import { database } from "../../worker/storage/db/client";
import { tombstoneUnneededBlobs } from "../../worker/storage/db/queries/gc-sweeps";
import { ADMIN, BASE, bodyBytes, type Descriptor, digestOf, imageManifest, OCI_CONFIG, OCI_LAYER, randomBytes, signedIn, withQuery } from "../helpers/registry";
import { seededRandom, StorageModel } from "./storage-model";

const OPERATIONS = Number(env.PIER_MODEL_OPERATIONS || 1_000);

/**
 * A request to the Worker's fetch handler, as the admin. Not through SELF: the test runtime
 * wraps its entry point anew on every SELF request, and a few thousand of them exhaust the stack.
 */
function request(path: string, init: RequestInit = {}): Promise<Response> {
  return Promise.resolve(worker.fetch!(new Request(`${BASE}${path}`, signedIn(init, ADMIN)) as never, env, createExecutionContext()));
}

async function pushBlob(repository: string, bytes: Uint8Array, mediaType = OCI_LAYER): Promise<Descriptor> {
  const digest = await digestOf(bytes);
  const response = await request(`/v2/${repository}/blobs/uploads/?digest=${digest}`, { method: "POST", body: bytes, headers: { "Content-Length": String(bytes.byteLength) } });
  expect(response.status, await response.clone().text()).toBe(201);
  return { mediaType, digest, size: bytes.byteLength };
}
const seed = Number(env.PIER_MODEL_SEED || Math.floor(Math.random() * 2 ** 31));

it(`keeps every tagged image through ${OPERATIONS} interleaved operations and leaks nothing (seed ${seed})`, { timeout: 600_000 }, async () => {
  console.log(`gc model test: seed ${seed} (replay with PIER_MODEL_SEED=${seed})`);
  const random = seededRandom(seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const project = `model${seed}`;
  const repositories = ["a", "b", "c"].map((name) => `${project}/${name}`);
  const tagNames = ["v1", "v2", "v3", "latest"];
  const pool = Array.from({ length: 8 }, (_, index) => randomBytes(64 + index * 16, seed + index));
  const model = new StorageModel();
  let gc: GcState | null = null;
  const counts: Record<string, number> = {};

  const operations: Record<string, () => Promise<void>> = {
    async push() {
      const repository = pick(repositories);
      const config = await pushBlob(repository, new TextEncoder().encode(JSON.stringify({ n: Math.floor(random() * 6) })), OCI_CONFIG);
      const layers: Descriptor[] = [];
      for (let count = 1 + Math.floor(random() * 2); count > 0; count--) layers.push(await pushBlob(repository, pick(pool)));
      const bytes = imageManifest(config, layers);
      const tag = pick(tagNames);
      const response = await request(`/v2/${repository}/manifests/${tag}`, { method: "PUT", body: bytes, headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json" } });
      // A collection may have taken a blob between the uploads and the manifest: the spec's
      // MANIFEST_BLOB_UNKNOWN, and nothing recorded. Anything else is a failure.
      if (response.status === 400) {
        expect(((await response.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("MANIFEST_BLOB_UNKNOWN");
        return;
      }
      expect(response.status, await response.clone().text()).toBe(201);
      model.tag(repository, tag, { digest: await digestOf(bytes), bytes, blobs: [config, ...layers] });
    },
    async mount() {
      const to = pick(repositories);
      const digest = await digestOf(pick(pool));
      // From a repository holding it: a mount that finds no holder opens an upload session (a
      // Durable Object instance each; the test runtime slows down with every instance made).
      const holder = await env.DB.prepare("SELECT repository FROM repository_blobs WHERE digest = ? LIMIT 1").bind(digest).first<{ repository: string }>();
      if (holder === null) return;
      const response = await request(withQuery(`/v2/${to}/blobs/uploads/`, { mount: digest, from: holder.repository }), { method: "POST" });
      // 202: collected since the lookup, and the client would upload; here it gives up.
      expect([201, 202]).toContain(response.status);
      if (response.status === 202) expect((await request(response.headers.get("Location")!, { method: "DELETE" })).status).toBe(204);
    },
    async moveTag() {
      const tagged = model.taggedImages();
      if (tagged.length === 0) return;
      const { repository, image } = pick(tagged);
      const tag = pick(tagNames);
      const response = await request(`/v2/${repository}/manifests/${tag}`, { method: "PUT", body: image.bytes, headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json" } });
      // The manifest may have lost its tags and been collected (untagged); then it is gone.
      if (response.status === 400) return;
      expect(response.status, await response.clone().text()).toBe(201);
      model.tag(repository, tag, image);
    },
    async deleteTag() {
      const tagged = model.taggedImages();
      if (tagged.length === 0) return;
      const { repository, tag } = pick(tagged);
      expect((await request(`/v2/${repository}/manifests/${tag}`, { method: "DELETE" })).status).toBe(202);
      model.untag(repository, tag);
    },
    async deleteManifest() {
      const tagged = model.taggedImages();
      if (tagged.length === 0) return;
      const { repository, image } = pick(tagged);
      expect((await request(`/v2/${repository}/manifests/${image.digest}`, { method: "DELETE" })).status).toBe(202);
      model.deleteManifest(repository, image.digest);
    },
    async retention() {
      // Keeps the two most recently pushed artifacts per repository (tagged or not): the rest go.
      const response = await request(`/api/v1/projects/${project}/retention/runs`, { method: "POST", body: "{}", headers: { "Content-Type": "application/json" } });
      expect(response.status, await response.clone().text()).toBe(201);
      const run = (await response.json()) as { status: string; items: { repository: string; digest: string }[] };
      expect(run.status).toBe("succeeded");
      for (const item of run.items) model.deleteManifest(item.repository, item.digest);
    },
    async interruptedSweep() {
      // A collection step stopped right after its tombstone statement (a crash, an eviction of
      // the object): the tombstones stay until a run's "tombstones" phase finishes them, and
      // writers meanwhile must treat those blobs as gone.
      await tombstoneUnneededBlobs(database(env.DB), "", Date.now(), 1_000);
    },
    async gcStep() {
      gc ??= initialState(crypto.randomUUID(), { dryRun: false, deleteUntagged: random() < 0.5 }, Date.now(), []);
      // A few calls per step: decisions and deletions spread over many operations.
      gc = await runStep(env, gc, new StepBudget(2 + Math.floor(random() * 4)));
      if (gc.phase === "done") gc = null;
    },
  };
  const kinds = ["push", "push", "push", "mount", "moveTag", "deleteTag", "deleteManifest", "retention", "interruptedSweep", "gcStep", "gcStep", "gcStep"] as const;

  // The first push creates the project; then its retention policy, which the "retention" operation runs.
  await pushBlob(repositories[0]!, pick(pool));
  const policy = { rules: [{ template: "latestPushed", n: 2, repositories: { include: ["**"] }, tags: { include: ["**"] }, untagged: true }] };
  const put = await request(`/api/v1/projects/${project}/retention`, { method: "PUT", body: JSON.stringify(policy), headers: { "Content-Type": "application/json" } });
  expect(put.status, await put.clone().text()).toBe(200);

  for (let index = 0; index < OPERATIONS; index++) {
    const kind = pick(kinds);
    counts[kind] = (counts[kind] ?? 0) + 1;
    // Now and then a writer and a collection step at the same moment.
    if (kind !== "gcStep" && random() < 0.25) await Promise.all([operations[kind]!(), operations.gcStep!()]);
    else await operations[kind]!();
    const when = `after operation ${index} (${kind}), seed ${seed}`;
    await expectTaggedImagesStored(model, when);
    // The whole pull path, over HTTP, every so often (each pull is a few requests per image).
    if (index % 50 === 49) await expectTaggedImagesPull(model, when);
  }
  console.log(`gc model test: seed ${seed}, operations ${JSON.stringify(counts)}`);

  // Finish the running collection, then one that keeps nothing untagged.
  while (gc !== null) await operations.gcStep!();
  let final: GcState = initialState(crypto.randomUUID(), { dryRun: false, deleteUntagged: true }, Date.now(), []);
  while (final.phase !== "done") final = await runStep(env, final);
  await expectTaggedImagesPull(model, `after the final collection, seed ${seed}`);
  await expectExactlyReferenced(model, seed);
});

/**
 * What a pull of every tagged image reads, checked straight in storage (fast enough for every
 * operation): the tag names the image's manifest, every manifest and blob row is live, the
 * repository links every blob, and R2 holds every object those rows name.
 */
async function expectTaggedImagesStored(model: StorageModel, when: string): Promise<void> {
  const tagged = model.taggedImages();
  if (tagged.length === 0) return;
  const wanted = JSON.stringify(tagged.map(({ repository, tag, image }) => [repository, tag, image.digest]));
  const { results: tags } = await env.DB.prepare(
    `SELECT w.value ->> 0 AS repository, w.value ->> 1 AS tag, t.digest AS digest, b.state AS state, b.object_key AS objectKey
     FROM json_each(?1) w
     LEFT JOIN tags t ON t.repository = w.value ->> 0 AND t.name = w.value ->> 1
     LEFT JOIN manifests m ON m.repository = t.repository AND m.digest = t.digest
     LEFT JOIN blobs b ON b.digest = m.digest`,
  )
    .bind(wanted)
    .all<{ repository: string; tag: string; digest: string | null; state: string | null; objectKey: string | null }>();
  const links = JSON.stringify([...new Set(tagged.flatMap(({ repository, image }) => image.blobs.map((blob) => `${repository}@${blob.digest}`)))]);
  const { results: blobs } = await env.DB.prepare(
    `SELECT w.value AS link, b.state AS state, b.object_key AS objectKey
     FROM json_each(?1) w
     LEFT JOIN repository_blobs l ON l.repository || '@' || l.digest = w.value
     LEFT JOIN blobs b ON b.digest = l.digest`,
  )
    .bind(links)
    .all<{ link: string; state: string | null; objectKey: string | null }>();
  const expectedDigest = new Map(tagged.map(({ repository, tag, image }) => [`${repository}:${tag}`, image.digest]));
  for (const row of tags) {
    expect(row.digest, `tag ${row.repository}:${row.tag} ${when}`).toBe(expectedDigest.get(`${row.repository}:${row.tag}`));
    expect(row.state, `manifest of ${row.repository}:${row.tag} ${when}`).toBe("live");
  }
  for (const row of blobs) expect(row.state, `blob ${row.link} ${when}`).toBe("live");
  const keys = new Set([...tags, ...blobs].flatMap((row) => (row.objectKey === null ? [] : [row.objectKey])));
  for (const key of keys) expect(await env.BLOBS.head(key), `R2 object ${key} ${when}`).not.toBeNull();
}

async function expectTaggedImagesPull(model: StorageModel, when: string): Promise<void> {
  for (const { repository, tag, image } of model.taggedImages()) {
    const manifest = await request(`/v2/${repository}/manifests/${tag}`);
    expect(manifest.status, `${repository}:${tag} ${when}`).toBe(200);
    expect(await bodyBytes(manifest), `${repository}:${tag} ${when}`).toEqual(image.bytes);
    for (const blob of image.blobs) {
      const response = await request(`/v2/${repository}/blobs/${blob.digest}`);
      expect(response.status, `${repository}@${blob.digest} of ${tag} ${when}`).toBe(200);
      expect((await bodyBytes(response)).byteLength, `${repository}@${blob.digest} ${when}`).toBe(blob.size);
    }
  }
}

async function expectExactlyReferenced(model: StorageModel, seed: number): Promise<void> {
  const expected = model.expectedRows();
  const rows = async (sql: string) => new Set((await env.DB.prepare(sql).all<{ key: string }>()).results.map((row) => row.key));
  expect(await rows("SELECT repository || '@' || digest AS key FROM manifests"), `manifests, seed ${seed}`).toEqual(expected.manifests);
  expect(await rows("SELECT repository || '@' || digest AS key FROM repository_blobs"), `links, seed ${seed}`).toEqual(expected.links);
  expect(await rows("SELECT digest AS key FROM blobs"), `blobs, seed ${seed}`).toEqual(expected.blobs);
  const references = await rows("SELECT repository || '@' || manifest AS key FROM manifest_references");
  expect([...references].every((key) => expected.manifests.has(key)), `references of deleted manifests, seed ${seed}`).toBe(true);
  // Every object R2 holds is one a blob row names, and every named one exists.
  const named = await rows("SELECT object_key AS key FROM blobs WHERE object_key IS NOT NULL");
  const stored = new Set<string>();
  for (let cursor: string | undefined; ; ) {
    const page = await env.BLOBS.list({ cursor, limit: 1000 });
    for (const object of page.objects) stored.add(object.key);
    if (!page.truncated) break;
    cursor = page.cursor;
  }
  expect(stored, `R2 objects, seed ${seed}`).toEqual(named);
}
