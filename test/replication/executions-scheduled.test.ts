// Replication on the scheduler (worker/replication/scheduled.ts): a scheduled policy's job
// ("replication:<policy>") starts an execution unless one is running or the policy is
// disabled, and the sweep ("replication-sweep") sends again what a lost message left behind.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JobRun } from "../../worker/lifecycle/scheduled-jobs";
import { runDueSchedules } from "../../worker/lifecycle/scheduler";
import { replicationJob, replicationSweepJob, STALE_MS } from "../../worker/replication/scheduled";
import type { ExecutionView } from "../../worker/services/management/replication-executions";
import { database } from "../../worker/storage/db/client";
import { insertExecution } from "../../worker/storage/db/queries/replication-executions";
import { putSchedule } from "../../worker/storage/db/queries/schedules";
import { createRemote, seedImage } from "../helpers/fake-remote";
import { newProject } from "../helpers/identities";
import { apiJson } from "../helpers/management";
import { addRegistry, createPolicy, finished, idleRegistry, QUEUED, quietExecution } from "../helpers/replication";

const db = database(env.DB);
const waitUntil = (promise: Promise<unknown>) => void promise;

function run(policy: string): JobRun {
  return { name: `replication:${policy}`, waitUntil, runAgain: () => {} };
}

async function executionsOf(policy: string): Promise<ExecutionView[]> {
  return (await apiJson<{ items: ExecutionView[] }>(`/replication/executions?policy=${policy}`)).items;
}

/** A pull policy from a remote holding library/app:1.0 into a new project. */
async function mirror(body: Record<string, unknown> = {}): Promise<{ policy: string; project: string }> {
  const remote = await createRemote();
  await seedImage(remote.id, "library/app", "1.0");
  const project = await newProject();
  const policy = await createPolicy({ source: await addRegistry(remote), destinationNamespace: project, filters: { repositories: "library/app" }, ...body });
  return { policy: policy.name, project };
}

describe("a scheduled policy's job", QUEUED, () => {
  it("runs when its schedule is due, starting an execution that copies", async () => {
    const { policy } = await mirror({ trigger: { type: "scheduled", cron: "daily" } });
    const now = Date.now();
    await putSchedule(db, { name: `replication:${policy}`, cron: "daily", nextRunAt: now - 60_000 });
    const outcomes = await runDueSchedules(env, now, waitUntil);
    expect(outcomes).toContainEqual({ name: `replication:${policy}`, result: expect.stringMatching(/^ok: started execution /) });
    const [execution] = await executionsOf(policy);
    expect(await finished(execution!.id)).toMatchObject({ trigger: "scheduled", status: "succeeded", total: 1, succeeded: 1 });
  });

  it("starts none while an execution of the policy runs, nor for a disabled policy", async () => {
    const policy = (await createPolicy({ source: await idleRegistry(), filters: { repositories: "library/app" }, trigger: { type: "scheduled", cron: "hourly" } })).name;
    const { executionId } = await quietExecution(policy, [{ repository: "library/app", reference: "1.0" }]);
    expect(await replicationJob(env, {}, Date.now(), run(policy))).toContain(`execution ${executionId} of policy "${policy}" is still running`);

    const disabled = (await createPolicy({ source: await idleRegistry(), trigger: { type: "scheduled", cron: "hourly" }, enabled: false })).name;
    expect(await replicationJob(env, {}, Date.now(), run(disabled))).toContain("disabled");
    expect(await executionsOf(disabled)).toEqual([]);
  });

  it("fails, saying so, for a schedule whose policy is gone", async () => {
    await expect(replicationJob(env, {}, Date.now(), run("nosuch-policy"))).rejects.toThrow(/no replication policy is named "nosuch-policy"/);
  });
});

describe("the sweep", QUEUED, () => {
  it("sends again the message of a task queued too long ago, and the execution finishes", async () => {
    const { policy, project } = await mirror();
    const { executionId, taskIds } = await quietExecution(policy, [{ repository: "library/app", reference: "1.0", destination: `${project}/library/app` }]);
    const now = Date.now();
    await env.DB.prepare("UPDATE replication_tasks SET started_at = ? WHERE id = ?").bind(now - STALE_MS - 1, taskIds[0]).run();
    await env.DB.prepare("UPDATE replication_executions SET started_at = ? WHERE id = ?").bind(now - STALE_MS - 1, executionId).run();

    expect(await replicationSweepJob(env, {}, now, run("sweep"))).toContain("re-sent 1 task(s)");
    expect(await finished(executionId)).toMatchObject({ status: "succeeded", succeeded: 1 });
  });

  it("sends again the listing of an execution never listed", async () => {
    const { policy } = await mirror();
    const now = Date.now();
    const id = crypto.randomUUID();
    await insertExecution(db, { id, policy, trigger: "manual", startedAt: now - STALE_MS - 1 });

    expect(await replicationSweepJob(env, {}, now, run("sweep"))).toContain("listed 1 execution(s) again");
    expect(await finished(id)).toMatchObject({ status: "succeeded", total: 1, succeeded: 1 });
  });

  it("leaves recent executions alone", async () => {
    const { policy } = await mirror();
    const { taskIds } = await quietExecution(policy, [{ repository: "library/app", reference: "1.0" }]);
    expect(await replicationSweepJob(env, {}, Date.now(), run("sweep"))).not.toContain("re-sent 1");
    expect((await db.$client.prepare("SELECT status FROM replication_tasks WHERE id = ?").bind(taskIds[0]).first())?.status).toBe("queued");
  });
});
