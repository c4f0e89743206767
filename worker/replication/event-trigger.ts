// Event-triggered replication (issue 11, "Triggers"): a push or a deletion in this Pier starts an
// execution of every enabled push-mode policy with an "event" trigger whose filters match it.
// Called by the event dispatcher (worker/events/dispatch.ts) for PUSH_ARTIFACT and
// DELETE_ARTIFACT events.
//
// - An execution of exactly one task, recorded as listed (no listing): a copy of the pushed tag,
//   or of the digest for a push by digest; for a deletion, a delete of the tag (or digest) at the
//   destination, only when the policy replicates deletions.
// - The tag filter applies to a push or deletion by tag; one by digest matches any tag filter
//   (its tags are not known). The artifact-type filter is the copy's to check (copy-artifact.ts).
// - One execution per event and policy (the unique (policy, event_id) index): a redelivered
//   event starts nothing twice.
import type { Bindings, WaitUntil } from "../env";
import { database } from "../storage/db/client";
import { insertEventExecution } from "../storage/db/queries/replication-executions";
import { eventPolicies } from "../storage/db/queries/replication-policies";
import { dispatch } from "./executions";
import { destinationRepository, policySpec, repositoryMatches, tagMatches } from "./policies";

export interface ReplicationEvent {
  type: "PUSH_ARTIFACT" | "DELETE_ARTIFACT";
  id: string;
  repository: string;
  digest: string | null;
  tag: string | null;
}

export async function startEventReplications(env: Bindings, event: ReplicationEvent, _waitUntil: WaitUntil): Promise<void> {
  const reference = event.tag ?? event.digest;
  if (reference === null) return;
  const db = database(env.DB);
  const now = Date.now();
  for (const row of await eventPolicies(db)) {
    const policy = policySpec(row);
    if (!repositoryMatches(policy, event.repository)) continue;
    if (event.tag !== null && !tagMatches(policy, event.tag)) continue;
    if (event.type === "DELETE_ARTIFACT" && !policy.replicateDeletion) continue;
    const executionId = crypto.randomUUID();
    const started = await insertEventExecution(
      db,
      { id: executionId, policy: policy.name, trigger: "event", startedAt: now, eventId: event.id },
      {
        id: crypto.randomUUID(),
        operation: event.type === "DELETE_ARTIFACT" ? "delete" : "copy",
        sourceRepository: event.repository,
        destinationRepository: destinationRepository(policy, event.repository),
        reference,
        digest: event.digest,
      },
    );
    if (started) await dispatch(env, executionId, policy.concurrency, now);
  }
}
