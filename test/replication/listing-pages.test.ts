// An execution's listing goes page by page (worker/replication/listing.ts): a source with more
// repositories than one page holds is listed whole, over several queue messages, and its copies
// start while later pages are still being listed.
import { describe, expect, it } from "vitest";
import { REPOSITORIES_PER_PAGE } from "../../worker/replication/listing";
import { createRemote, remoteRepositories } from "../helpers/fake-remote";
import { newProject } from "../helpers/identities";
import { pushImage } from "../helpers/registry";
import { addRegistry, createPolicy, runToEnd, tasksOf } from "../helpers/replication";

describe("listing in pages", { timeout: 60_000 }, () => {
  it("lists every matching repository of a source larger than one page, each once", async () => {
    const remote = await createRemote();
    const project = await newProject();
    const names = Array.from({ length: REPOSITORIES_PER_PAGE + 3 }, (_, i) => `${project}/app-${String(i).padStart(2, "0")}`);
    for (const name of names) await pushImage(name, "v1");
    const policy = await createPolicy({ source: null, destination: await addRegistry(remote), filters: { repositories: `${project}/**` }, concurrency: 8 });

    const execution = await runToEnd(policy.name, 50_000);
    expect(execution).toMatchObject({ status: "succeeded", total: names.length, succeeded: names.length });
    const tasks = await tasksOf(execution.id);
    expect(tasks.map((task) => task.sourceRepository).sort()).toEqual(names);
    expect((await remoteRepositories(remote.id)).filter((name) => name.startsWith(`${project}/`))).toEqual(names);
  });
});
