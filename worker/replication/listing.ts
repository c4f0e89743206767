// The consumer of "replication-listing" messages: what an execution copies (and deletes),
// recorded as its tasks, then dispatched (executions.ts).
//
// - Repositories: the literal one the filter names, or the source's catalog matched against the
//   filter (a source without a catalog, Docker Hub, takes literal names only: the API refuses a
//   pattern for it, and a listing meeting one fails saying why).
// - Tags: every tag of each repository matched against the tag filter: one copy task each
//   (untagged manifests are not listed; they are copied as children and referrers of tagged ones).
// - Deletions, when the policy replicates them: for each listed repository, the tags its
//   destination repository has that match the tag filter and that the source repository no
//   longer has become delete tasks (the tag is deleted at the destination, then the manifest is
//   the destination's to collect). A repository gone from the source entirely is not listed,
//   so its destination copy stays.
// - Bounds: one listing lists at most MAX_REPOSITORIES repositories and MAX_TASKS tasks (in
//   repository name order); an execution that met a bound says so in its note. Each repository
//   costs a tag listing or two (subrequests: 50 per invocation on the Free plan, 10,000 on
//   Paid), so a Free-plan Pier lists a few dozen repositories per execution.
// - Idempotent: tasks are recorded at the end in one batch, and a task already recorded for the
//   same artifact is kept, so a redelivered listing adds nothing twice. A failure is retried
//   with backoff (pier-jobs has max_retries 3 and no dead-letter queue: the last attempt marks
//   the execution failed with the reason); a 429 holds the execution back and lists again later.
import type { Bindings, WaitUntil } from "../env";
import { RegistryError } from "../errors";
import { backoffSeconds, DONE, type Outcome } from "../jobs/messages";
import { database } from "../storage/db/client";
import { failExecution, findExecutionWithPolicy, type NewTask, throttleExecution } from "../storage/db/queries/replication-executions";
import { recordListing } from "../storage/db/queries/replication-tasks";
import type { Endpoint } from "./endpoint";
import { type Connect, connectEndpoints, dispatch, executionFinished, secondsUntil } from "./executions";
import { destinationRepository, isLiteral, type PolicySpec, policySpec, repositoryMatches, tagMatches } from "./policies";
import { classify } from "./task-runner";

export const MAX_REPOSITORIES = 1_000;
export const MAX_TASKS = 10_000;
/** pier-jobs: the first delivery and max_retries = 3 more (wrangler.toml). */
const LISTING_ATTEMPTS = 4;

export function listExecution(env: Bindings, executionId: string, attempts: number, waitUntil: WaitUntil): Promise<Outcome> {
  return listWith(env, executionId, attempts, waitUntil, connectEndpoints);
}

/** listExecution with the endpoints `connect` gives. */
export async function listWith(env: Bindings, executionId: string, attempts: number, waitUntil: WaitUntil, connect: Connect): Promise<Outcome> {
  const db = database(env.DB);
  const now = Date.now();
  const found = await findExecutionWithPolicy(db, executionId);
  if (found === null) {
    console.error(`replication: execution ${executionId} is not recorded; its listing message is dropped`);
    return DONE;
  }
  const { execution, policy } = found;
  if (execution.status !== "running" || policy === null) return DONE;
  if (execution.listed) {
    // A redelivery after the listing was recorded: dispatching again is harmless, and covers a
    // dispatch the first delivery did not get to.
    await dispatch(env, executionId, policy.concurrency);
    return DONE;
  }
  if (execution.throttledUntil !== null && execution.throttledUntil > now) {
    await env.JOBS.send({ kind: "replication-listing", executionId }, { delaySeconds: secondsUntil(execution.throttledUntil, now) });
    return DONE;
  }
  let listed: Listed;
  try {
    const { source, destination } = await connect(env, waitUntil, policy);
    listed = await listTasks(policySpec(policy), source, destination);
  } catch (error) {
    const failure = classify(error, Date.now());
    if (failure.kind === "wait") {
      await throttleExecution(db, executionId, Date.now() + failure.seconds * 1000);
      await env.JOBS.send({ kind: "replication-listing", executionId }, { delaySeconds: failure.seconds });
      return DONE;
    }
    if (failure.kind === "retry" && attempts < LISTING_ATTEMPTS) {
      console.error(`replication: listing execution ${executionId} failed on attempt ${attempts}; it will be retried`, error);
      return { kind: "retry", delaySeconds: backoffSeconds(attempts) };
    }
    const reason = `listing failed${failure.kind === "retry" ? ` after ${attempts} attempts` : ""}: ${failure.reason}`;
    const failed = await failExecution(db, executionId, reason, Date.now());
    if (failed !== null) await executionFinished(env, { id: executionId, policy: policy.name, status: "failed" });
    return DONE;
  }
  await recordListing(db, executionId, listed.tasks, listed.note);
  await dispatch(env, executionId, policy.concurrency);
  return DONE;
}

interface Listed {
  tasks: NewTask[];
  /** What a bound left out; null when everything matching was listed. */
  note: string | null;
}

/** The tasks of one execution of `policy` (see the header). */
export async function listTasks(policy: PolicySpec, source: Endpoint, destination: Endpoint): Promise<Listed> {
  const repositories = await repositoriesOf(policy, source);
  const notes: string[] = [];
  if (repositories.length > MAX_REPOSITORIES) notes.push(`listed the first ${MAX_REPOSITORIES} of ${repositories.length} matching repositories`);
  const tasks: NewTask[] = [];
  const task = (operation: NewTask["operation"], repository: string, reference: string): NewTask => ({
    id: crypto.randomUUID(),
    operation,
    sourceRepository: repository,
    destinationRepository: destinationRepository(policy, repository),
    reference,
    digest: null,
  });
  for (const repository of repositories.slice(0, MAX_REPOSITORIES)) {
    const tags = await source.listTags(repository);
    const found = tags.filter((tag) => tagMatches(policy, tag)).map((tag) => task("copy", repository, tag));
    if (policy.replicateDeletion) {
      const present = new Set(tags);
      const there = await destination.listTags(destinationRepository(policy, repository));
      found.push(...there.filter((tag) => tagMatches(policy, tag) && !present.has(tag)).map((tag) => task("delete", repository, tag)));
    }
    if (tasks.length + found.length > MAX_TASKS) {
      notes.push(`stopped at ${MAX_TASKS} artifacts, before repository ${repository}`);
      break;
    }
    tasks.push(...found);
  }
  return { tasks, note: notes.length === 0 ? null : notes.join("; ") };
}

async function repositoriesOf(policy: PolicySpec, source: Endpoint): Promise<string[]> {
  const filter = policy.filters.repositories;
  if (isLiteral(filter)) return [filter];
  const catalog = await source.listRepositories();
  if (catalog === null) {
    throw new RegistryError("UNSUPPORTED", `${source.name} serves no catalog (/v2/_catalog), so the repository filter "${filter}" cannot be matched: name one repository`);
  }
  return catalog.filter((repository) => repositoryMatches(policy, repository)).sort();
}
