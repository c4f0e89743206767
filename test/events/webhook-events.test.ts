// Events reaching webhooks end to end, through the real queues: a push, a delete, a pull, a
// refused push and a retention run, each arriving at the receiver in the webhook's format,
// signed when it has a secret; and the push never waiting for the delivery.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, apiJson, apiProject } from "../helpers/management";
import { BASE, expectNoServerErrors, imageManifest, pushBlob, pushImage, putManifest, randomBytes, request } from "../helpers/registry";
import { rule, runNow, setPolicy } from "../helpers/retention";
import { addWebhook, deliveriesOf, eventually, expectedSignature, jsonOf, newHook, receivedAtLeast, release } from "../helpers/webhook-receiver";

// A client mistake is never answered 5xx.
expectNoServerErrors();

const HOST = new URL(BASE).host;

describe("a push", () => {
  it("reaches a harbor webhook as Harbor's payload, signed with the webhook's secret", async () => {
    const project = await apiProject();
    const hook = await newHook();
    const name = await addWebhook(project, hook, { secret: "push-secret" });
    const repository = `${project}/app`;
    const image = await pushImage(repository, "v1");

    const [delivery] = await receivedAtLeast(hook, 1);
    expect(delivery!.headers["x-pier-signature"]).toBe(await expectedSignature("push-secret", delivery!.body));
    expect(delivery!.headers).toMatchObject({ "content-type": "application/json", "x-pier-event": "PUSH_ARTIFACT" });
    const body = jsonOf(delivery!);
    expect(body).toEqual({
      type: "PUSH_ARTIFACT",
      occur_at: expect.any(Number),
      operator: "admin",
      event_data: {
        resources: [{ digest: image.digest, tag: "v1", resource_url: `${HOST}/${repository}:v1` }],
        repository: { name: "app", namespace: project, repo_full_name: repository, repo_type: "private" },
      },
    });
    expect(Math.abs((body.occur_at as number) - Date.now() / 1000)).toBeLessThan(60);
    const [logged] = await eventually(() => deliveriesOf(project, name), ([item]) => item?.status === "delivered");
    expect(logged).toMatchObject({ event: "PUSH_ARTIFACT", statusCode: 200, attempts: 1, id: delivery!.headers["x-pier-delivery"] });
  });

  it("reaches a cloudevents webhook as a CloudEvents 1.0 structured event", async () => {
    const project = await apiProject({ public: true });
    const hook = await newHook();
    await addWebhook(project, hook, { format: "cloudevents" });
    const repository = `${project}/web`;
    const image = await pushImage(repository, "1.0");

    const [delivery] = await receivedAtLeast(hook, 1);
    expect(delivery!.headers["content-type"]).toBe("application/cloudevents+json");
    expect(delivery!.headers["x-pier-signature"]).toBeUndefined();
    const event = jsonOf(delivery!);
    expect(event).toEqual({
      specversion: "1.0",
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      source: `${BASE}/projects/${project}`,
      type: "io.pier.artifact.pushed",
      time: expect.any(String),
      datacontenttype: "application/json",
      subject: repository,
      operator: "admin",
      data: { project, repository, digest: image.digest, tags: ["1.0"], mediaType: "application/vnd.oci.image.manifest.v1+json", size: image.bytes.byteLength },
    });
    expect(new Date(event.time as string).toISOString()).toBe(event.time);
  });

  it("is answered while the receiver still holds the delivery unanswered", async () => {
    const project = await apiProject();
    const hook = await newHook({ hang: 1 });
    const name = await addWebhook(project, hook);
    await pushImage(`${project}/app`, "v1");
    // The receiver has the delivery and has not answered it; a second push is not held up either.
    const [held] = await receivedAtLeast(hook, 1);
    await pushImage(`${project}/app`, "v2", { seed: 2 });
    const first = (await deliveriesOf(project, name)).find((item) => item.id === held!.headers["x-pier-delivery"]);
    expect(first).toMatchObject({ status: "pending", attempts: 0 });
    await release(hook);
    await eventually(() => deliveriesOf(project, name), (items) => items.length === 2 && items.every((item) => item.status === "delivered"));
  });

  it("to a project without webhooks reaches nobody, and a webhook of another project hears nothing of it", async () => {
    const watched = await apiProject();
    const hook = await newHook();
    const name = await addWebhook(watched, hook);
    await pushImage(`${await apiProject()}/app`, "v1");
    await pushImage(`${watched}/app`, "v1");
    const [delivery] = await receivedAtLeast(hook, 1);
    expect(jsonOf(delivery!)).toMatchObject({ event_data: { repository: { namespace: watched } } });
    expect(await deliveriesOf(watched, name)).toHaveLength(1);
  });
});

describe("a delete", () => {
  it("of a tag reaches the webhook with the digest the tag pointed at", async () => {
    const project = await apiProject();
    const hook = await newHook();
    await addWebhook(project, hook, { events: ["DELETE_ARTIFACT"] });
    const repository = `${project}/app`;
    const image = await pushImage(repository, "old");
    expect((await request(`/v2/${repository}/manifests/old`, { method: "DELETE" })).status).toBe(202);
    const [delivery] = await receivedAtLeast(hook, 1);
    expect(jsonOf(delivery!)).toMatchObject({
      type: "DELETE_ARTIFACT",
      operator: "admin",
      event_data: { resources: [{ digest: image.digest, tag: "old", resource_url: `${HOST}/${repository}:old` }], repository: { repo_full_name: repository } },
    });
  });

  it("of a manifest reaches the webhook with every tag it took away", async () => {
    const project = await apiProject();
    const hook = await newHook();
    await addWebhook(project, hook, { events: ["DELETE_ARTIFACT"], format: "cloudevents" });
    const repository = `${project}/app`;
    const image = await pushImage(repository, "b");
    await putManifest(repository, "a", image.bytes);
    expect((await request(`/v2/${repository}/manifests/${image.digest}`, { method: "DELETE" })).status).toBe(202);
    const [delivery] = await receivedAtLeast(hook, 1);
    expect(jsonOf(delivery!)).toMatchObject({
      type: "io.pier.artifact.deleted",
      data: { repository, digest: image.digest, tags: ["a", "b"], mediaType: "application/vnd.oci.image.manifest.v1+json", size: image.bytes.byteLength },
    });
  });
});

describe("a pull", () => {
  it("reaches a webhook subscribed to PULL_ARTIFACT, with who pulled what", async () => {
    const project = await apiProject();
    const repository = `${project}/app`;
    const image = await pushImage(repository, "v1");
    const hook = await newHook();
    await addWebhook(project, hook, { events: ["PULL_ARTIFACT"] });
    const response = await request(`/v2/${repository}/manifests/v1`);
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    const [delivery] = await receivedAtLeast(hook, 1);
    expect(jsonOf(delivery!)).toMatchObject({ type: "PULL_ARTIFACT", operator: "admin", event_data: { resources: [{ digest: image.digest, tag: "v1" }] } });
  });
});

describe("a push refused by the project's storage limit", () => {
  it("reaches a QUOTA_EXCEED webhook with the repository, the limit and the usage", async () => {
    const project = await apiProject();
    const hook = await newHook();
    await addWebhook(project, hook, { events: ["QUOTA_EXCEED"], format: "cloudevents" });
    const repository = `${project}/app`;
    const config = await pushBlob(repository, randomBytes(100, 41));
    const layer = await pushBlob(repository, randomBytes(100, 42));
    await apiJson(`/projects/${project}`, { method: "PATCH", body: { storageLimitBytes: 200 } });
    const bytes = imageManifest(config, [layer]);
    expect((await putManifest(repository, "v1", bytes)).status).toBe(403);
    const [delivery] = await receivedAtLeast(hook, 1);
    expect(jsonOf(delivery!)).toMatchObject({
      type: "io.pier.quota.exceeded",
      data: { project, repository, limitBytes: 200, usedBytes: 200, addsBytes: bytes.byteLength },
    });
  });
});

describe("a retention run", () => {
  it("reaches a TAG_RETENTION webhook with what it examined and removed", async () => {
    const project = await apiProject();
    const hook = await newHook();
    await addWebhook(project, hook, { events: ["TAG_RETENTION"] });
    await pushImage(`${project}/app`, "v1");
    await pushImage(`${project}/app`, "v2", { seed: 2 });
    await setPolicy(project, [rule("latestPushed", 1)]);
    const run = await runNow(project, false);
    const [delivery] = await receivedAtLeast(hook, 1);
    expect(jsonOf(delivery!)).toMatchObject({
      type: "TAG_RETENTION",
      event_data: { retention: { project_name: project, run_id: run.id, total: run.examined, deleted: run.removed, result: "succeeded", dry_run: false } },
    });
  });
});

describe("a disabled webhook", () => {
  it("gets nothing, and gets events again once enabled", async () => {
    const project = await apiProject();
    const hook = await newHook();
    const name = await addWebhook(project, hook, { enabled: false });
    await pushImage(`${project}/app`, "v1");
    // The push's event handled (its outbox row gone) before the webhook is enabled again.
    await eventually(() => env.DB.prepare("SELECT count(*) AS n FROM event_outbox WHERE project = ?").bind(project).first<{ n: number }>(), (row) => row?.n === 0);
    await api(`/projects/${project}/webhooks/${name}`, { method: "PATCH", body: { enabled: true } });
    await pushImage(`${project}/app`, "v2", { seed: 2 });
    const [delivery] = await receivedAtLeast(hook, 1);
    expect(jsonOf(delivery!)).toMatchObject({ event_data: { resources: [{ tag: "v2" }] } });
    expect(await deliveriesOf(project, name)).toHaveLength(1);
  });
});
