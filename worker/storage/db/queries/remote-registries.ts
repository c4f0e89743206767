// Remote registries (POST /api/v1/registries): the other ends of replication. The credentials
// column holds a sealed value (worker/auth/sealed.ts), never a password.
import { and, asc, eq, notExists, or } from "drizzle-orm";
import type { Database } from "../client";
import { remoteRegistries, replicationPolicies } from "../schema";

export type RemoteRegistryRow = typeof remoteRegistries.$inferSelect;

export async function findRemoteRegistry(db: Database, name: string): Promise<RemoteRegistryRow | null> {
  const rows = await db.select().from(remoteRegistries).where(eq(remoteRegistries.name, name)).limit(1);
  return rows[0] ?? null;
}

/** Every remote registry by name: they are configured by hand, so few (no paging). */
export async function listRemoteRegistries(db: Database): Promise<RemoteRegistryRow[]> {
  return db.select().from(remoteRegistries).orderBy(asc(remoteRegistries.name));
}

/** Inserts the registry; null when the name is taken. */
export async function insertRemoteRegistry(db: Database, row: RemoteRegistryRow): Promise<RemoteRegistryRow | null> {
  const rows = await db.insert(remoteRegistries).values(row).onConflictDoNothing({ target: remoteRegistries.name }).returning();
  return rows[0] ?? null;
}

/** What PATCH changes; `credentials` null removes them, undefined keeps them. */
export type RemoteRegistryChange = Partial<Pick<RemoteRegistryRow, "url" | "type" | "credentials">> & { updatedAt: number };

/**
 * Applies the change when the row is still the one read at `seenUpdatedAt` (a concurrent PATCH
 * in between would otherwise be silently overwritten with a value sealed for an older state);
 * null when it is gone or was changed meanwhile.
 */
export async function updateRemoteRegistry(db: Database, name: string, seenUpdatedAt: number, change: RemoteRegistryChange): Promise<RemoteRegistryRow | null> {
  const rows = await db
    .update(remoteRegistries)
    .set(change)
    .where(and(eq(remoteRegistries.name, name), eq(remoteRegistries.updatedAt, seenUpdatedAt)))
    .returning();
  return rows[0] ?? null;
}

/**
 * Deletes the registry unless a replication policy names it (as source or destination), in one
 * statement, so that a policy created meanwhile is never left pointing at nothing. False when
 * nothing was deleted: it does not exist, or a policy names it (policiesNaming says which).
 */
export async function deleteUnusedRemoteRegistry(db: Database, name: string): Promise<boolean> {
  const naming = db.select({ name: replicationPolicies.name }).from(replicationPolicies).where(namesRegistry(name));
  const rows = await db
    .delete(remoteRegistries)
    .where(and(eq(remoteRegistries.name, name), notExists(naming)))
    .returning({ name: remoteRegistries.name });
  return rows.length > 0;
}

/** The replication policies that replicate from or to the registry, at most `limit`. */
export async function policiesNaming(db: Database, name: string, limit: number): Promise<string[]> {
  const rows = await db
    .select({ name: replicationPolicies.name })
    .from(replicationPolicies)
    .where(namesRegistry(name))
    .orderBy(asc(replicationPolicies.name))
    .limit(limit);
  return rows.map((row) => row.name);
}

/** A policy replicates from or to the registry. */
function namesRegistry(name: string) {
  return or(eq(replicationPolicies.source, name), eq(replicationPolicies.destination, name));
}
