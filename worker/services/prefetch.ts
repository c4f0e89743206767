// Prefetch jobs: a request to warm the cache with an image, queued for the JOBS consumer
// (worker/jobs/prefetch.ts) and followed through the API.
import type { Config } from "../config";
import type { Bindings } from "../env";
import { RegistryError } from "../errors";
import type { RepoName } from "../oci/names";
import { PLATFORM } from "../jobs/prefetch";
import { proxyTarget } from "../proxy/routing";
import { database } from "../storage/db/client";
import { createPrefetchJob, findPrefetchJob, type PrefetchJob, recentPrefetchJobs } from "../storage/db/queries/prefetch-jobs";

export interface PrefetchView {
  id: string;
  upstream: string;
  repository: string;
  reference: string;
  platform: string | null;
  status: PrefetchJob["status"];
  progress: { manifests: number; blobsDone: number; blobsTotal: number; bytesFetched: number };
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

const RECENT_JOBS = 100;

export async function enqueuePrefetch(
  env: Bindings,
  config: Config,
  request: { upstream: string; repository: RepoName; reference: string; platform: string | null },
): Promise<PrefetchView> {
  const upstream = config.upstreams.find((candidate) => candidate.name === request.upstream);
  if (upstream === undefined) throw new RegistryError("NAME_UNKNOWN", `no upstream is named "${request.upstream}"`);
  if (request.platform !== null && !PLATFORM.test(request.platform)) {
    throw new RegistryError("INVALID_REQUEST", `"platform" must look like "linux/amd64" or "linux/arm/v7", got "${request.platform}"`);
  }
  // Normalised and checked against the allow list now, so a refused name is refused at once.
  const target = proxyTarget(upstream, request.repository);
  const job = await createPrefetchJob(database(env.DB), {
    id: crypto.randomUUID(),
    upstream: upstream.name,
    repository: target.repository,
    reference: request.reference,
    platform: request.platform,
  });
  await env.JOBS.send({ kind: "prefetch", jobId: job.id });
  return view(job);
}

export async function prefetchJob(env: Bindings, id: string): Promise<PrefetchView> {
  const job = await findPrefetchJob(database(env.DB), id);
  if (job === null) throw new RegistryError("NAME_UNKNOWN", `no prefetch job has id "${id.slice(0, 64)}"`, { status: 404 });
  return view(job);
}

export async function recentPrefetches(env: Bindings): Promise<PrefetchView[]> {
  return (await recentPrefetchJobs(database(env.DB), RECENT_JOBS)).map(view);
}

function view(job: PrefetchJob): PrefetchView {
  return {
    id: job.id,
    upstream: job.upstream,
    repository: job.repository,
    reference: job.reference,
    platform: job.platform,
    status: job.status,
    progress: { manifests: job.manifestsDone, blobsDone: job.blobsDone, blobsTotal: job.blobsTotal, bytesFetched: job.bytesFetched },
    error: job.error,
    createdAt: new Date(job.createdAt).toISOString(),
    updatedAt: new Date(job.updatedAt).toISOString(),
  };
}
