// Retention runs (worker/lifecycle/retention.ts) through the API: what a run removes, with its
// children and referrers, what it never removes, and that a dry run lists exactly what a real
// run then removes. Push times are set in D1 where the order matters, so the tests do not depend
// on their own timing.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { RepoName } from "../../worker/oci/names";
import { removeArtifacts } from "../../worker/services/content-writes";
import { flushPulls } from "../../worker/storage/pull-records";
import { apiJson, apiProject } from "../helpers/management";
import {
  bodyBytes,
  bytesOf,
  digestOf,
  expectSameBytes,
  imageManifest,
  jsonBytes,
  manifestDescriptor,
  OCI_CONFIG,
  OCI_INDEX,
  pushBlob,
  pushImage,
  pushManifest,
  pushReferrer,
  randomBytes,
  request,
} from "../helpers/registry";
import { digestsOf, manifestStatus, rule, runNow, setPolicy, setPushedAt } from "../helpers/retention";

const HOUR = 3_600_000;

/** Images tagged v1…v<count> in `<project>/app`, v<count> pushed last (an hour apart). */
async function versions(project: string, count: number, repository = `${project}/app`) {
  const images = [];
  for (let index = 1; index <= count; index++) {
    const image = await pushImage(repository, `v${index}`, { seed: index });
    await setPushedAt(repository, image.digest, Date.now() - (count - index + 1) * HOUR);
    images.push(image);
  }
  return { repository, images };
}

/** An image manifest pushed by digest only (as an index's child is). */
async function pushUntaggedImage(repository: string, seed: number): Promise<{ digest: string; bytes: Uint8Array }> {
  const config = await pushBlob(repository, bytesOf(JSON.stringify({ architecture: "arm64", os: "linux", seed })), OCI_CONFIG);
  const layer = await pushBlob(repository, randomBytes(512, seed));
  const bytes = imageManifest(config, [layer]);
  return { digest: await pushManifest(repository, await digestOf(bytes), bytes), bytes };
}

async function pushIndex(repository: string, tag: string, children: { digest: string; bytes: Uint8Array }[]): Promise<string> {
  const index = jsonBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: children.map((child) => manifestDescriptor(child.bytes, child.digest)) });
  return pushManifest(repository, tag, index, OCI_INDEX);
}

describe("a dry run", () => {
  it("lists what the policy would remove, with its tags and times, and deletes nothing", async () => {
    const project = await apiProject();
    const { repository, images } = await versions(project, 3);
    await setPolicy(project, [rule("latestPushed", 1)]);

    const run = await runNow(project, true);

    expect(run).toMatchObject({ project, dryRun: true, trigger: "manual", status: "succeeded", examined: 3, removed: 2, error: null, note: null, itemsTruncated: false });
    expect(digestsOf(run)).toEqual([images[0]!.digest, images[1]!.digest].sort());
    const first = run.items.find((item) => item.digest === images[0]!.digest)!;
    expect(first).toMatchObject({ repository, tags: ["v1"], lastPulledAt: null });
    expect(Date.parse(first.pushedAt)).toBeLessThan(Date.now() - 2 * HOUR);
    for (const tag of ["v1", "v2", "v3"]) expect(await manifestStatus(repository, tag)).toBe(200);
  });
});

describe("a run", () => {
  it("removes exactly what the dry run listed, and the kept images still pull byte for byte", async () => {
    const project = await apiProject();
    const { repository, images } = await versions(project, 4);
    await setPolicy(project, [rule("latestPushed", 2)]);

    const dry = await runNow(project, true);
    const real = await runNow(project, false);

    expect(real).toMatchObject({ dryRun: false, status: "succeeded", examined: 4, removed: 2 });
    expect(digestsOf(real)).toEqual(digestsOf(dry));
    expect(await manifestStatus(repository, "v1")).toBe(404);
    expect(await manifestStatus(repository, images[1]!.digest)).toBe(404);
    for (const image of images.slice(2)) {
      const manifest = await request(`/v2/${repository}/manifests/${image.digest}`);
      expect(manifest.status).toBe(200);
      expectSameBytes(await bodyBytes(manifest), image.bytes);
      const layer = await request(`/v2/${repository}/blobs/${image.layer.digest}`);
      expect(layer.status).toBe(200);
      expectSameBytes(await bodyBytes(layer), randomBytes(1024, images.indexOf(image) + 1));
    }
    // Nothing is left to remove.
    expect((await runNow(project, false)).removed).toBe(0);
  });

  it("keeps the most recently pulled with latestPulled, from the recorded pull statistics", async () => {
    const project = await apiProject();
    const { repository, images } = await versions(project, 3);
    const pulled = await request(`/v2/${repository}/manifests/v1`);
    expect(pulled.status).toBe(200);
    await bodyBytes(pulled);
    await flushPulls(env);
    await setPolicy(project, [rule("latestPulled", 1)]);

    const run = await runNow(project, false);

    expect(digestsOf(run)).toEqual([images[1]!.digest, images[2]!.digest].sort());
    expect(await manifestStatus(repository, "v1")).toBe(200);
  });

  it("never removes an artifact carrying an immutable tag", async () => {
    const project = await apiProject();
    const { repository, images } = await versions(project, 3);
    await apiJson(`/projects/${project}/immutable-tags`, { method: "PUT", body: { rules: [{ repositories: "**", tags: "v1" }] } });
    await setPolicy(project, [rule("latestPushed", 1)]);

    const run = await runNow(project, false);

    expect(digestsOf(run)).toEqual([images[1]!.digest]);
    expect(await manifestStatus(repository, "v1")).toBe(200);
    expect(await manifestStatus(repository, "v3")).toBe(200);
  });

  it("removes an index with its untagged children, keeping a child another kept index lists", async () => {
    const project = await apiProject();
    const repository = `${project}/multi`;
    const [amd, arm, shared] = [await pushUntaggedImage(repository, 1), await pushUntaggedImage(repository, 2), await pushUntaggedImage(repository, 3)];
    const old = await pushIndex(repository, "old", [amd!, arm!, shared!]);
    const current = await pushIndex(repository, "current", [shared!]);
    await setPushedAt(repository, old, Date.now() - HOUR);
    await setPolicy(project, [rule("latestPushed", 1)]);

    const dry = await runNow(project, true);
    const run = await runNow(project, false);

    expect(run).toMatchObject({ examined: 2, removed: 3 });
    expect(digestsOf(run)).toEqual([old, amd!.digest, arm!.digest].sort());
    expect(digestsOf(dry)).toEqual(digestsOf(run));
    expect(await manifestStatus(repository, amd!.digest)).toBe(404);
    expect(await manifestStatus(repository, "current")).toBe(200);
    expect(await manifestStatus(repository, shared!.digest)).toBe(200);
    expect(await manifestStatus(repository, current)).toBe(200);
  });

  it("removes an artifact's referrers, and theirs, with it", async () => {
    const project = await apiProject();
    const { repository, images } = await versions(project, 2);
    const subject = manifestDescriptor(images[0]!.bytes, images[0]!.digest);
    const signature = await pushReferrer(repository, subject, { artifactType: "application/vnd.test.signature", seed: 11 });
    const countersigned = await pushReferrer(repository, signature.descriptor, { artifactType: "application/vnd.test.signature", seed: 12 });
    const keptSignature = await pushReferrer(repository, manifestDescriptor(images[1]!.bytes, images[1]!.digest), { seed: 13 });
    await setPolicy(project, [rule("latestPushed", 1)]);

    const run = await runNow(project, false);

    expect(run).toMatchObject({ examined: 2, removed: 3 });
    expect(digestsOf(run)).toEqual([images[0]!.digest, signature.digest, countersigned.digest].sort());
    expect(await manifestStatus(repository, signature.digest)).toBe(404);
    expect(await manifestStatus(repository, keptSignature.digest)).toBe(200);
  });

  it("leaves repositories that no rule selects alone, and judges the others by their own artifacts", async () => {
    const project = await apiProject();
    const app = await versions(project, 2, `${project}/app`);
    const web = await versions(project, 2, `${project}/web`);
    const legacy = await versions(project, 2, `${project}/legacy/api`);
    await setPolicy(project, [rule("latestPushed", 1, { repositories: { include: ["**"], exclude: ["legacy/**"] } })]);

    const run = await runNow(project, false);

    expect(run).toMatchObject({ examined: 4, removed: 2 });
    expect(digestsOf(run)).toEqual([app.images[0]!.digest, web.images[0]!.digest].sort());
    expect(await manifestStatus(legacy.repository, "v1")).toBe(200);
  });

  it("with no policy, judges nothing and removes nothing", async () => {
    const project = await apiProject();
    const { repository } = await versions(project, 2);
    expect(await runNow(project, false)).toMatchObject({ status: "succeeded", examined: 0, removed: 0, items: [] });
    expect(await manifestStatus(repository, "v1")).toBe(200);
  });

  it("is listed newest first, and shown with its items by id", async () => {
    const project = await apiProject();
    await versions(project, 2);
    await setPolicy(project, [rule("latestPushed", 1)]);
    const dry = await runNow(project, true);
    const real = await runNow(project, false);

    const { items } = await apiJson<{ items: { id: string }[] }>(`/projects/${project}/retention/runs`);
    expect(items.map((item) => item.id)).toEqual([real.id, dry.id]);
    expect(items[0]).not.toHaveProperty("items");
    expect(await apiJson(`/projects/${project}/retention/runs/${real.id}`)).toEqual(real);
  });
});

describe("removal", () => {
  it("leaves an artifact whose tags changed since it was judged", async () => {
    const project = await apiProject();
    const { repository, images } = await versions(project, 1);
    const judged = { digest: images[0]!.digest, tags: [], pushedAt: 0, lastPulledAt: null };
    const row = await env.DB.prepare("SELECT pushed_at FROM manifests WHERE repository = ? AND digest = ?").bind(repository, judged.digest).first<{ pushed_at: number }>();
    judged.pushedAt = row!.pushed_at;

    // Judged untagged, but it carries v1 now.
    const removed = await removeArtifacts(env, repository as RepoName, { artifacts: [judged], levels: [], record: null });

    expect(removed.size).toBe(0);
    expect(await manifestStatus(repository, "v1")).toBe(200);
    const again = await removeArtifacts(env, repository as RepoName, { artifacts: [{ ...judged, tags: ["v1"] }], levels: [], record: null });
    expect([...again]).toEqual([judged.digest]);
    expect(await manifestStatus(repository, "v1")).toBe(404);
  });
});
