// Helpers for the cache eviction tests (test/lifecycle/cache-eviction*.test.ts): images pulled
// through an upstream, their cached_artifacts rows aged by a direct D1 write (as if the last
// pull had been long ago), and eviction run with an upstream's settings changed.
import { env } from "cloudflare:test";
import { expect } from "vitest";
import { configFrom } from "../../worker/config";
import { type CacheEviction, type EvictionBounds, evictCache } from "../../worker/lifecycle/cache-eviction";
import { flushCacheStats } from "../../worker/proxy/cache-stats";
import type { Upstream } from "../../worker/proxy/upstreams";
import { type SeededImage, seedImage, uniqueRepo } from "./fake-upstream";
import { bodyBytes, request } from "./registry";

export const DAY = 86_400_000;

/** A configured upstream's settings, with some changed (maxBytes, maxIdleDays, even its name). */
export function upstream(name: string, changes: Partial<Upstream> = {}): Upstream {
  const configured = configFrom(env).upstreams.find((candidate) => candidate.name === name);
  if (configured === undefined) throw new Error(`no upstream "${name}" in the tests' PIER_UPSTREAMS`);
  return { ...configured, ...changes };
}

/** Seeds an image (one 1 KiB layer) on the fake upstreams and pulls all of it through `via`. */
export async function cachedImage(via: string, tag = "1.0"): Promise<{ repo: string; image: SeededImage; bytes: number }> {
  const repo = uniqueRepo();
  const image = await seedImage(repo, tag);
  const manifest = await request(`/v2/${via}/${repo}/manifests/${tag}`);
  expect(manifest.status).toBe(200);
  await bodyBytes(manifest);
  for (const blob of [image.config, ...image.layers]) {
    const response = await request(`/v2/${via}/${repo}/blobs/${blob.digest}`);
    expect(response.status).toBe(200);
    await bodyBytes(response);
  }
  const bytes = image.manifestBytes.byteLength + [image.config, ...image.layers].reduce((sum, blob) => sum + blob.bytes.byteLength, 0);
  return { repo, image, bytes };
}

/**
 * Writes the pull records every isolate still holds (about a second behind otherwise): this
 * one's, and the Worker's, which the statistics API flushes before it reads.
 */
export async function flushPulls(): Promise<void> {
  await flushCacheStats(env);
  const response = await request("/api/v1/cache/stats?artifacts=0");
  expect(response.status).toBe(200);
  await response.body?.cancel();
}

/** Makes the repository's cached artifacts look last pulled at `at` (ms). */
export async function lastPulled(upstreamName: string, repo: string, at: number): Promise<void> {
  await flushPulls();
  const { meta } = await env.DB.prepare("UPDATE cached_artifacts SET last_pulled_at = ?1 WHERE upstream = ?2 AND repository = ?3").bind(at, upstreamName, repo).run();
  expect(meta.changes).toBeGreaterThan(0);
}

/** Runs eviction over the given upstreams' settings, now. */
export async function evict(upstreams: Upstream[], bounds?: EvictionBounds): Promise<CacheEviction> {
  await flushPulls();
  return evictCache(env, upstreams, Date.now(), bounds);
}

/** The digests cached_artifacts records for the repository. */
export async function cachedDigests(upstreamName: string, repo: string): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT digest FROM cached_artifacts WHERE upstream = ? AND repository = ? ORDER BY digest")
    .bind(upstreamName, repo)
    .all<{ digest: string }>();
  return results.map((row) => row.digest);
}

/** Rows the cache name `<upstream>/<repo>` has in a table keyed by repository. */
export async function cacheRows(table: "repository_blobs" | "manifests" | "manifest_references" | "cache_references", cacheName: string): Promise<number> {
  const row = await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE repository = ?`).bind(cacheName).first<{ n: number }>();
  return row!.n;
}
