// Cache pre-warming (POST /api/v1/cache/prefetch): the JOBS queue consumer fetches an image,
// one platform or all, through the same paths a pull takes (manifest cache, BlobFill), so a
// prefetch and a concurrent pull of the same blob still make one upstream request.
import { configFrom } from "../config";
import type { Bindings, WaitUntil } from "../env";
import { RegistryError } from "../errors";
import type { Digest } from "../oci/digest";
import { parseManifest } from "../oci/manifest";
import { parseReference } from "../oci/names";
import { readManifestBody } from "../services/manifests";
import { database } from "../storage/db/client";
import { findPrefetchJob, updatePrefetchJob } from "../storage/db/queries/prefetch-jobs";
import { ensureProxiedBlob } from "../proxy/blob-cache";
import { getProxiedManifest } from "../proxy/manifest-cache";
import { proxyTarget, type ProxyTarget } from "../proxy/routing";

/** `os/architecture[/variant]`, as `docker pull --platform` spells it. */
export const PLATFORM = /^[a-z0-9_.-]+\/[a-z0-9_.-]+(?:\/[a-z0-9_.-]+)?$/;

/** Runs one job. On its last delivery an unexpected error is recorded instead of retried. */
export async function runPrefetch(env: Bindings, waitUntil: WaitUntil, jobId: string, lastAttempt: boolean): Promise<void> {
  const db = database(env.DB);
  const job = await findPrefetchJob(db, jobId);
  // Redelivered after it finished (queues deliver at least once): nothing to do.
  if (job === null || job.status === "done" || job.status === "failed") return;
  await updatePrefetchJob(db, jobId, { status: "running" });
  try {
    const upstream = configFrom(env).upstreams.find((candidate) => candidate.name === job.upstream);
    if (upstream === undefined) throw new RegistryError("NAME_UNKNOWN", `upstream ${job.upstream} is no longer configured`);
    const target = proxyTarget(upstream, job.repository);
    const images = await imageManifests(env, waitUntil, target, job.reference, job.platform);
    await updatePrefetchJob(db, jobId, { manifestsDone: images.length });
    const blobs = [...new Set(images.flatMap((image) => image.blobs.filter((blob) => blob.urls === undefined).map((blob) => blob.digest)))];
    await updatePrefetchJob(db, jobId, { blobsTotal: blobs.length });
    for (const digest of blobs) {
      const { fetched } = await ensureProxiedBlob(env, waitUntil, target, digest);
      await updatePrefetchJob(db, jobId, { blobsDone: 1, bytesFetched: fetched });
    }
    await updatePrefetchJob(db, jobId, { status: "done" });
  } catch (error) {
    if (!(error instanceof RegistryError) && !lastAttempt) throw error; // unexpected: let the queue retry
    await updatePrefetchJob(db, jobId, { status: "failed", error: (error as Error).message });
  }
}

/** The image manifests to warm: the reference itself, or the index's children for the platform. */
async function imageManifests(env: Bindings, waitUntil: WaitUntil, target: ProxyTarget, reference: string, platform: string | null) {
  const top = await fetchManifest(env, waitUntil, target, reference);
  if (top.parsed.kind === "image") return [top.parsed];
  const wanted = top.children.filter((child) => platform === null || platformMatches(child.platform, platform));
  if (wanted.length === 0) throw new RegistryError("MANIFEST_UNKNOWN", `${reference} has no manifest for platform ${platform}`);
  const children = [];
  for (const child of wanted) children.push((await fetchManifest(env, waitUntil, target, child.digest)).parsed);
  return children.filter((child) => child.kind === "image");
}

async function fetchManifest(env: Bindings, waitUntil: WaitUntil, target: ProxyTarget, reference: string) {
  const manifest = await getProxiedManifest(env, waitUntil, target, parseReference(reference), true);
  const bytes = await readManifestBody(manifest.body, manifest.size);
  const parsed = parseManifest(bytes, manifest.mediaType);
  // parseManifest keeps descriptors only; the platforms of an index's children are read here.
  const json = JSON.parse(new TextDecoder().decode(bytes)) as { manifests?: { digest: Digest; platform?: Platform }[] };
  const children = parsed.kind === "index" ? (json.manifests ?? []).map((child) => ({ digest: child.digest, platform: child.platform ?? null })) : [];
  return { parsed, children };
}

interface Platform {
  os?: string;
  architecture?: string;
  variant?: string;
}

function platformMatches(platform: Platform | null, wanted: string): boolean {
  const [os, architecture, variant] = wanted.split("/");
  return platform !== null && platform.os === os && platform.architecture === architecture && (variant === undefined || platform.variant === variant);
}
