// How a copy fails and recovers (worker/replication/task-runner.ts): a remote's 429 slows the
// execution without spending attempts, 5xx answers are retried with backoff, refusals fail at
// once, the dead-letter queue records a task that ran out of retries, a redelivered message
// copies nothing twice, and a copy interrupted half way is finished by the next attempt with
// the blobs copied before skipped. Handlers are called directly on "quiet" executions (no
// message on any queue) except where the queues themselves are what is tested.
import { createExecutionContext, createMessageBatch, env, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index";
import { backoffSeconds, DONE, type ReplicationMessage } from "../../worker/jobs/messages";
import type { Endpoint } from "../../worker/replication/endpoint";
import { connectEndpoints } from "../../worker/replication/executions";
import { runReplicationTask, runTask } from "../../worker/replication/task-runner";
import { clearLog, createRemote, failNext, random, type Remote, remoteLog, seedImage } from "../helpers/fake-remote";
import { newProject } from "../helpers/identities";
import { apiJson } from "../helpers/management";
import { pushImage } from "../helpers/registry";
import { addRegistry, createPolicy, executionOf, finished, QUEUED, quietExecution, startRun, taskRow, tasksOf } from "../helpers/replication";

const waitUntil = (promise: Promise<unknown>) => void promise;

/** A remote with library/app:1.0 (`layers` layers), a project, a pull policy between them, and a quiet execution of its one task. */
async function pullTask(layers = 1): Promise<{ remote: Remote; project: string; policy: string; executionId: string; taskId: string }> {
  const remote = await createRemote();
  await seedImage(remote.id, "library/app", "1.0", { layers: Array.from({ length: layers }, () => random(2048)) });
  const project = await newProject();
  const policy = (await createPolicy({ source: await addRegistry(remote), destinationNamespace: project, filters: { repositories: "library/app" } })).name;
  const { executionId, taskIds } = await quietExecution(policy, [{ repository: "library/app", reference: "1.0", destination: `${project}/library/app` }]);
  return { remote, project, policy, executionId, taskId: taskIds[0]! };
}

describe("a remote's 429", QUEUED, () => {
  it("slows the execution: the copy waits for Retry-After and succeeds, without spending attempts", async () => {
    const remote = await createRemote();
    await seedImage(remote.id, "library/app", "1.0");
    const project = await newProject();
    const policy = await createPolicy({ source: await addRegistry(remote), destinationNamespace: project, filters: { repositories: "library/app" } });
    await failNext(remote.id, { method: "GET", path: /\/manifests\/1\.0/, status: 429, headers: { "Retry-After": "1" }, count: 2 });

    const execution = await finished((await startRun(policy.name)).id);
    expect(execution).toMatchObject({ status: "succeeded", succeeded: 1 });
    expect((await tasksOf(execution.id))[0]).toMatchObject({ status: "succeeded", attempts: 1, error: null });
    expect((await remoteLog(remote.id, { method: "GET" })).filter((entry) => entry.status === 429)).toHaveLength(2);
  });
});

describe("a failing attempt", () => {
  it("is retried with backoff after a 5xx, the reason kept, and the next attempt succeeds", async () => {
    const { remote, executionId, taskId } = await pullTask();
    await failNext(remote.id, { method: "GET", path: /\/manifests\//, status: 503 });
    expect(await runReplicationTask(env, taskId, 1, waitUntil)).toEqual({ kind: "retry", delaySeconds: backoffSeconds(1) });
    expect((await taskRow(taskId)).task).toMatchObject({ status: "queued", attempts: 1, error: expect.stringContaining("503") });
    expect(await executionOf(executionId)).toMatchObject({ status: "running", inProgress: 1 });

    expect(await runReplicationTask(env, taskId, 2, waitUntil)).toEqual(DONE);
    expect((await taskRow(taskId)).task).toMatchObject({ status: "succeeded", attempts: 2, error: null });
    expect(await executionOf(executionId)).toMatchObject({ status: "succeeded", succeeded: 1 });
  });

  it("fails at once when the remote refuses (no push credentials), naming the status", async () => {
    const remote = await createRemote();
    const project = await newProject();
    await pushImage(`${project}/app`, "v1");
    const anonymous = `anon-${crypto.randomUUID().slice(0, 8)}`;
    await apiJson("/registries", { body: { name: anonymous, url: remote.url, type: "oci" } }, 201);
    const policy = (await createPolicy({ source: null, destination: anonymous, filters: { repositories: `${project}/app` } })).name;
    const { executionId, taskIds } = await quietExecution(policy, [{ repository: `${project}/app`, reference: "v1" }]);

    expect(await runReplicationTask(env, taskIds[0]!, 1, waitUntil)).toEqual(DONE);
    expect((await taskRow(taskIds[0]!)).task).toMatchObject({ status: "failed", attempts: 1, error: expect.stringMatching(/40[13]/) });
    expect(await executionOf(executionId)).toMatchObject({ status: "failed", failed: 1 });
  });

  it("that ran out of retries is failed by the dead-letter queue with its last reason", async () => {
    const { remote, executionId, taskId } = await pullTask();
    await failNext(remote.id, { method: "GET", path: /\/manifests\//, status: 500 });
    await runReplicationTask(env, taskId, 1, waitUntil);

    const batch = createMessageBatch<ReplicationMessage>("pier-dead-letters", [{ id: taskId, timestamp: new Date(), attempts: 1, body: { kind: "replication-task", taskId } }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    await waitOnExecutionContext(ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([taskId]);
    expect((await taskRow(taskId)).task).toMatchObject({ status: "failed", error: expect.stringMatching(/500.*gave up after 1 attempts/) });
    expect(await executionOf(executionId)).toMatchObject({ status: "failed", failed: 1 });
  });
});

describe("a message delivered again", () => {
  it("copies nothing twice once its task succeeded", async () => {
    const { remote, taskId } = await pullTask();
    expect(await runReplicationTask(env, taskId, 1, waitUntil)).toEqual(DONE);
    const done = (await taskRow(taskId)).task;
    await clearLog(remote.id);
    expect(await runReplicationTask(env, taskId, 2, waitUntil)).toEqual(DONE);
    expect(await remoteLog(remote.id)).toEqual([]);
    expect((await taskRow(taskId)).task).toEqual(done);
  });

  it("finishes a copy interrupted half way, skipping the blobs stored before", async () => {
    const { taskId, executionId } = await pullTask(3);
    // The consumer "dies" after one blob: its destination refuses every blob after the first.
    const interrupted: typeof connectEndpoints = async (...args) => {
      const ends = await connectEndpoints(...args);
      let stored = 0;
      const destination = new Proxy(ends.destination, {
        get(target, property) {
          if (property !== "putBlob") return Reflect.get(target, property);
          const putBlob: Endpoint["putBlob"] = async (...call) => {
            if (stored++ >= 1) throw new Error("the consumer was killed");
            return target.putBlob(...call);
          };
          return putBlob;
        },
      });
      return { ...ends, destination };
    };
    expect(await runTask(env, taskId, 1, waitUntil, interrupted)).toEqual({ kind: "retry", delaySeconds: backoffSeconds(1) });
    expect((await taskRow(taskId)).task).toMatchObject({ status: "queued", error: "the consumer was killed" });

    expect(await runReplicationTask(env, taskId, 2, waitUntil)).toEqual(DONE);
    // One config and three layers: the one stored before is skipped, the others copied.
    expect((await taskRow(taskId)).task).toMatchObject({ status: "succeeded", attempts: 2, blobsSkipped: 1, blobsCopied: 3 });
    expect(await executionOf(executionId)).toMatchObject({ status: "succeeded" });
  });
});

describe("an execution's concurrency", QUEUED, () => {
  it("keeps at most that many copies queued or running while the queues work", async () => {
    const remote = await createRemote();
    for (const tag of ["1", "2", "3", "4", "5"]) await seedImage(remote.id, "library/app", tag);
    const project = await newProject();
    const policy = await createPolicy({ source: await addRegistry(remote), destinationNamespace: project, filters: { repositories: "library/app" }, concurrency: 2 });
    const { id } = await startRun(policy.name);
    let most = 0;
    const deadline = Date.now() + 30_000;
    while ((await executionOf(id)).status === "running") {
      const inFlight = (await tasksOf(id)).filter((task) => task.status === "queued" || task.status === "running").length;
      most = Math.max(most, inFlight);
      expect(inFlight).toBeLessThanOrEqual(2);
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await executionOf(id)).toMatchObject({ status: "succeeded", total: 5, succeeded: 5 });
    expect(most).toBeGreaterThan(0);
  });
});
