// Storage quotas per project (Harbor's project quotas): a local project's storage_limit_bytes
// (-1: none) bounds what its repositories hold, counted as the distinct digests they hold at
// their stored size (worker/storage/db/queries/quotas.ts). A digest several repositories of the
// project hold counts once, so mounting it within the project, or pushing it again, adds
// nothing. A push is checked before its bytes are stored where its size is known (monolithic
// pushes, manifests, mounts, chunks sent with Content-Range) and always before they are linked.
//
// Usage is never stored: it is computed from the rows that make content visible, so it is
// exact whatever happened (deletes, garbage collection, crashes between statements). The check
// and the write are separate statements, though: pushes running at once each see the usage
// before the others, and together may overshoot the limit by what they had in flight; the next
// push sees the true usage and is refused. A project without a limit pays only the read of its
// row, which the push needs anyway (worker/services/content-writes.ts), never the sum.
// A refusal is a QUOTA_EXCEED event (worker/events) for the project's webhooks.
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import { emitEvent } from "../events/events";
import type { Digest } from "../oci/digest";
import type { RepoName } from "../oci/names";
import { database } from "../storage/db/client";
import type { ProjectRow } from "../storage/db/queries/principals";
import { projectUsage } from "../storage/db/queries/quotas";

export interface StorageQuota {
  project: string;
  limitBytes: number;
}

/** The limit a write into the project obeys; null for none (no limit, a proxy project, no project). */
export function quotaOf(project: ProjectRow | null): StorageQuota | null {
  if (project === null || project.kind !== "local" || project.storageLimitBytes < 0) return null;
  return { project: project.name, limitBytes: project.storageLimitBytes };
}

/**
 * 403 DENIED when `size` bytes of `digest` would take the project over its limit. A digest the
 * project holds already adds nothing (and so is never refused, even over a lowered limit);
 * `digest` null: not known yet (an upload's chunk), counted as new bytes; `size` null: the
 * size the registry stores the digest at (a mount).
 */
export async function requireRoom(env: Bindings, quota: StorageQuota | null, digest: Digest | null, size: number | null, repository: RepoName): Promise<void> {
  if (quota === null) return;
  const usage = await projectUsage(database(env.DB), quota.project, digest);
  const adds = usage.held ? 0 : (size ?? usage.storedBytes ?? 0);
  if (adds === 0 || usage.usedBytes + adds <= quota.limitBytes) return;
  // Awaited (the refusal path has no waitUntil to hand it to); emitEvent never throws.
  await emitEvent(env, null, {
    type: "QUOTA_EXCEED",
    project: quota.project,
    data: { repository, digest, limitBytes: quota.limitBytes, usedBytes: usage.usedBytes, addsBytes: adds },
  });
  throw new RegistryError(
    "DENIED",
    `project "${quota.project}" would use ${usage.usedBytes + adds} bytes of its ${quota.limitBytes}-byte quota (${usage.usedBytes} used); ` +
      "delete images and collect garbage, or ask a system admin to raise the limit",
  );
}

/** What the project's repositories hold, in bytes, counted now. */
export async function storageUsedBytes(env: Bindings, project: string): Promise<number> {
  return (await projectUsage(database(env.DB), project, null)).usedBytes;
}
