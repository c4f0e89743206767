// Pull mode through the real queues: a remote registry's tags copied into a local project by a
// manual execution (listing on pier-jobs, one copy per tag on pier-replication), with the
// policy's filters, its override setting, and what a second run transfers (nothing).
import { describe, expect, it } from "vitest";
import { createRemote, seedImage } from "../helpers/fake-remote";
import { newProject } from "../helpers/identities";
import { apiJson } from "../helpers/management";
import { OCI_INDEX, OCI_MANIFEST, bodyBytes, pushImage, request } from "../helpers/registry";
import { newHook, receivedAtLeast } from "../helpers/webhook-receiver";
import { addRegistry, createPolicy, QUEUED, runToEnd, tasksOf } from "../helpers/replication";

const ACCEPT = [OCI_MANIFEST, OCI_INDEX].join(", ");

async function localManifest(repository: string, reference: string): Promise<{ status: number; bytes: Uint8Array; digest: string | null }> {
  const response = await request(`/v2/${repository}/manifests/${reference}`, { headers: { Accept: ACCEPT } });
  return { status: response.status, bytes: await bodyBytes(response), digest: response.headers.get("Docker-Content-Digest") };
}

describe("pull mode", QUEUED, () => {
  it("copies the tags matching the tag filter into the project, byte for byte", async () => {
    const remote = await createRemote();
    const one = await seedImage(remote.id, "library/app", "1.0");
    const two = await seedImage(remote.id, "library/app", "1.1", { platforms: [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }] });
    await seedImage(remote.id, "library/app", "2.0");
    const project = await newProject();
    const policy = await createPolicy({ source: await addRegistry(remote), destinationNamespace: project, filters: { repositories: "library/app", tags: "1.*" } });

    const execution = await runToEnd(policy.name);
    expect(execution).toMatchObject({ status: "succeeded", total: 2, succeeded: 2, failed: 0 });
    const tasks = await tasksOf(execution.id);
    expect(tasks.map((task) => [task.reference, task.destinationRepository, task.status])).toEqual([
      ["1.0", `${project}/library/app`, "succeeded"],
      ["1.1", `${project}/library/app`, "succeeded"],
    ]);
    expect(tasks.map((task) => task.digest)).toEqual([one.digest, two.digest]);
    expect(tasks.every((task) => task.blobsCopied > 0 && task.bytesCopied > 0 && task.attempts === 1)).toBe(true);

    expect(await localManifest(`${project}/library/app`, "1.0")).toEqual({ status: 200, bytes: one.bytes, digest: one.digest });
    expect(await localManifest(`${project}/library/app`, "1.1")).toEqual({ status: 200, bytes: two.bytes, digest: two.digest });
    expect((await localManifest(`${project}/library/app`, "2.0")).status).toBe(404);
  });

  it("tells the project's webhooks that the execution ended (REPLICATION)", async () => {
    const remote = await createRemote();
    await seedImage(remote.id, "library/app", "1.0");
    const project = await newProject();
    const hook = await newHook();
    await apiJson(`/projects/${project}/webhooks`, { body: { name: "replication", url: hook.url, events: ["REPLICATION"], format: "cloudevents" } }, 201);
    const policy = await createPolicy({ source: await addRegistry(remote), destinationNamespace: project, filters: { repositories: "library/app" } });

    const execution = await runToEnd(policy.name);
    const [delivery] = await receivedAtLeast(hook, 1);
    const body = JSON.parse(new TextDecoder().decode(delivery!.body)) as { data: Record<string, unknown> };
    expect(body.data).toMatchObject({ executionId: execution.id, policy: policy.name, status: "succeeded", total: 1, succeeded: 1, failed: 0 });
  });

  it("matches repositories through the remote's catalog", async () => {
    const remote = await createRemote();
    for (const repository of ["lib/a", "lib/b", "other/c", "lib/deep/d"]) await seedImage(remote.id, repository, "v1");
    const project = await newProject();
    const policy = await createPolicy({ source: await addRegistry(remote), destinationNamespace: project, filters: { repositories: "lib/*" } });

    const execution = await runToEnd(policy.name);
    expect(execution).toMatchObject({ status: "succeeded", total: 2 });
    expect((await tasksOf(execution.id)).map((task) => task.sourceRepository)).toEqual(["lib/a", "lib/b"]);
  });

  it("transfers no blob on a second run of the same policy: everything is skipped", async () => {
    const remote = await createRemote();
    await seedImage(remote.id, "library/app", "1.0", { referrer: true });
    const project = await newProject();
    const policy = await createPolicy({ source: await addRegistry(remote), destinationNamespace: project, filters: { repositories: "library/app" } });

    expect(await runToEnd(policy.name)).toMatchObject({ status: "succeeded", total: 1 });
    const again = await runToEnd(policy.name);
    expect(again).toMatchObject({ status: "succeeded", total: 1 });
    const [task] = await tasksOf(again.id);
    expect(task).toMatchObject({ status: "succeeded", blobsCopied: 0, bytesCopied: 0 });
  });

  it("leaves a tag the project has on another digest when the policy does not override, saying why", async () => {
    const remote = await createRemote();
    await seedImage(remote.id, "library/app", "1.0");
    const project = await newProject();
    const mine = await pushImage(`${project}/library/app`, "1.0", { seed: 77 });
    const policy = await createPolicy({ source: await addRegistry(remote), destinationNamespace: project, filters: { repositories: "library/app" }, override: false });

    const execution = await runToEnd(policy.name);
    expect(execution).toMatchObject({ status: "succeeded", succeeded: 1 });
    const [task] = await tasksOf(execution.id);
    expect(task).toMatchObject({ status: "succeeded", error: null, note: expect.stringContaining("does not override") });
    expect((await localManifest(`${project}/library/app`, "1.0")).digest).toBe(mine.digest);
  });

  it("fails a copy whose project does not exist, saying which, without retrying", async () => {
    const remote = await createRemote();
    const repository = `nosuch${crypto.randomUUID().slice(0, 8)}/app`;
    await seedImage(remote.id, repository, "1.0");
    const policy = await createPolicy({ source: await addRegistry(remote), filters: { repositories: repository } });

    const execution = await runToEnd(policy.name);
    expect(execution).toMatchObject({ status: "failed", total: 1, failed: 1 });
    const [task] = await tasksOf(execution.id);
    expect(task).toMatchObject({ status: "failed", attempts: 1, error: expect.stringContaining(`project "${repository.split("/")[0]}"`) });
  });

  it("lists a literal repository without asking for a catalog the remote does not serve", async () => {
    const remote = await createRemote({ catalog: false });
    await seedImage(remote.id, "library/app", "1.0");
    const project = await newProject();
    const policy = await createPolicy({ source: await addRegistry(remote), destinationNamespace: project, filters: { repositories: "library/app" } });
    expect(await runToEnd(policy.name)).toMatchObject({ status: "succeeded", total: 1, succeeded: 1 });
  });

  it("fails the execution when a pattern meets a remote without a catalog, saying why", async () => {
    const remote = await createRemote({ catalog: false });
    const project = await newProject();
    const policy = await createPolicy({ source: await addRegistry(remote), destinationNamespace: project, filters: { repositories: "library/*" } });
    const execution = await runToEnd(policy.name);
    expect(execution).toMatchObject({ status: "failed", total: 0, error: expect.stringContaining("catalog") });
  });
});
