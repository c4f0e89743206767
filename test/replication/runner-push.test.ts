// Push mode through the real queues: local content copied out to a remote registry, by hand and
// on events (a push to Pier starts an execution of one task), and deletions replicated only
// when the policy says so.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { startEventReplications } from "../../worker/replication/event-trigger";
import type { ExecutionView } from "../../worker/services/management/replication-executions";
import { createRemote, remoteBlob, remoteLog, remoteManifest, remoteTags } from "../helpers/fake-remote";
import { newProject } from "../helpers/identities";
import { apiJson } from "../helpers/management";
import { pushImage, request } from "../helpers/registry";
import { addRegistry, createPolicy, QUEUED, runToEnd, tasksOf } from "../helpers/replication";

async function deleteLocal(repository: string, digest: string): Promise<void> {
  const response = await request(`/v2/${repository}/manifests/${digest}`, { method: "DELETE" });
  expect(response.status, await response.text()).toBe(202);
}

/** Waits (bounded) until every event of the project has been handled: the outbox keeps a row until then (worker/events). */
async function eventsHandled(project: string, boundMs = 30_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const row = await env.DB.prepare("SELECT count(*) AS n FROM event_outbox WHERE project = ?").bind(project).first<{ n: number }>();
    if (row!.n === 0) return;
    expect(Date.now(), `events of ${project} still in the outbox`).toBeLessThan(deadline);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The policy's executions once `count` of them have ended (events start them asynchronously), polled with a bound. */
async function endedExecutions(policy: string, count: number, boundMs = 30_000): Promise<ExecutionView[]> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const { items } = await apiJson<{ items: ExecutionView[] }>(`/replication/executions?policy=${policy}`);
    if (items.length >= count && items.every((item) => item.status !== "running")) return items;
    expect(Date.now(), `executions of ${policy}: ${JSON.stringify(items)}`).toBeLessThan(deadline);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("push mode", QUEUED, () => {
  it("copies a project's tags to the remote under the namespace, byte for byte", async () => {
    const remote = await createRemote();
    const project = await newProject();
    const image = await pushImage(`${project}/app`, "v1");
    await pushImage(`${project}/app`, "dev", { seed: 2 });
    const policy = await createPolicy({ source: null, destination: await addRegistry(remote), destinationNamespace: "mirror", filters: { repositories: `${project}/**`, tags: "v*" } });

    const execution = await runToEnd(policy.name);
    expect(execution).toMatchObject({ status: "succeeded", total: 1, succeeded: 1 });
    const target = `mirror/${project}/app`;
    expect(await remoteTags(remote.id, target)).toEqual({ v1: image.digest });
    expect((await remoteManifest(remote.id, target, "v1"))?.bytes).toEqual(image.bytes);
    expect(await remoteBlob(remote.id, target, image.layer.digest)).not.toBeNull();
  });

  it("mounts at the remote the layers a repository shares with one the execution already copied", async () => {
    const remote = await createRemote();
    const project = await newProject();
    // The same seed: both images have the very same config and layer.
    await pushImage(`${project}/app`, "v1");
    const tool = await pushImage(`${project}/tool`, "v1");
    const policy = await createPolicy({ source: null, destination: await addRegistry(remote), filters: { repositories: `${project}/**` }, concurrency: 1 });

    expect(await runToEnd(policy.name)).toMatchObject({ status: "succeeded", total: 2, succeeded: 2 });
    const toTool = await remoteLog(remote.id, { repo: `${project}/tool` });
    const mounts = toTool.filter((entry) => entry.method === "POST" && entry.query.includes("mount="));
    expect(mounts.map((entry) => entry.status)).toEqual([201, 201]);
    expect(toTool.filter((entry) => entry.method === "PUT" && entry.path.includes("/blobs/uploads/"))).toEqual([]);
    expect(await remoteBlob(remote.id, `${project}/tool`, tool.layer.digest)).not.toBeNull();
  });

  it("deletes at the remote the tags gone from the project, when the policy replicates deletions", async () => {
    const remote = await createRemote();
    const project = await newProject();
    const kept = await pushImage(`${project}/app`, "v1");
    const gone = await pushImage(`${project}/app`, "v2", { seed: 2 });
    const policy = await createPolicy({ source: null, destination: await addRegistry(remote), filters: { repositories: `${project}/app` }, replicateDeletion: true });
    expect(await runToEnd(policy.name)).toMatchObject({ status: "succeeded", total: 2 });

    await deleteLocal(`${project}/app`, gone.digest);
    const execution = await runToEnd(policy.name);
    expect(execution).toMatchObject({ status: "succeeded", total: 2, succeeded: 2 });
    expect((await tasksOf(execution.id)).map((task) => [task.operation, task.reference])).toEqual([
      ["copy", "v1"],
      ["delete", "v2"],
    ]);
    expect(await remoteTags(remote.id, `${project}/app`)).toEqual({ v1: kept.digest });
  });

  it("leaves the remote's tags alone when the policy does not replicate deletions", async () => {
    const remote = await createRemote();
    const project = await newProject();
    const kept = await pushImage(`${project}/app`, "v1");
    const gone = await pushImage(`${project}/app`, "v2", { seed: 2 });
    const policy = await createPolicy({ source: null, destination: await addRegistry(remote), filters: { repositories: `${project}/app` } });
    await runToEnd(policy.name);

    await deleteLocal(`${project}/app`, gone.digest);
    const execution = await runToEnd(policy.name);
    expect((await tasksOf(execution.id)).map((task) => task.operation)).toEqual(["copy"]);
    expect(await remoteTags(remote.id, `${project}/app`)).toEqual({ v1: kept.digest, v2: gone.digest });
  });
});

describe("the event trigger", QUEUED, () => {
  it("copies a push to Pier in an execution of one task", async () => {
    const remote = await createRemote();
    const project = await newProject();
    const policy = await createPolicy({ source: null, destination: await addRegistry(remote), filters: { repositories: `${project}/**`, tags: "v*" }, trigger: { type: "event" } });

    const image = await pushImage(`${project}/app`, "v1");
    const [execution] = await endedExecutions(policy.name, 1);
    expect(execution).toMatchObject({ trigger: "event", status: "succeeded", total: 1, succeeded: 1 });
    expect((await tasksOf(execution!.id))[0]).toMatchObject({ operation: "copy", sourceRepository: `${project}/app`, reference: "v1", digest: image.digest });
    expect(await remoteTags(remote.id, `${project}/app`)).toEqual({ v1: image.digest });
  });

  it("starts one execution per event and policy, however often the event is delivered", async () => {
    const remote = await createRemote();
    const project = await newProject();
    const policy = await createPolicy({ source: null, destination: await addRegistry(remote), filters: { repositories: `${project}/**` }, trigger: { type: "event" } });
    const image = await pushImage(`${project}/app`, "v1");
    await endedExecutions(policy.name, 1);
    // The same event again (a redelivered message), and a new event for the same push.
    const event = { type: "PUSH_ARTIFACT" as const, id: crypto.randomUUID(), repository: `${project}/app`, digest: image.digest, tag: "v1" };
    await startEventReplications(env, event, () => {});
    await startEventReplications(env, event, () => {});
    const executions = await endedExecutions(policy.name, 2);
    expect(executions).toHaveLength(2);
    // The second copy found everything there already.
    expect((await tasksOf(executions[0]!.id))[0]).toMatchObject({ status: "succeeded", blobsCopied: 0 });
  });

  it("starts nothing for a push its filters do not match", async () => {
    const remote = await createRemote();
    const project = await newProject();
    const policy = await createPolicy({ source: null, destination: await addRegistry(remote), filters: { repositories: `${project}/**`, tags: "v*" }, trigger: { type: "event" } });
    await pushImage(`${project}/app`, "dev");
    await pushImage(`${project}/app`, "v1", { seed: 2 });
    await eventsHandled(project);
    const executions = await endedExecutions(policy.name, 1);
    expect(executions.map((execution) => execution.total)).toEqual([1]);
    expect(Object.keys(await remoteTags(remote.id, `${project}/app`))).toEqual(["v1"]);
  });

  it("replicates a deletion in Pier only when the policy says so", async () => {
    const remote = await createRemote();
    const project = await newProject();
    const registry = await addRegistry(remote);
    const deleting = await createPolicy({ source: null, destination: registry, filters: { repositories: `${project}/app` }, trigger: { type: "event" }, replicateDeletion: true });
    const keeping = await createPolicy({ source: null, destination: registry, destinationNamespace: "kept", filters: { repositories: `${project}/app` }, trigger: { type: "event" } });

    const image = await pushImage(`${project}/app`, "v1");
    await endedExecutions(deleting.name, 1);
    await endedExecutions(keeping.name, 1);
    await deleteLocal(`${project}/app`, image.digest);
    const [deletion] = await endedExecutions(deleting.name, 2);
    expect((await tasksOf(deletion!.id))[0]).toMatchObject({ operation: "delete", status: "succeeded" });
    expect(await remoteTags(remote.id, `${project}/app`)).toEqual({});
    expect(await remoteTags(remote.id, `kept/${project}/app`)).toEqual({ v1: image.digest });
    // The keeping policy has only the push's execution.
    await eventsHandled(project);
    expect((await endedExecutions(keeping.name, 1)).map((execution) => execution.total)).toEqual([1]);
  });
});
