// One drizzle handle per D1 binding. Building it is cheap, but the hot paths run thousands of
// times a second, so each isolate keeps the one it made.
import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Database = DrizzleD1Database<typeof schema> & { $client: D1Database };

const handles = new WeakMap<D1Database, Database>();

/** D1 binds at most 100 parameters per statement: runs `lookup` over slices of `values`. */
export async function inBatches<T>(values: T[], lookup: (slice: T[]) => Promise<T[]>): Promise<Set<T>> {
  const found = new Set<T>();
  for (let start = 0; start < values.length; start += 90) {
    for (const value of await lookup(values.slice(start, start + 90))) found.add(value);
  }
  return found;
}

export function database(d1: D1Database): Database {
  let handle = handles.get(d1);
  if (!handle) {
    handle = drizzle(d1, { schema });
    handles.set(d1, handle);
  }
  return handle;
}

/**
 * A plain D1 statement, for the conditional writes drizzle cannot batch: its batch() has no
 * prepared statement for raw SQL with parameters. Run them with `d1Batch`; a statement's rows
 * come back as objects keyed by column name.
 */
export function statement(db: Database, text: string, ...params: unknown[]): D1PreparedStatement {
  return db.$client.prepare(text).bind(...params);
}

/** Runs statements in one D1 batch (one transaction) and returns each one's rows. */
export async function d1Batch(db: Database, statements: D1PreparedStatement[]): Promise<Record<string, unknown>[][]> {
  const results = await db.$client.batch<Record<string, unknown>>(statements);
  return results.map((result) => result.results ?? []);
}
