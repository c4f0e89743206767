// The consumer of "replication-listing" messages: what an execution copies (and deletes),
// recorded as its tasks, page by page, each page dispatched as soon as it is recorded
// (executions.ts), so that copies start while the listing goes on.
//
// - Repositories: the literal one the filter names, or the source's catalog matched against the
//   filter (a source without a catalog, Docker Hub, takes literal names only: the API refuses a
//   pattern for it, and a listing meeting one fails saying why), in name order.
// - Pages: one message lists REPOSITORIES_PER_PAGE repositories after the one its message names,
//   then sends the next page's message; the last page marks the execution listed (until then it
//   cannot finish). Each repository costs a tag listing or two, so a page stays within the
//   Workers Free plan's 50 subrequests per invocation, and any number of repositories is listed.
// - Tags: every tag of each repository matched against the tag filter: one copy task each
//   (untagged manifests are not listed; they are copied as children and referrers of tagged ones).
// - Deletions, when the policy replicates them: for each listed repository, the tags its
//   destination repository has that match the tag filter and that the source repository no
//   longer has become delete tasks (the tag is deleted at the destination, then the manifest is
//   the destination's to collect). A repository gone from the source entirely is not listed,
//   so its destination copy stays.
// - Idempotent: a page's tasks are recorded in one batch, and a task already recorded for the
//   same artifact is kept, so a redelivered page adds nothing twice. A failure is retried with
//   backoff (pier-jobs has max_retries 3 and no dead-letter queue: the last attempt marks the
//   execution failed with the reason); a 429 holds the execution back and lists the page later.
import type { Bindings, WaitUntil } from "../env";
import { RegistryError } from "../errors";
import { backoffSeconds, DONE, JOB_ATTEMPTS, type Outcome } from "../jobs/messages";
import { database } from "../storage/db/client";
import { failExecution, findExecutionWithPolicy, type NewTask, throttleExecution } from "../storage/db/queries/replication-executions";
import { recordListing } from "../storage/db/queries/replication-tasks";
import type { Endpoint } from "./endpoint";
import { type Connect, connectEndpoints, dispatch, executionFinished, secondsUntil } from "./executions";
import { destinationRepository, isLiteral, type PolicySpec, policySpec, repositoryMatches, tagMatches } from "./policies";
import { classify } from "./task-runner";

/** Repositories one listing message lists (a tag listing each, two with deletions replicated). */
export const REPOSITORIES_PER_PAGE = 20;

/** Lists the page of repositories after `after` (null: the first page). */
export function listExecution(env: Bindings, executionId: string, after: string | null, attempts: number, waitUntil: WaitUntil): Promise<Outcome> {
  return listWith(env, executionId, after, attempts, waitUntil, connectEndpoints);
}

/** listExecution with the endpoints `connect` gives. */
export async function listWith(env: Bindings, executionId: string, after: string | null, attempts: number, waitUntil: WaitUntil, connect: Connect): Promise<Outcome> {
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
  const page = { kind: "replication-listing", executionId, ...(after !== null && { after }) } as const;
  if (execution.throttledUntil !== null && execution.throttledUntil > now) {
    await env.JOBS.send(page, { delaySeconds: secondsUntil(execution.throttledUntil, now) });
    return DONE;
  }
  let listed: Listed;
  try {
    const { source, destination } = await connect(env, waitUntil, policy);
    listed = await listTasks(policySpec(policy), source, destination, after);
  } catch (error) {
    const failure = classify(error, Date.now());
    if (failure.kind === "wait") {
      await throttleExecution(db, executionId, Date.now() + failure.seconds * 1000);
      await env.JOBS.send(page, { delaySeconds: failure.seconds });
      return DONE;
    }
    if (failure.kind === "retry" && attempts < JOB_ATTEMPTS) {
      console.error(`replication: listing execution ${executionId} failed on attempt ${attempts}; it will be retried`, error);
      return { kind: "retry", delaySeconds: backoffSeconds(attempts) };
    }
    const reason = `listing failed${failure.kind === "retry" ? ` after ${attempts} attempts` : ""}: ${failure.reason}`;
    const failed = await failExecution(db, executionId, reason, Date.now());
    if (failed !== null) await executionFinished(env, { id: executionId, policy: policy.name, status: "failed" });
    return DONE;
  }
  // The next page's message goes before this page is recorded: a crash between the two then
  // lists this page again (adding nothing twice), never stops the listing half way.
  if (listed.next !== null) await env.JOBS.send({ kind: "replication-listing", executionId, after: listed.next });
  await recordListing(db, executionId, listed.tasks, listed.next === null);
  await dispatch(env, executionId, policy.concurrency);
  return DONE;
}

interface Listed {
  tasks: NewTask[];
  /** The last repository of this page when more follow (the next page lists after it), else null. */
  next: string | null;
}

/** The tasks of one page of an execution of `policy`: the repositories after `after` (see the header). */
export async function listTasks(policy: PolicySpec, source: Endpoint, destination: Endpoint, after: string | null = null): Promise<Listed> {
  const matching = (await repositoriesOf(policy, source)).filter((repository) => after === null || repository > after);
  const page = matching.slice(0, REPOSITORIES_PER_PAGE);
  const tasks: NewTask[] = [];
  const task = (operation: NewTask["operation"], repository: string, reference: string): NewTask => ({
    id: crypto.randomUUID(),
    operation,
    sourceRepository: repository,
    destinationRepository: destinationRepository(policy, repository),
    reference,
    digest: null,
  });
  for (const repository of page) {
    const tags = await source.listTags(repository);
    tasks.push(...tags.filter((tag) => tagMatches(policy, tag)).map((tag) => task("copy", repository, tag)));
    if (policy.replicateDeletion) {
      const present = new Set(tags);
      const there = await destination.listTags(destinationRepository(policy, repository));
      tasks.push(...there.filter((tag) => tagMatches(policy, tag) && !present.has(tag)).map((tag) => task("delete", repository, tag)));
    }
  }
  return { tasks, next: matching.length > page.length ? page[page.length - 1]! : null };
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
