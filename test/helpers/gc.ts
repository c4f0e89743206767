// Garbage collection in tests: a run started through the API and driven to its end. The
// RegistryLock object runs one step per alarm; runDurableObjectAlarm runs the next one at once
// instead of waiting for the runtime to.
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { expect } from "vitest";
import type { GcRunView } from "../../worker/services/management/gc";
import { apiJson } from "./management";

export type { GcRunView };

export function registryLock() {
  return env.REGISTRY_LOCK.get(env.REGISTRY_LOCK.idFromName("gc"));
}

/** Starts a collection as admin and returns its id. */
export async function startGc(options: { dryRun?: boolean; deleteUntagged?: boolean } = {}): Promise<string> {
  const { id } = await apiJson<{ id: string }>("/system/gc", { body: options }, 202);
  return id;
}

/** Drives the run to its end (or until `deadlineMs` passes) and returns it as the API shows it. */
export async function finishGc(id: string, deadlineMs = 60_000): Promise<GcRunView> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const ran = await runDurableObjectAlarm(registryLock());
    const run = await apiJson<GcRunView>(`/system/gc/${id}`);
    if (run.status !== "running") return run;
    expect(Date.now(), `garbage collection ${id} did not finish`).toBeLessThan(deadline);
    // The runtime's own alarm is running the step: wait for it rather than spin.
    if (!ran) await scheduler.wait(5);
  }
}

/** A whole collection: started, driven to its end, and expected to succeed. */
export async function collect(options: { dryRun?: boolean; deleteUntagged?: boolean } = {}): Promise<GcRunView> {
  const run = await finishGc(await startGc(options));
  expect(run.status, run.error ?? "").toBe("succeeded");
  return run;
}

/** Rows of a table matching a digest, read straight from D1. */
export async function rowCount(table: "blobs" | "repository_blobs" | "manifests" | "manifest_references" | "gc_candidates", where = "1", ...params: unknown[]): Promise<number> {
  const row = await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`)
    .bind(...params)
    .first<{ n: number }>();
  return row!.n;
}

/** The R2 key a blob row names, or null (inline, or no row). */
export async function objectKeyOf(digest: string): Promise<string | null> {
  const row = await env.DB.prepare("SELECT object_key FROM blobs WHERE digest = ?").bind(digest).first<{ object_key: string | null }>();
  return row?.object_key ?? null;
}
