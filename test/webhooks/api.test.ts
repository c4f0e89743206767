// The webhooks API (/api/v1/projects/{p}/webhooks): what a webhook may be, who may see and change
// it, that its secret is sealed and never shown, its delivery log and its test delivery.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { unseal } from "../../worker/auth/sealed";
import { database } from "../../worker/storage/db/client";
import { createProject } from "../../worker/storage/db/queries/principals";
import { api, apiJson, apiProject, auditOf, expectError, member, unique } from "../helpers/management";
import { expectNoServerErrors } from "../helpers/registry";
import { addWebhook, deliveriesOf, eventually, jsonOf, newHook, receivedAtLeast } from "../helpers/webhook-receiver";

// A client mistake is never answered 5xx.
expectNoServerErrors();

const RECEIVER = "https://hooks.example.com/pier";

async function rowOf(project: string, name: string): Promise<Record<string, unknown> | null> {
  return env.DB.prepare("SELECT * FROM webhooks WHERE project = ? AND name = ?").bind(project, name).first();
}

describe("creating a webhook", () => {
  it("answers 201 with the webhook, enabled, which GET and the list show", async () => {
    const project = await apiProject();
    const body = { name: "ci", url: RECEIVER, events: ["PUSH_ARTIFACT", "DELETE_ARTIFACT"], format: "cloudevents" };
    const response = await api(`/projects/${project}/webhooks`, { body });
    expect(response.status).toBe(201);
    expect(response.headers.get("Location")).toBe(`/api/v1/projects/${project}/webhooks/ci`);
    const view = await response.json();
    expect(view).toEqual({ project, ...body, secret: "none", enabled: true, createdAt: expect.any(String), updatedAt: expect.any(String) });
    expect(await apiJson(`/projects/${project}/webhooks/ci`)).toEqual(view);
    expect(await apiJson(`/projects/${project}/webhooks`)).toEqual({ items: [view] });
    expect((await auditOf({ project }))[0]).toMatchObject({ action: "webhook.create", resource: "webhooks/ci", result: "success" });
  });

  it("stores the secret sealed for this webhook, and shows only that one is set", async () => {
    const project = await apiProject();
    const view = await apiJson(`/projects/${project}/webhooks`, { body: { name: "signed", url: RECEIVER, events: ["PUSH_ARTIFACT"], format: "harbor", secret: "s3cret-value" } }, 201);
    expect(view.secret).toBe("set");
    expect(JSON.stringify(view)).not.toContain("s3cret-value");
    const stored = String((await rowOf(project, "signed"))!.secret);
    expect(stored).not.toContain("s3cret-value");
    expect(await unseal(env.PIER_CREDENTIALS_KEY, `webhook:${project}/signed`, stored)).toBe("s3cret-value");
    await expect(unseal(env.PIER_CREDENTIALS_KEY, `webhook:${project}/other`, stored)).rejects.toThrow();
  });

  it("refuses a second webhook of the same name with 409 CONFLICT", async () => {
    const project = await apiProject();
    const body = { name: "twice", url: RECEIVER, events: ["PUSH_ARTIFACT"], format: "harbor" };
    await apiJson(`/projects/${project}/webhooks`, { body }, 201);
    await expectError(await api(`/projects/${project}/webhooks`, { body: { ...body, url: `${RECEIVER}/2` } }), 409, "CONFLICT");
    expect((await apiJson<{ items: { url: string }[] }>(`/projects/${project}/webhooks`)).items.map((item) => item.url)).toEqual([RECEIVER]);
  });

  const valid = { name: "hook", url: RECEIVER, events: ["PUSH_ARTIFACT"], format: "harbor" };
  for (const [what, body] of [
    ["a name with a slash", { ...valid, name: "a/b" }],
    ["an uppercase name", { ...valid, name: "Hook" }],
    ["a missing name", { ...valid, name: undefined }],
    ["a relative url", { ...valid, url: "/hooks/pier" }],
    ["an ftp url", { ...valid, url: "ftp://hooks.example.com/" }],
    ["a url with credentials", { ...valid, url: "https://user:pass@hooks.example.com/" }],
    ["an empty list of events", { ...valid, events: [] }],
    ["an unknown event", { ...valid, events: ["PUSH_ARTIFACT", "SCAN_COMPLETED"] }],
    ["events that are not a list", { ...valid, events: "PUSH_ARTIFACT" }],
    ["an unknown format", { ...valid, format: "slack" }],
    ["a missing format", { ...valid, format: undefined }],
    ["a secret that is not a string", { ...valid, secret: 42 }],
    ["an empty secret", { ...valid, secret: "" }],
    ["enabled that is not a boolean", { ...valid, enabled: "yes" }],
    ["an unknown field", { ...valid, retries: 3 }],
    ["a body that is not an object", [valid]],
  ] as const) {
    it(`refuses ${what} with 400 INVALID_REQUEST, and creates nothing`, async () => {
      const project = await apiProject();
      await expectError(await api(`/projects/${project}/webhooks`, { body: body as unknown }), 400, "INVALID_REQUEST");
      expect(await apiJson(`/projects/${project}/webhooks`)).toEqual({ items: [] });
    });
  }

  it("refuses a webhook on a proxy project with 400", async () => {
    const proxy = unique("proxy");
    await createProject(database(env.DB), { name: proxy, kind: "proxy", public: true, createdBy: null });
    await expectError(await api(`/projects/${proxy}/webhooks`, { body: valid }), 400, "INVALID_REQUEST");
  });

  it("answers 404 for a project that does not exist", async () => {
    await expectError(await api("/projects/no-such-project/webhooks", { body: valid }), 404, "NAME_UNKNOWN");
  });
});

describe("who may use it", () => {
  it("refuses a developer of the project with 403, reading included, and audits the attempt", async () => {
    const project = await apiProject();
    await addWebhook(project, { key: "", url: RECEIVER });
    const developer = await member(project, "developer");
    await expectError(await api(`/projects/${project}/webhooks`, { as: developer }), 403, "DENIED");
    await expectError(await api(`/projects/${project}/webhooks`, { body: valid(), as: developer }), 403, "DENIED");
    expect((await auditOf({ project, result: "denied" }))[0]).toMatchObject({ action: "webhook.create", principal: developer.username });
  });

  it("lets a project admin create, change and delete one", async () => {
    const project = await apiProject();
    const admin = await member(project, "projectAdmin");
    await apiJson(`/projects/${project}/webhooks`, { body: valid(), as: admin }, 201);
    await apiJson(`/projects/${project}/webhooks/hook`, { method: "PATCH", body: { enabled: false }, as: admin });
    expect((await api(`/projects/${project}/webhooks/hook`, { method: "DELETE", as: admin })).status).toBe(204);
  });

  it("answers 404 to someone outside a private project, as if it did not exist", async () => {
    const project = await apiProject();
    const outsider = await member(await apiProject(), "projectAdmin");
    await expectError(await api(`/projects/${project}/webhooks`, { as: outsider }), 404, "NAME_UNKNOWN");
  });

  function valid(): Record<string, unknown> {
    return { name: "hook", url: RECEIVER, events: ["PUSH_ARTIFACT"], format: "harbor" };
  }
});

describe("changing and deleting a webhook", () => {
  it("changes what the body sets, keeps the rest, and audits it", async () => {
    const project = await apiProject();
    const name = await addWebhook(project, { key: "", url: RECEIVER }, { secret: "first" });
    const changed = await apiJson(`/projects/${project}/webhooks/${name}`, { method: "PATCH", body: { events: ["PULL_ARTIFACT"], format: "cloudevents", enabled: false } });
    expect(changed).toMatchObject({ url: RECEIVER, events: ["PULL_ARTIFACT"], format: "cloudevents", enabled: false, secret: "set" });
    expect((await auditOf({ project }))[0]).toMatchObject({ action: "webhook.update", resource: `webhooks/${name}` });
  });

  it("removes the secret when PATCH sets it to null, and seals a new one for this webhook", async () => {
    const project = await apiProject();
    const name = await addWebhook(project, { key: "", url: RECEIVER }, { secret: "first" });
    expect(await apiJson(`/projects/${project}/webhooks/${name}`, { method: "PATCH", body: { secret: null } })).toMatchObject({ secret: "none" });
    expect((await rowOf(project, name))!.secret).toBeNull();
    expect(await apiJson(`/projects/${project}/webhooks/${name}`, { method: "PATCH", body: { secret: "second" } })).toMatchObject({ secret: "set" });
    expect(await unseal(env.PIER_CREDENTIALS_KEY, `webhook:${project}/${name}`, String((await rowOf(project, name))!.secret))).toBe("second");
  });

  for (const [what, body] of [
    ["an empty body", {}],
    ["a new name", { name: "renamed" }],
    ["an invalid url", { url: "not a url" }],
    ["an unknown event", { events: ["PUSH"] }],
    ["an unknown field", { colour: "blue" }],
  ] as const) {
    it(`refuses a PATCH with ${what} with 400, changing nothing`, async () => {
      const project = await apiProject();
      const name = await addWebhook(project, { key: "", url: RECEIVER });
      const before = await apiJson(`/projects/${project}/webhooks/${name}`);
      await expectError(await api(`/projects/${project}/webhooks/${name}`, { method: "PATCH", body }), 400, "INVALID_REQUEST");
      expect(await apiJson(`/projects/${project}/webhooks/${name}`)).toEqual(before);
    });
  }

  it("deletes it: 204, then 404 for it and for another DELETE", async () => {
    const project = await apiProject();
    const name = await addWebhook(project, { key: "", url: RECEIVER });
    expect((await api(`/projects/${project}/webhooks/${name}`, { method: "DELETE" })).status).toBe(204);
    await expectError(await api(`/projects/${project}/webhooks/${name}`), 404, "NAME_UNKNOWN");
    await expectError(await api(`/projects/${project}/webhooks/${name}`, { method: "DELETE" }), 404, "NAME_UNKNOWN");
    expect((await auditOf({ project }))[0]).toMatchObject({ action: "webhook.delete", resource: `webhooks/${name}` });
  });

  it("answers 404 for a PATCH of a webhook that does not exist", async () => {
    const project = await apiProject();
    await expectError(await api(`/projects/${project}/webhooks/none`, { method: "PATCH", body: { enabled: true } }), 404, "NAME_UNKNOWN");
  });
});

describe("the test delivery", () => {
  it("answers 202 with a pending delivery of a test event, which the receiver gets", async () => {
    const project = await apiProject();
    const hook = await newHook();
    const name = await addWebhook(project, hook, { events: ["DELETE_ARTIFACT", "PUSH_ARTIFACT"] });
    const response = await api(`/projects/${project}/webhooks/${name}/test`, { method: "POST" });
    expect(response.status).toBe(202);
    const delivery = (await response.json()) as { id: string; eventId: string };
    expect(delivery).toMatchObject({ event: "DELETE_ARTIFACT", eventId: expect.stringMatching(/^test-[0-9a-f-]{36}$/), status: "pending", attempts: 0 });
    const [request] = await receivedAtLeast(hook, 1);
    expect(request!.headers["x-pier-delivery"]).toBe(delivery.id);
    expect(jsonOf(request!)).toMatchObject({ type: "DELETE_ARTIFACT", operator: "admin" });
    await eventually(() => deliveriesOf(project, name), ([item]) => item?.status === "delivered");
    expect((await auditOf({ project }))[0]).toMatchObject({ action: "webhook.test", resource: `webhooks/${name}` });
  });

  it("refuses to test a disabled webhook with 400", async () => {
    const project = await apiProject();
    const name = await addWebhook(project, await newHook(), { enabled: false });
    await expectError(await api(`/projects/${project}/webhooks/${name}/test`, { method: "POST" }), 400, "INVALID_REQUEST");
    expect(await deliveriesOf(project, name)).toEqual([]);
  });
});

describe("the delivery log", () => {
  it("pages newest first with n and next, and refuses a next that is no cursor", async () => {
    const project = await apiProject();
    const name = await addWebhook(project, { key: "", url: "http://127.0.0.1:9/nothing-listens" });
    const ids: string[] = [];
    for (let index = 0; index < 3; index++) ids.push((await apiJson<{ id: string }>(`/projects/${project}/webhooks/${name}/test`, { method: "POST" }, 202)).id);
    const first = await apiJson<{ items: { id: string }[]; next: string }>(`/projects/${project}/webhooks/${name}/deliveries?n=2`);
    const second = await apiJson<{ items: { id: string }[]; next: string | null }>(`/projects/${project}/webhooks/${name}/deliveries?n=2&next=${first.next}`);
    expect([...first.items, ...second.items].map((item) => item.id).sort()).toEqual([...ids].sort());
    expect(second.next).toBeNull();
    await expectError(await api(`/projects/${project}/webhooks/${name}/deliveries?next=yesterday`), 400, "INVALID_REQUEST");
  });
});
