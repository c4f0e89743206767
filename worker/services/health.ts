// GET /healthz: whether this Pier can serve, for a load balancer, an uptime check or a person
// after a deploy. Three checks, each "ok" or "failed": the configuration parses (the secrets are
// set, PIER_UPSTREAMS is valid), D1 answers a query, R2 answers a read. The answer says which
// failed, never why: the reason (a setting's value, a binding's error) goes to the Worker's log,
// since the endpoint is public.
import { configFrom } from "../config";
import type { Bindings } from "../env";
import { pingDatabase } from "../storage/db/queries/health";
import { pingBucket } from "../storage/blob-store";

export type CheckResult = "ok" | "failed";

export interface Health {
  status: "ok" | "failing";
  checks: { config: CheckResult; database: CheckResult; storage: CheckResult };
}

export async function checkHealth(env: Bindings): Promise<Health> {
  const [config, database, storage] = await Promise.all([
    check("the configuration", async () => void configFrom(env)),
    check("D1", () => pingDatabase(env.DB)),
    check("R2", () => pingBucket(env.BLOBS)),
  ]);
  const checks = { config, database, storage };
  return { status: Object.values(checks).every((result) => result === "ok") ? "ok" : "failing", checks };
}

async function check(what: string, probe: () => Promise<void>): Promise<CheckResult> {
  try {
    await probe();
    return "ok";
  } catch (error) {
    console.error(`Pier health check: ${what} failed:`, error);
    return "failed";
  }
}
