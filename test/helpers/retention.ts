// Retention in tests: policies set and runs started through the API (as admin unless told),
// and the facts a test checks afterwards, read from the registry or straight from D1.
import { env } from "cloudflare:test";
import type { RetentionRunDetail } from "../../worker/services/management/retention";
import { apiJson, type Caller } from "./management";
import { request } from "./registry";

export type { RetentionRunDetail };

const ALL = { include: ["**"], exclude: [] };

/** A rule seeing every repository and tag (and untagged artifacts), with `fields` on top. */
export function rule(template: string, n: number | null, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { template, ...(n !== null && { n }), repositories: ALL, tags: ALL, untagged: true, ...fields };
}

export async function setPolicy(project: string, rules: unknown[], schedule: string | null = null, as: Caller = "admin"): Promise<Record<string, unknown>> {
  return apiJson(`/projects/${project}/retention`, { method: "PUT", body: { rules, schedule }, as });
}

/** A run started through the API, finished, with its items. */
export async function runNow(project: string, dryRun: boolean, as: Caller = "admin"): Promise<RetentionRunDetail> {
  return apiJson<RetentionRunDetail>(`/projects/${project}/retention/runs`, { body: { dryRun }, as }, 201);
}

/** The digests a run listed, sorted. */
export function digestsOf(run: RetentionRunDetail): string[] {
  return run.items.map((item) => item.digest).sort();
}

/** HEAD of a manifest: 200 while the repository holds it, 404 once it is gone. */
export async function manifestStatus(repository: string, reference: string): Promise<number> {
  const response = await request(`/v2/${repository}/manifests/${reference}`, { method: "HEAD" });
  await response.arrayBuffer();
  return response.status;
}

/** Sets a manifest's push time, so that "most recently pushed" does not depend on the test's timing. */
export async function setPushedAt(repository: string, digest: string, at: number): Promise<void> {
  await env.DB.prepare("UPDATE manifests SET pushed_at = ? WHERE repository = ? AND digest = ?").bind(at, repository, digest).run();
}
