// What authorisation needs to know of a project (kind, public), remembered per isolate for a
// few seconds: every registry request asks, and a pull served from the isolate's manifest memo
// (worker/proxy/manifest-memo.ts) should not wait for D1 just to learn that a project is still
// public. A change made through this isolate (PATCH /api/v1/projects/…) applies at once here;
// other isolates follow within FACTS_TTL_MS, well inside a token's own lifetime (the access a
// token carries was decided when it was issued). Only existing projects are remembered: a
// project created elsewhere is seen by the next request.
import type { Bindings } from "../env";
import { expiringMapsBy } from "../expiring-map";
import { database } from "../storage/db/client";
import { findProject } from "../storage/db/queries/principals";
import type { ProjectFacts } from "./permissions";

const FACTS_TTL_MS = 10_000;

/** The permission table's facts, and when the project last stopped being public (ms, or null). */
export type ProjectState = ProjectFacts & { restrictedAt: number | null };

const rememberedFor = expiringMapsBy<D1Database, ProjectState>(10_000);

/** The project's facts; null when there is no such project. */
export async function projectFacts(env: Bindings, name: string): Promise<ProjectState | null> {
  const remembered = rememberedFor(env.DB);
  const hit = remembered.get(name);
  if (hit !== undefined) return hit;
  const row = await findProject(database(env.DB), name);
  if (row === null) return null;
  const facts: ProjectState = { kind: row.kind, public: row.public, restrictedAt: row.restrictedAt };
  remembered.set(name, facts, Date.now() + FACTS_TTL_MS);
  return facts;
}

/** Forgets what this isolate remembers of a project that just changed. */
export function forgetProjectFacts(env: Bindings, name: string): void {
  rememberedFor(env.DB).delete(name);
}
