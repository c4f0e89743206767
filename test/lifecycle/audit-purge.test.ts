// worker/lifecycle/audit-purge.ts: audit records older than PIER_AUDIT_RETENTION_DAYS (180 by
// default) are deleted, recent ones stay, and one run deletes no more than its bounds allow.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Bindings } from "../../worker/env";
import { auditPurgeJob, purgeAuditLogs } from "../../worker/lifecycle/audit-purge";
import { database } from "../../worker/storage/db/client";
import { appendAudit } from "../../worker/storage/db/queries/audit";
import { unique } from "../helpers/identities";

const db = database(env.DB);
const DAY = 86_400_000;
const NOW = Date.now();

/** Records of a fresh action, `ages` days old each; returns the action. */
async function records(...ages: number[]): Promise<string> {
  const action = unique("test.purge");
  await appendAudit(
    db,
    ages.map((age, index) => ({ at: NOW - age * DAY, principal: "admin", action, resource: `r${index}`, project: null, result: "success" as const, ip: null })),
  );
  return action;
}

/** The resources of the action's records still there. */
async function left(action: string): Promise<string[]> {
  const rows = await env.DB.prepare("SELECT resource FROM audit_logs WHERE action = ? ORDER BY resource").bind(action).all<{ resource: string }>();
  return rows.results.map((row) => row.resource);
}

/** A run context for calling the job directly; counts runAgain. */
function run() {
  const asked = { again: 0 };
  return { asked, run: { name: "audit-purge", waitUntil: (promise: Promise<unknown>) => void promise, runAgain: () => void asked.again++ } };
}

describe("purgeAuditLogs", () => {
  it("deletes records older than the retention and keeps the rest", async () => {
    const action = await records(400, 181, 179, 1);
    const purge = await purgeAuditLogs(env, NOW);
    expect(purge).toMatchObject({ deleted: 2, complete: true, before: NOW - 180 * DAY });
    expect(await left(action)).toEqual(["r2", "r3"]);
  });

  it("keeps a record exactly at the retention boundary", async () => {
    const action = await records(180);
    await purgeAuditLogs(env, NOW);
    expect(await left(action)).toEqual(["r0"]);
  });

  it("follows PIER_AUDIT_RETENTION_DAYS", async () => {
    const action = await records(31, 29);
    const settings = { ...env, PIER_AUDIT_RETENTION_DAYS: "30" } as Bindings;
    await purgeAuditLogs(settings, NOW);
    expect(await left(action)).toEqual(["r1"]);
  });

  it("deletes no more than its bounds in one run, oldest first, and says it is not done", async () => {
    const action = await records(500, 400, 300, 200, 190);
    const first = await purgeAuditLogs(env, NOW, { pageSize: 2, maxPages: 2 });
    expect(first).toMatchObject({ deleted: 4, complete: false });
    expect(await left(action)).toEqual(["r4"]);
    expect(await purgeAuditLogs(env, NOW, { pageSize: 2, maxPages: 2 })).toMatchObject({ deleted: 1, complete: true });
    expect(await left(action)).toEqual([]);
  });
});

describe("the audit-purge job", () => {
  it("summarises what it deleted", async () => {
    await records(365);
    const { asked, run: context } = run();
    const summary = await auditPurgeJob(env, {}, NOW, context);
    expect(summary).toBe(`deleted 1 audit records older than ${new Date(NOW - 180 * DAY).toISOString()}`);
    expect(asked.again).toBe(0);
  });

  it("asks to run again when it stopped at its bounds (its options)", async () => {
    const action = await records(365, 366);
    const { asked, run: context } = run();
    const summary = await auditPurgeJob(env, { pageSize: 1, maxPages: 1 }, NOW, context);
    expect(summary).toMatch(/^deleted 1 audit records .* continuing in a minute/);
    expect(asked.again).toBe(1);
    expect(await left(action)).toEqual(["r0"]);
    await auditPurgeJob(env, {}, NOW, context);
  });

  it.each([
    ["a page size of 0", { pageSize: 0 }],
    ["a fractional page count", { maxPages: 1.5 }],
    ["a page count given as text", { maxPages: "20" }],
  ])("refuses %s, naming the option", async (_, options) => {
    await expect(auditPurgeJob(env, options, NOW, run().run)).rejects.toThrow(/option "(pageSize|maxPages)"/);
  });
});
