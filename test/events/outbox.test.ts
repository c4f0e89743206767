// The outbox (worker/events): an event is recorded in the batch of the change it describes and
// queued after the answer; a pull writes nothing unless a webhook wants it; handling an event
// twice delivers it once; the sweep sends a stranded row again. The Worker runs here with queues
// that only record what is sent (nothing is consumed), so the outbox can be read as it was left.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Bindings } from "../../worker/env";
import { handleEvent } from "../../worker/events/dispatch";
import { outboxRow, outboxStatement, pierEvent } from "../../worker/events/events";
import { outboxSweepJob } from "../../worker/events/outbox-sweep";
import worker from "../../worker/index";
import { parseSchedule } from "../../worker/lifecycle/cron";
import { DEFAULT_SCHEDULES, jobFor } from "../../worker/lifecycle/scheduled-jobs";
import type { Digest } from "../../worker/oci/digest";
import type { RepoName, Tag } from "../../worker/oci/names";
import { database } from "../../worker/storage/db/client";
import { recordManifest } from "../../worker/storage/db/queries/manifests";
import { seedImage, uniqueRepo } from "../helpers/fake-upstream";
import { apiProject } from "../helpers/management";
import { ADMIN, BASE, digestOf, imageManifest, OCI_MANIFEST, pushBlob, pushImage, randomBytes, signedIn } from "../helpers/registry";
import { addWebhook, jsonOf, newHook, receivedAtLeast } from "../helpers/webhook-receiver";

const db = () => database(env.DB);
const MINUTE = 60_000;

/** The Worker's bindings with JOBS and WEBHOOKS replaced by queues that record what they are sent. */
function recordingEnv(): { env: Bindings; jobs: unknown[]; webhooks: unknown[] } {
  const recorder = (sent: unknown[]) => ({
    send: async (body: unknown) => void sent.push(body),
    sendBatch: async (messages: { body: unknown }[]) => void sent.push(...messages.map((message) => message.body)),
  });
  const jobs: unknown[] = [];
  const webhooks: unknown[] = [];
  return { env: { ...env, JOBS: recorder(jobs), WEBHOOKS: recorder(webhooks) } as unknown as Bindings, jobs, webhooks };
}

/** One request through the Worker with `bindings`, waiting for its waitUntil work too. */
async function fetchWith(bindings: Bindings, path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`${BASE}${path}`, signedIn(init, ADMIN)), bindings, ctx);
  await response.arrayBuffer();
  await waitOnExecutionContext(ctx);
  return response;
}

async function outbox(project: string): Promise<{ id: string; type: string; data: Record<string, unknown> }[]> {
  const rows = await env.DB.prepare("SELECT id, type, data FROM event_outbox WHERE project = ? ORDER BY created_at").bind(project).all<{ id: string; type: string; data: string }>();
  return rows.results.map((row) => ({ ...row, data: JSON.parse(row.data) as Record<string, unknown> }));
}

describe("a push", () => {
  it("records its PUSH_ARTIFACT event and queues it after answering", async () => {
    const project = await apiProject();
    const repository = `${project}/app`;
    const config = await pushBlob(repository, randomBytes(40, 51));
    const layer = await pushBlob(repository, randomBytes(40, 52));
    const bytes = imageManifest(config, [layer]);
    const recording = recordingEnv();
    const response = await fetchWith(recording.env, `/v2/${repository}/manifests/v1`, { method: "PUT", body: bytes, headers: { "Content-Type": OCI_MANIFEST } });
    expect(response.status).toBe(201);
    const [event] = await outbox(project);
    expect(event).toMatchObject({
      type: "PUSH_ARTIFACT",
      data: { operator: "admin", origin: BASE, data: { repository, digest: await digestOf(bytes), tags: ["v1"], mediaType: OCI_MANIFEST, size: bytes.byteLength } },
    });
    expect(recording.jobs).toEqual([{ kind: "event", eventId: event!.id }]);
  });

  it("whose manifest is not recorded leaves no event: the row is in the manifest's batch", async () => {
    const repository = uniqueRepo("outbox") as RepoName;
    const project = repository.slice(0, repository.indexOf("/"));
    const config = await pushBlob(repository, randomBytes(40, 53));
    const missing = { mediaType: "application/octet-stream", digest: await digestOf(randomBytes(40, 54)), size: 40 };
    const bytes = imageManifest(config, [missing]);
    const digest = (await digestOf(bytes)) as Digest;
    const write = {
      manifest: { digest, mediaType: OCI_MANIFEST, size: bytes.byteLength, subject: null, artifactType: null },
      location: { objectKey: null, content: new TextDecoder().decode(bytes) },
      tags: ["v1" as Tag],
      blobs: [config.digest as Digest, missing.digest as Digest],
      children: [],
      requireReferences: true,
    };
    const event = pierEvent({ type: "PUSH_ARTIFACT", project, data: { repository, digest, tags: ["v1"], mediaType: OCI_MANIFEST, size: bytes.byteLength } }, Date.now());
    expect((await recordManifest(db(), repository, { ...write, event: outboxRow(event) }, Date.now())).outcome).toBe("references-missing");
    expect(await outbox(project)).toEqual([]);
    // The same write with everything it needs records the manifest and its event together.
    await pushBlob(repository, randomBytes(40, 54));
    expect((await recordManifest(db(), repository, { ...write, event: outboxRow(event) }, Date.now())).outcome).toBe("recorded");
    expect((await outbox(project)).map((row) => row.id)).toEqual([event.id]);
  });

  it("into a proxy project (a pull-through fill) is no event", async () => {
    const repo = uniqueRepo();
    await seedImage(repo, "1.0");
    const recording = recordingEnv();
    expect((await fetchWith(recording.env, `/v2/fake/${repo}/manifests/1.0`)).status).toBe(200);
    expect(await outbox("fake")).toEqual([]);
    expect(recording.jobs).toEqual([]);
  });
});

describe("a delete", () => {
  it("by tag records the digest the tag pointed at, in its batch", async () => {
    const project = await apiProject();
    const image = await pushImage(`${project}/app`, "v1");
    await env.DB.prepare("DELETE FROM event_outbox WHERE project = ?").bind(project).run();
    const recording = recordingEnv();
    expect((await fetchWith(recording.env, `/v2/${project}/app/manifests/v1`, { method: "DELETE" })).status).toBe(202);
    const [event] = await outbox(project);
    expect(event).toMatchObject({ type: "DELETE_ARTIFACT", data: { operator: "admin", data: { repository: `${project}/app`, digest: image.digest, tags: ["v1"], mediaType: OCI_MANIFEST } } });
    expect(recording.jobs).toEqual([{ kind: "event", eventId: event!.id }]);
  });

  it("of something that is not there records nothing", async () => {
    const project = await apiProject();
    const recording = recordingEnv();
    expect((await fetchWith(recording.env, `/v2/${project}/app/manifests/nothing`, { method: "DELETE" })).status).toBe(404);
    expect(await outbox(project)).toEqual([]);
    expect(recording.jobs).toEqual([]);
  });
});

describe("a pull", () => {
  it("writes nothing and queues nothing when no webhook of the project subscribes to PULL_ARTIFACT", async () => {
    const project = await apiProject();
    await pushImage(`${project}/app`, "v1");
    await addWebhook(project, await newHook(), { events: ["PUSH_ARTIFACT"] });
    await env.DB.prepare("DELETE FROM event_outbox WHERE project = ?").bind(project).run();
    const recording = recordingEnv();
    expect((await fetchWith(recording.env, `/v2/${project}/app/manifests/v1`)).status).toBe(200);
    expect(await outbox(project)).toEqual([]);
    expect(recording.jobs).toEqual([]);
  });

  it("is an event, recorded and queued after the answer, when one does; a HEAD is none", async () => {
    const project = await apiProject();
    const image = await pushImage(`${project}/app`, "v1");
    await addWebhook(project, await newHook(), { events: ["PULL_ARTIFACT"] });
    await env.DB.prepare("DELETE FROM event_outbox WHERE project = ?").bind(project).run();
    const recording = recordingEnv();
    expect((await fetchWith(recording.env, `/v2/${project}/app/manifests/v1`, { method: "HEAD" })).status).toBe(200);
    expect(await outbox(project)).toEqual([]);
    expect((await fetchWith(recording.env, `/v2/${project}/app/manifests/v1`)).status).toBe(200);
    const [event] = await outbox(project);
    expect(event).toMatchObject({ type: "PULL_ARTIFACT", data: { operator: "admin", data: { repository: `${project}/app`, digest: image.digest, tags: ["v1"] } } });
    expect(recording.jobs).toEqual([{ kind: "event", eventId: event!.id }]);
  });
});

describe("handling an event", () => {
  async function recordedEvent(project: string, createdAt = Date.now()) {
    const event = pierEvent({ type: "PUSH_ARTIFACT", project, operator: "admin", data: { repository: `${project}/app`, digest: `sha256:${"a".repeat(64)}`, tags: ["v1"], mediaType: OCI_MANIFEST, size: 1 } }, createdAt);
    await outboxStatement(db(), event).run();
    return event;
  }

  it("makes one delivery per subscribed webhook, queues each, and deletes the row", async () => {
    const project = await apiProject();
    await addWebhook(project, await newHook());
    await addWebhook(project, await newHook(), { format: "cloudevents" });
    await addWebhook(project, await newHook(), { events: ["DELETE_ARTIFACT"] });
    const event = await recordedEvent(project);
    const recording = recordingEnv();
    await handleEvent(recording.env, event.id, () => {});
    expect(recording.webhooks).toHaveLength(2);
    expect(await outbox(project)).toEqual([]);
  });

  it("twice (a redelivered message after a crash) delivers it once", async () => {
    const project = await apiProject();
    await addWebhook(project, await newHook());
    const event = await recordedEvent(project);
    const recording = recordingEnv();
    await handleEvent(recording.env, event.id, () => {});
    await outboxStatement(db(), event).run();
    await handleEvent(recording.env, event.id, () => {});
    expect(recording.webhooks).toHaveLength(1);
    const deliveries = await env.DB.prepare("SELECT count(*) AS n FROM webhook_deliveries WHERE event_id = ?").bind(event.id).first<{ n: number }>();
    expect(deliveries?.n).toBe(1);
    expect(await outbox(project)).toEqual([]);
  });

  it("already handled (no row) does nothing", async () => {
    const recording = recordingEnv();
    await handleEvent(recording.env, crypto.randomUUID(), () => {});
    expect(recording.webhooks).toEqual([]);
  });
});

describe("the outbox sweep", () => {
  const run = { name: "event-outbox", waitUntil: () => {}, runAgain: () => {} };

  it("is a default schedule that runs every minute", () => {
    expect(DEFAULT_SCHEDULES).toContainEqual({ name: "event-outbox", cron: "* * * * *", options: {} });
    expect(jobFor("event-outbox")).toBe(outboxSweepJob);
    expect(parseSchedule("* * * * *").minutes.size).toBe(60);
  });

  it("sends again a row left for over a minute, once per minute, and leaves a fresh one alone", async () => {
    const project = await apiProject();
    const now = Date.now();
    const refusal = { type: "QUOTA_EXCEED", project, data: { repository: `${project}/app`, digest: null, limitBytes: 1, usedBytes: 1, addsBytes: 1 } } as const;
    const stranded = pierEvent(refusal, now - 2 * MINUTE);
    const fresh = pierEvent(refusal, now);
    await outboxStatement(db(), stranded).run();
    await outboxStatement(db(), fresh).run();
    const recording = recordingEnv();
    expect(await outboxSweepJob(recording.env, {}, now, run)).toMatch(/^re-sent \d+ stranded event/);
    expect(recording.jobs).toContainEqual({ kind: "event", eventId: stranded.id });
    expect(recording.jobs).not.toContainEqual({ kind: "event", eventId: fresh.id });
    // Claimed for this minute: the next sweep in the same minute leaves it to the message just sent.
    recording.jobs.length = 0;
    await outboxSweepJob(recording.env, {}, now, run);
    expect(recording.jobs).not.toContainEqual({ kind: "event", eventId: stranded.id });
  });

  it("gets a stranded push to the webhook through the real queues", async () => {
    const project = await apiProject();
    const hook = await newHook();
    await addWebhook(project, hook);
    const event = pierEvent(
      { type: "PUSH_ARTIFACT", project, operator: "admin", data: { repository: `${project}/app`, digest: `sha256:${"b".repeat(64)}`, tags: ["lost"], mediaType: OCI_MANIFEST, size: 1 } },
      Date.now() - 5 * MINUTE,
    );
    await outboxStatement(db(), event).run();
    await outboxSweepJob(env, {}, Date.now(), run);
    const [delivery] = await receivedAtLeast(hook, 1);
    expect(jsonOf(delivery!)).toMatchObject({ type: "PUSH_ARTIFACT", event_data: { resources: [{ tag: "lost" }] } });
  });
});
