// Helpers for the replication engine's tests (test/replication/policies-*, executions-*,
// runner-*): remote registries and policies made through the API, executions run through the
// real queues and polled (bounded) until they end, and "quiet" executions whose tasks are
// recorded and queued without any message, for tests that run the handlers themselves.
import { env } from "cloudflare:test";
import { expect } from "vitest";
import type { ExecutionView, TaskView } from "../../worker/services/management/replication-executions";
import type { PolicyView } from "../../worker/services/management/replication";
import { database } from "../../worker/storage/db/client";
import { insertExecution } from "../../worker/storage/db/queries/replication-executions";
import { dispatchWindow, findTaskContext, recordListing, type TaskContext } from "../../worker/storage/db/queries/replication-tasks";
import type { Remote } from "./fake-remote";
import { apiJson, unique } from "./management";
import { registerRemote } from "./remote-registries";

const db = database(env.DB);

/** For tests that wait on the queues: each hop waits for its batch (max_batch_timeout 1 s). */
export const QUEUED = { timeout: 30_000 };

/** Adds the fake remote as a remote registry (with the credentials it takes for pushes); its name. */
export function addRegistry(remote: Remote, type: "oci" | "dockerhub" | "pier" = "oci"): Promise<string> {
  return registerRemote(remote.url, { type });
}

/** A remote registry row that nothing is asked of (policy checks only): a port nothing listens on. */
export function idleRegistry(type: "oci" | "dockerhub" = "oci"): Promise<string> {
  return registerRemote("http://127.0.0.1:9", { type, credentials: null });
}

/** Creates a policy through the API (named uniquely unless the body names it). */
export function createPolicy(body: Record<string, unknown>): Promise<PolicyView> {
  return apiJson<PolicyView>("/replication/policies", { body: { name: unique("policy"), ...body } }, 201);
}

/** Starts a manual execution through the API. */
export function startRun(policy: string): Promise<ExecutionView> {
  return apiJson<ExecutionView>("/replication/executions", { body: { policy } }, 201);
}

export function executionOf(id: string): Promise<ExecutionView> {
  return apiJson<ExecutionView>(`/replication/executions/${id}`);
}

/**
 * Polls the execution until it is no longer running (the queues deliver asynchronously), at
 * most `boundMs`; `each` sees every state polled.
 */
export async function finished(id: string, boundMs = 30_000, each: (execution: ExecutionView) => void = () => {}): Promise<ExecutionView> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const execution = await executionOf(id);
    each(execution);
    if (execution.status !== "running") return execution;
    expect(Date.now(), `execution ${id} still running: ${JSON.stringify(execution)}`).toBeLessThan(deadline);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs the policy by hand and waits for the execution to end. */
export async function runToEnd(policy: string, boundMs?: number): Promise<ExecutionView> {
  return finished((await startRun(policy)).id, boundMs);
}

export async function tasksOf(id: string): Promise<TaskView[]> {
  return (await apiJson<{ items: TaskView[] }>(`/replication/executions/${id}/tasks?n=1000`)).items;
}

export interface QuietTask {
  repository: string;
  reference: string;
  operation?: "copy" | "delete";
  /** Where it lands; the repository itself unless given. */
  destination?: string;
}

/**
 * An execution of `policy` whose tasks are recorded and moved to queued (up to `window` of
 * them) without sending any message: the test runs the task handler itself.
 */
export async function quietExecution(policy: string, tasks: QuietTask[], window = tasks.length): Promise<{ executionId: string; taskIds: string[] }> {
  const executionId = crypto.randomUUID();
  await insertExecution(db, { id: executionId, policy, trigger: "manual", startedAt: Date.now() });
  const rows = tasks.map((task) => ({
    id: crypto.randomUUID(),
    operation: task.operation ?? "copy",
    sourceRepository: task.repository,
    destinationRepository: task.destination ?? task.repository,
    reference: task.reference,
    digest: null,
  }));
  await recordListing(db, executionId, rows);
  await dispatchWindow(db, executionId, window, Date.now());
  return { executionId, taskIds: rows.map((row) => row.id) };
}

/** The task's D1 row with its execution, as the handlers left them. */
export async function taskRow(id: string): Promise<TaskContext> {
  return (await findTaskContext(db, id))!;
}
