// Replication executions through the API (POST/GET /api/v1/replication/executions, …/{id},
// …/{id}/tasks, …/{id}/stop): starting one by hand, what refuses a start, reading executions
// and their tasks page by page, stopping, and the dispatch window that bounds the copies in
// flight per execution.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DONE } from "../../worker/jobs/messages";
import { runReplicationTask } from "../../worker/replication/task-runner";
import type { ExecutionView, TaskView } from "../../worker/services/management/replication-executions";
import { database } from "../../worker/storage/db/client";
import { dispatchWindow, endTask } from "../../worker/storage/db/queries/replication-tasks";
import { createRemote } from "../helpers/fake-remote";
import { api, apiJson, auditOf, expectError, newUser, unique } from "../helpers/management";
import { expectNoServerErrors } from "../helpers/registry";
import { addRegistry, createPolicy, finished, idleRegistry, QUEUED, quietExecution, startRun, taskRow } from "../helpers/replication";

const db = database(env.DB);
const waitUntil = (promise: Promise<unknown>) => void promise;

expectNoServerErrors();

/** A pull policy from an idle registry: its executions here are quiet ones, run by nobody. */
async function idlePolicy(body: Record<string, unknown> = {}): Promise<string> {
  return (await createPolicy({ source: await idleRegistry(), filters: { repositories: "library/app" }, ...body })).name;
}

const tasks = (count: number) => Array.from({ length: count }, (_, index) => ({ repository: "library/app", reference: `v${index}` }));

describe("starting an execution by hand", () => {
  it("answers 201 with the running execution, audited; the queues list it and it ends", QUEUED, async () => {
    // An empty remote: the listing finds no tag, so the execution succeeds with no tasks.
    const policy = (await createPolicy({ source: await addRegistry(await createRemote()), filters: { repositories: "library/app" } })).name;
    const started = await startRun(policy);
    expect(started).toMatchObject({ policy, trigger: "manual", status: "running", total: 0, error: null, finishedAt: null });
    expect((await auditOf({ action: "replication.start" }))[0]).toMatchObject({ resource: `replication/${started.id}`, result: "success" });
    expect(await finished(started.id)).toMatchObject({ status: "succeeded", total: 0, succeeded: 0, failed: 0, inProgress: 0, finishedAt: expect.any(String) });
  });

  it("answers 404 for a policy that does not exist", async () => {
    await expectError(await api("/replication/executions", { body: { policy: unique("nosuch") } }), 404, "NAME_UNKNOWN");
  });

  it("answers 409 for a disabled policy, starting nothing", async () => {
    const policy = await idlePolicy({ enabled: false });
    await expectError(await api("/replication/executions", { body: { policy } }), 409, "CONFLICT");
    expect((await apiJson<{ items: ExecutionView[] }>(`/replication/executions?policy=${policy}`)).items).toEqual([]);
  });

  it("answers 409 while an execution of the policy is running", async () => {
    const policy = await idlePolicy();
    const { executionId } = await quietExecution(policy, tasks(1));
    const message = await expectError(await api("/replication/executions", { body: { policy } }), 409, "CONFLICT");
    expect(message).toContain(executionId);
  });

  for (const [what, body] of [
    ["without a policy", {}],
    ["with a policy that is not a string", { policy: 7 }],
    ["with an unknown field", { policy: "p", now: true }],
  ] as const) {
    it(`refuses a body ${what} with 400 INVALID_REQUEST`, async () => {
      await expectError(await api("/replication/executions", { body }), 400, "INVALID_REQUEST");
    });
  }

  it("is for system admins only: 403 for anyone else", async () => {
    const user = await newUser();
    const policy = await idlePolicy();
    await expectError(await api("/replication/executions", { body: { policy }, as: user }), 403, "DENIED");
    await expectError(await api("/replication/executions", { as: user }), 403, "DENIED");
  });
});

describe("reading executions", () => {
  it("lists a policy's executions newest first, with their task counts", async () => {
    const policy = await idlePolicy();
    const first = await quietExecution(policy, tasks(2));
    const second = await quietExecution(policy, tasks(3), 1);
    const { items } = await apiJson<{ items: ExecutionView[] }>(`/replication/executions?policy=${policy}`);
    expect(items.map((item) => item.id)).toEqual([second.executionId, first.executionId]);
    expect(items[0]).toMatchObject({ policy, trigger: "manual", status: "running", total: 3, succeeded: 0, failed: 0, stopped: 0, inProgress: 3 });
    expect((await apiJson<{ items: ExecutionView[] }>(`/replication/executions?policy=${policy}&n=1`)).items).toHaveLength(1);
  });

  it("shows one execution, and 404 for an id it does not know", async () => {
    const { executionId } = await quietExecution(await idlePolicy(), tasks(1));
    expect(await apiJson(`/replication/executions/${executionId}`)).toMatchObject({ id: executionId, total: 1, inProgress: 1, startedAt: expect.any(String) });
    await expectError(await api(`/replication/executions/${crypto.randomUUID()}`), 404, "NAME_UNKNOWN");
    await expectError(await api(`/replication/executions/${crypto.randomUUID()}/tasks`), 404, "NAME_UNKNOWN");
  });

  it("pages through the tasks in the order they were listed", async () => {
    const { executionId, taskIds } = await quietExecution(await idlePolicy(), tasks(5));
    const seen: TaskView[] = [];
    let next: string | null = null;
    do {
      const page: { items: TaskView[]; next: string | null } = await apiJson(`/replication/executions/${executionId}/tasks?n=2${next === null ? "" : `&next=${next}`}`);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      next = page.next;
    } while (next !== null);
    expect(seen.map((task) => task.id)).toEqual(taskIds);
    expect(seen[0]).toEqual({
      id: taskIds[0],
      operation: "copy",
      sourceRepository: "library/app",
      destinationRepository: "library/app",
      reference: "v0",
      digest: null,
      status: "queued",
      attempts: 0,
      bytesCopied: 0,
      blobsCopied: 0,
      blobsSkipped: 0,
      error: null,
      note: null,
      startedAt: expect.any(String),
      finishedAt: null,
    });
  });

  it("refuses a tasks cursor that no page gave with 400", async () => {
    const { executionId } = await quietExecution(await idlePolicy(), tasks(1));
    await expectError(await api(`/replication/executions/${executionId}/tasks?next=abc`), 400, "INVALID_REQUEST");
  });
});

describe("stopping an execution", () => {
  it("stops it and every task not yet running; a message arriving later copies nothing", async () => {
    const { executionId, taskIds } = await quietExecution(await idlePolicy(), tasks(3), 1);
    const stopped = await apiJson<ExecutionView>(`/replication/executions/${executionId}/stop`, { method: "POST" });
    expect(stopped).toMatchObject({ status: "stopped", total: 3, stopped: 3, inProgress: 0, finishedAt: expect.any(String) });
    expect((await auditOf({ action: "replication.stop" }))[0]).toMatchObject({ resource: `replication/${executionId}`, result: "success" });
    // The queued task's message arrives after the stop: acknowledged, nothing run.
    expect(await runReplicationTask(env, taskIds[0]!, 1, waitUntil)).toEqual(DONE);
    expect((await taskRow(taskIds[0]!)).task).toMatchObject({ status: "stopped", attempts: 0 });
  });

  it("answers 409 for an execution that is not running, and 404 for one it does not know", async () => {
    const { executionId } = await quietExecution(await idlePolicy(), tasks(1));
    await apiJson(`/replication/executions/${executionId}/stop`, { method: "POST" });
    await expectError(await api(`/replication/executions/${executionId}/stop`, { method: "POST" }), 409, "CONFLICT");
    await expectError(await api(`/replication/executions/${crypto.randomUUID()}/stop`, { method: "POST" }), 404, "NAME_UNKNOWN");
  });

  it("stops the running executions of a policy that is deleted", async () => {
    const policy = await idlePolicy();
    const { executionId } = await quietExecution(policy, tasks(2), 1);
    expect((await api(`/replication/policies/${policy}`, { method: "DELETE" })).status).toBe(204);
    expect(await apiJson(`/replication/executions/${executionId}`)).toMatchObject({ status: "stopped", stopped: 2 });
  });
});

describe("the dispatch window", () => {
  it("never has more than the policy's concurrency queued or running, and slides as tasks end", async () => {
    const { executionId, taskIds } = await quietExecution(await idlePolicy({ concurrency: 2 }), tasks(5), 0);
    const statuses = async () => Promise.all(taskIds.map(async (id) => (await taskRow(id)).task.status));

    expect((await dispatchWindow(db, executionId, 2, Date.now())).queued).toEqual(taskIds.slice(0, 2));
    expect((await dispatchWindow(db, executionId, 2, Date.now())).queued).toEqual([]);
    expect(await statuses()).toEqual(["queued", "queued", "pending", "pending", "pending"]);

    await db.$client.prepare("UPDATE replication_tasks SET status = 'running' WHERE id = ?").bind(taskIds[0]).run();
    await endTask(db, taskIds[0]!, { status: "succeeded", error: null }, Date.now());
    const slid = await dispatchWindow(db, executionId, 2, Date.now());
    expect(slid).toMatchObject({ queued: [taskIds[2]], finished: null });
    expect(await statuses()).toEqual(["succeeded", "queued", "queued", "pending", "pending"]);
  });

  it("finishes a listed execution when nothing is left: failed when a task failed", async () => {
    const policy = await idlePolicy();
    const { executionId, taskIds } = await quietExecution(policy, tasks(2));
    for (const [index, id] of taskIds.entries()) {
      await db.$client.prepare("UPDATE replication_tasks SET status = 'running' WHERE id = ?").bind(id).run();
      await endTask(db, id, index === 0 ? { status: "succeeded", error: null } : { status: "failed", error: "refused" }, Date.now());
    }
    expect((await dispatchWindow(db, executionId, 4, Date.now())).finished).toEqual({ id: executionId, policy, status: "failed" });
    // Only the call that finished it says so.
    expect((await dispatchWindow(db, executionId, 4, Date.now())).finished).toBeNull();
    expect(await apiJson(`/replication/executions/${executionId}`)).toMatchObject({ status: "failed", succeeded: 1, failed: 1, inProgress: 0 });
  });
});
