// Storage quotas per project (worker/lifecycle/quotas.ts): usage counted from what the
// project's repositories hold, each digest once; pushes past the limit refused with 403 DENIED
// before anything is linked; the limit set through PATCH /api/v1/projects/{project}.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { uploadKey } from "../../worker/storage/keys";
import { collect, rowCount } from "../helpers/gc";
import { api, apiJson, apiProject, expectError, member } from "../helpers/management";
import {
  blobStatus,
  digestOf,
  expectNoServerErrors,
  imageManifest,
  openUpload,
  patchChunk,
  pushBlob,
  pushImage,
  putManifest,
  randomBytes,
  request,
  streamOf,
  withQuery,
} from "../helpers/registry";

interface ProjectBody {
  storageLimitBytes: number;
  storageUsedBytes?: number;
  public: boolean;
}

async function setLimit(project: string, storageLimitBytes: number): Promise<void> {
  expect(await apiJson<ProjectBody>(`/projects/${project}`, { method: "PATCH", body: { storageLimitBytes } })).toMatchObject({ storageLimitBytes });
}

async function used(project: string): Promise<number> {
  return (await apiJson<ProjectBody>(`/projects/${project}`)).storageUsedBytes!;
}

/** A new project holding nothing, limited to `limit` bytes. */
async function limited(limit: number): Promise<string> {
  const project = await apiProject();
  await setLimit(project, limit);
  return project;
}

function monolithic(repository: string, digest: string, bytes: Uint8Array): Promise<Response> {
  return request(`/v2/${repository}/blobs/uploads/?digest=${digest}`, { method: "POST", body: bytes, headers: { "Content-Length": String(bytes.byteLength) } });
}

/** Nothing of the refused blob stays: no row, no link, no object under its digest. */
async function expectNothingStored(repository: string, digest: string): Promise<void> {
  expect(await blobStatus(repository, digest)).toBe(404);
  expect(await rowCount("blobs", "digest = ?", digest)).toBe(0);
  expect((await env.BLOBS.list({ prefix: `blobs/sha256/${digest.slice(7)}/` })).objects).toEqual([]);
}

describe("a project's storage usage", () => {
  it("is 0 with no limit (-1) for a new project, and listings show the limit only", async () => {
    const project = await apiProject();
    expect(await apiJson(`/projects/${project}`)).toMatchObject({ storageLimitBytes: -1, storageUsedBytes: 0 });
    const listed = await apiJson<{ items: (ProjectBody & { name: string })[] }>(`/projects?n=1&next=${project.slice(0, -1)}`);
    expect(listed.items[0]).toMatchObject({ name: project, storageLimitBytes: -1 });
    expect(listed.items[0]!.storageUsedBytes).toBeUndefined();
  });

  it("counts a blob once across two repositories of the project", async () => {
    const project = await apiProject();
    const bytes = randomBytes(1000, 11);
    await pushBlob(`${project}/a`, bytes);
    await pushBlob(`${project}/b`, bytes);
    expect(await used(project)).toBe(1000);
  });

  it("counts a manifest's bytes with its config and layer", async () => {
    const project = await apiProject();
    const image = await pushImage(`${project}/app`, "v1", { seed: 12 });
    expect(await used(project)).toBe(image.config.size + image.layer.size + image.bytes.byteLength);
  });

  it("does not count another project's content, even under a name that starts alike", async () => {
    const project = await apiProject();
    await pushBlob(`${project}/a`, randomBytes(500, 13));
    await pushBlob(`${project}-x/a`, randomBytes(700, 14));
    await pushBlob(`${project}0/a`, randomBytes(900, 15));
    expect(await used(project)).toBe(500);
  });

  it("goes down after a manifest is deleted and garbage is collected", async () => {
    const project = await apiProject();
    const image = await pushImage(`${project}/app`, "v1", { seed: 16 });
    expect(await used(project)).toBeGreaterThan(0);
    expect((await request(`/v2/${project}/app/manifests/${image.digest}`, { method: "DELETE" })).status).toBe(202);
    expect(await used(project)).toBe(image.config.size + image.layer.size);
    await collect();
    expect(await used(project)).toBe(0);
  });
});

describe("a push into a project with a storage limit", () => {
  it("is refused monolithically (403 DENIED with the numbers) and leaves nothing", async () => {
    const project = await limited(1000);
    const bytes = randomBytes(1001, 21);
    const digest = await digestOf(bytes);
    const message = await expectError(await monolithic(`${project}/app`, digest, bytes), 403, "DENIED");
    expect(message).toContain(`project "${project}" would use 1001 bytes of its 1000-byte quota`);
    await expectNothingStored(`${project}/app`, digest);
    expect(await used(project)).toBe(0);
  });

  it("takes a push that reaches the limit exactly", async () => {
    const project = await limited(1000);
    await pushBlob(`${project}/app`, randomBytes(1000, 22));
    expect(await used(project)).toBe(1000);
  });

  it("is refused when a PUT carries the whole blob", async () => {
    const project = await limited(1000);
    const bytes = randomBytes(1500, 23);
    const digest = await digestOf(bytes);
    const { location } = await openUpload(`${project}/app`);
    const response = await request(withQuery(location, { digest }), { method: "PUT", body: bytes, headers: { "Content-Length": String(bytes.byteLength) } });
    await expectError(response, 403, "DENIED");
    await expectNothingStored(`${project}/app`, digest);
  });

  it("is refused at the PATCH whose Content-Range goes past the limit, and the upload ends", async () => {
    const project = await limited(1000);
    const { location } = await openUpload(`${project}/app`);
    expect((await patchChunk(location, randomBytes(600, 24), 0)).status).toBe(202);
    await expectError(await patchChunk(location, randomBytes(600, 25), 600), 403, "DENIED");
    await expectError(await request(location), 404, "BLOB_UPLOAD_UNKNOWN");
  });

  it("is refused at the closing PUT of a streamed upload, before the blob is linked, and its bytes are deleted", async () => {
    const project = await limited(1000);
    const bytes = randomBytes(2000, 26);
    const digest = await digestOf(bytes);
    const { location, sessionId } = await openUpload(`${project}/app`);
    // Streamed as docker does: no length, no range; only the closing PUT knows the digest.
    expect((await request(location, { method: "PATCH", body: streamOf(bytes, 500) })).status).toBe(202);
    await expectError(await request(withQuery(location, { digest }), { method: "PUT" }), 403, "DENIED");
    await expectNothingStored(`${project}/app`, digest);
    expect(await env.BLOBS.head(uploadKey(sessionId))).toBeNull();
    expect(await used(project)).toBe(0);
  });

  it("is refused for a blob streamed with ?digest= and no length", async () => {
    const project = await limited(1000);
    const bytes = randomBytes(1200, 27);
    const digest = await digestOf(bytes);
    const response = await request(`/v2/${project}/app/blobs/uploads/?digest=${digest}`, { method: "POST", body: streamOf(bytes, 400) });
    await expectError(response, 403, "DENIED");
    await expectNothingStored(`${project}/app`, digest);
  });

  it("is refused for a manifest that does not fit, which is then not in the repository", async () => {
    const project = await apiProject();
    const repository = `${project}/app`;
    const config = await pushBlob(repository, randomBytes(100, 28));
    const layer = await pushBlob(repository, randomBytes(100, 29));
    await setLimit(project, 200);
    const bytes = imageManifest(config, [layer]);
    await expectError(await putManifest(repository, "v1", bytes), 403, "DENIED");
    expect((await request(`/v2/${repository}/manifests/v1`, { method: "HEAD" })).status).toBe(404);
    expect(await used(project)).toBe(200);
  });

  it("takes a mount, or a push again, of a digest the project holds, at the limit", async () => {
    const project = await apiProject();
    const bytes = randomBytes(800, 30);
    const { digest } = await pushBlob(`${project}/a`, bytes);
    await setLimit(project, 800);
    const mount = await request(`/v2/${project}/b/blobs/uploads/?mount=${digest}&from=${project}/a`, { method: "POST" });
    expect(mount.status, await mount.text()).toBe(201);
    expect(await blobStatus(`${project}/b`, digest)).toBe(200);
    expect((await monolithic(`${project}/c`, digest, bytes)).status).toBe(201);
    expect(await used(project)).toBe(800);
  });

  it("refuses a mount of a digest from another project that does not fit", async () => {
    const source = await apiProject();
    const { digest } = await pushBlob(`${source}/a`, randomBytes(800, 31));
    const project = await limited(500);
    await expectError(await request(`/v2/${project}/b/blobs/uploads/?mount=${digest}&from=${source}/a`, { method: "POST" }), 403, "DENIED");
    expect(await blobStatus(`${project}/b`, digest)).toBe(404);
  });

  it("is taken again once the limit is lifted (-1)", async () => {
    const project = await limited(10);
    await setLimit(project, -1);
    await pushBlob(`${project}/app`, randomBytes(5000, 32));
    expect(await used(project)).toBe(5000);
  });
});

describe("PATCH /api/v1/projects/{project} with storageLimitBytes", () => {
  expectNoServerErrors();

  it("refuses a project admin (403 DENIED saying why), changing nothing", async () => {
    const project = await apiProject();
    const gina = await member(project, "projectAdmin");
    const response = await api(`/projects/${project}`, { as: gina, method: "PATCH", body: { public: true, storageLimitBytes: 1000 } });
    expect(await expectError(response, 403, "DENIED")).toContain("storage limit");
    expect(await apiJson(`/projects/${project}`)).toMatchObject({ public: false, storageLimitBytes: -1 });
  });

  it("sets the limit and the visibility together for a system admin", async () => {
    const project = await apiProject();
    const body = { public: true, storageLimitBytes: 4096 };
    expect(await apiJson(`/projects/${project}`, { method: "PATCH", body })).toMatchObject({ ...body, storageUsedBytes: 0 });
    expect(await apiJson(`/projects/${project}`)).toMatchObject(body);
  });

  it.each([
    ["-2", -2],
    ["1.5", 1.5],
    ['"x"', "x"],
    ["null", null],
    ["a string of digits", "1000"],
  ])("answers storageLimitBytes %s with 400 INVALID_REQUEST", async (_, storageLimitBytes) => {
    const project = await apiProject();
    const message = await expectError(await api(`/projects/${project}`, { method: "PATCH", body: { storageLimitBytes } }), 400, "INVALID_REQUEST");
    expect(message).toContain("storageLimitBytes");
  });

  it("answers a body that sets nothing with 400", async () => {
    await expectError(await api(`/projects/${await apiProject()}`, { method: "PATCH", body: {} }), 400, "INVALID_REQUEST");
  });
});
