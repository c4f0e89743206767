// The job "event-outbox" (every minute, worker/lifecycle/scheduled-jobs.ts): sends again the
// outbox rows left behind for more than STRANDED_AFTER_MS. A row normally lives for the seconds
// between its write and its handler (worker/events/dispatch.ts), which deletes it; one still there
// a minute later lost its queue message (the send failed, the isolate ended before waitUntil
// ran) or its handler kept failing. Re-sending one whose message is merely late is harmless: the
// handler is idempotent, and the first to finish deletes the row.
import { database } from "../storage/db/client";
import { claimStrandedEvents } from "../storage/db/queries/events";
import type { ScheduledJob } from "../lifecycle/scheduled-jobs";

export const STRANDED_AFTER_MS = 60_000;
/** Rows per run: one sendBatch (Queues take at most 100 messages per batch). */
const MAX_PER_RUN = 100;

export const outboxSweepJob: ScheduledJob = async (env, _options, now, run) => {
  const ids = await claimStrandedEvents(database(env.DB), now - STRANDED_AFTER_MS, now, MAX_PER_RUN);
  if (ids.length === 0) return "no stranded events";
  await env.JOBS.sendBatch(ids.map((eventId) => ({ body: { kind: "event", eventId } })));
  // A backlog larger than one batch continues within a minute rather than at the next time.
  if (ids.length === MAX_PER_RUN) run.runAgain();
  return `re-sent ${ids.length} stranded event${ids.length === 1 ? "" : "s"}`;
};
