// Writes that the hot path must not wait for (cache statistics, audit records, pull counts): each
// isolate collects them in memory and writes them in one batch, off the response path. The
// request that adds the first item after a write schedules the next write a second later, and
// waitUntil keeps that write alive after the answer. So D1 sees one batch per isolate per
// second, not one statement per pull; an isolate that dies loses at most its last second.
// Reading what was written flushes the reading isolate first (flush()), so a client that pulls
// and then reads the statistics or the audit log through the same isolate sees its own pull.
import type { Bindings, WaitUntil } from "../env";

const FLUSH_INTERVAL_MS = 1_000;

export interface DeferredWrites<P> {
  /** This isolate's unwritten items, to add to; the first addition after a write schedules the next. */
  pending(env: Bindings, waitUntil: WaitUntil): P;
  /** Writes this isolate's pending items now, and waits for a write already under way. */
  flush(env: Bindings): Promise<void>;
}

/**
 * `empty` makes a fresh collection, `isEmpty` says whether there is anything to write, `write`
 * writes one collection to D1 (it owns the collection from then on); `what` names it in logs.
 */
export function deferredWrites<P>(what: string, empty: () => P, isEmpty: (pending: P) => boolean, write: (env: Bindings, pending: P) => Promise<void>): DeferredWrites<P> {
  // Per database: the tests' and the bench's Workers each have their own.
  const byDatabase = new WeakMap<D1Database, P>();
  // The write under way per database, so that a flush waits for one the timer started a moment
  // earlier too: a reader, which flushes first, never misses items already taken out of memory.
  const writing = new WeakMap<D1Database, Promise<void>>();
  const flush = async (env: Bindings): Promise<void> => {
    const pending = byDatabase.get(env.DB);
    byDatabase.delete(env.DB);
    // An earlier write's failure is reported to (and logged by) whoever started it.
    const earlier = (writing.get(env.DB) ?? Promise.resolve()).catch(() => {});
    if (pending === undefined || isEmpty(pending)) return earlier;
    const current = earlier.then(() => write(env, pending));
    writing.set(env.DB, current);
    try {
      await current;
    } finally {
      if (writing.get(env.DB) === current) writing.delete(env.DB);
    }
  };
  return {
    pending(env, waitUntil) {
      let pending = byDatabase.get(env.DB);
      if (pending === undefined) {
        pending = empty();
        byDatabase.set(env.DB, pending);
        const later = scheduler.wait(FLUSH_INTERVAL_MS).then(() => flush(env));
        waitUntil(later.catch((error) => console.error(`writing ${what} failed`, error)));
      }
      return pending;
    },
    flush,
  };
}
