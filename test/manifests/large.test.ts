// Large manifests. The spec asks registries to accept manifests of at least 4 MiB
// ("Pushing Manifests"); Pier takes up to 8 MiB, keeps those over 64 KiB in R2 rather than in
// a D1 row (D1 rows are capped at 2 MB), and refuses larger ones with 413.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MAX_MANIFEST_BYTES } from "../../worker/services/manifests";
import { bodyBytes, digestOf, errorCode, expectSameBytes, imageManifest, OCI_CONFIG, OCI_MANIFEST, pushBlob, putManifest, randomBytes, request, jsonBytes, uniqueRepo } from "../helpers/registry";

const MiB = 1024 * 1024;

async function baseImage(repository: string) {
  const config = await pushBlob(repository, jsonBytes({ os: "linux" }), OCI_CONFIG);
  const layer = await pushBlob(repository, randomBytes(256, 11));
  return { config, layer };
}

describe("a manifest of about 4.5 MiB", () => {
  it("is accepted and served byte-identical when it has many layer entries", async () => {
    const repository = uniqueRepo("large/layers");
    const { config, layer } = await baseImage(repository);
    const count = Math.ceil((4.5 * MiB) / JSON.stringify(layer).length);
    const bytes = imageManifest(config, Array.from({ length: count }, () => layer));
    expect(bytes.byteLength).toBeGreaterThan(4.5 * MiB);
    const put = await putManifest(repository, "big", bytes);
    expect(put.status, await put.clone().text()).toBe(201);
    const response = await request(`/v2/${repository}/manifests/big`);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Length")).toBe(String(bytes.byteLength));
    expect(response.headers.get("Docker-Content-Digest")).toBe(await digestOf(bytes));
    expectSameBytes(await bodyBytes(response), bytes);
  });

  it("is accepted and served byte-identical when it has many annotations", async () => {
    const repository = uniqueRepo("large/annotations");
    const { config, layer } = await baseImage(repository);
    const annotations: Record<string, string> = {};
    for (let i = 0; i < 4500; i++) annotations[`com.example.note.${i}`] = "x".repeat(1024);
    const bytes = imageManifest(config, [layer], { annotations });
    expect(bytes.byteLength).toBeGreaterThan(4.5 * MiB);
    const put = await putManifest(repository, "big", bytes);
    expect(put.status, await put.clone().text()).toBe(201);
    const response = await request(`/v2/${repository}/manifests/big`);
    expect(response.status).toBe(200);
    expectSameBytes(await bodyBytes(response), bytes);
  });

  it("is stored in R2 under its digest, not inline in D1", async () => {
    const repository = uniqueRepo("large/r2");
    const { config, layer } = await baseImage(repository);
    const bytes = imageManifest(config, Array.from({ length: 30_000 }, () => layer));
    expect(bytes.byteLength).toBeGreaterThan(64 * 1024);
    const put = await putManifest(repository, "big", bytes);
    expect(put.status).toBe(201);
    const digest = put.headers.get("Docker-Content-Digest")!;
    const row = await env.DB.prepare("SELECT object_key, content FROM blobs WHERE digest = ?").bind(digest).first<{ object_key: string | null; content: string | null }>();
    expect(row?.content).toBeNull();
    expect(row?.object_key).toBeTruthy();
    const object = await env.BLOBS.get(row!.object_key!);
    expect(object).not.toBeNull();
    expectSameBytes(new Uint8Array(await object!.arrayBuffer()), bytes);
  });

  it("keeps every D1 row it writes under D1's 2 MB row limit, even with megabytes of annotations", async () => {
    // D1: "Maximum string, BLOB or table row size: 2,000,000 bytes" (not enforced by miniflare).
    const repository = uniqueRepo("large/d1row");
    const { config, layer } = await baseImage(repository);
    const annotations: Record<string, string> = {};
    for (let i = 0; i < 3000; i++) annotations[`com.example.note.${i}`] = "y".repeat(1024);
    const put = await putManifest(repository, "big", imageManifest(config, [layer], { annotations }));
    expect(put.status).toBe(201);
    const digest = put.headers.get("Docker-Content-Digest")!;
    const rows = await env.DB.prepare(
      "SELECT 'manifests' AS tbl, coalesce(length(subject), 0) + coalesce(length(artifact_type), 0) + length(media_type) + length(repository) AS bytes FROM manifests WHERE digest = ?1 " +
        "UNION ALL SELECT 'blobs', coalesce(length(CAST(content AS BLOB)), 0) FROM blobs WHERE digest = ?1",
    )
      .bind(digest)
      .all<{ tbl: string; bytes: number }>();
    expect(rows.results.length).toBe(2);
    for (const row of rows.results) expect(row.bytes, `${row.tbl} row`).toBeLessThan(2_000_000);
  });
});

describe("a manifest over 8 MiB", () => {
  it("is refused with 413 SIZE_INVALID when Content-Length says so", async () => {
    const repository = uniqueRepo("large/over");
    const bytes = new Uint8Array(MAX_MANIFEST_BYTES + 1).fill(0x20);
    const response = await putManifest(repository, "huge", bytes);
    expect(response.status).toBe(413);
    expect(await errorCode(response)).toBe("SIZE_INVALID");
  });

  it("is refused with 413 SIZE_INVALID when streamed without Content-Length", async () => {
    const repository = uniqueRepo("large/stream");
    const chunk = new Uint8Array(MiB).fill(0x20);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 9) return controller.close();
        sent += 1;
        controller.enqueue(chunk);
      },
    });
    const response = await request(`/v2/${repository}/manifests/huge`, { method: "PUT", body, headers: { "Content-Type": OCI_MANIFEST } });
    expect(response.status).toBe(413);
    expect(await errorCode(response)).toBe("SIZE_INVALID");
  });

  it("leaves no tag behind", async () => {
    const repository = uniqueRepo("large/notag");
    await putManifest(repository, "huge", new Uint8Array(MAX_MANIFEST_BYTES + 1).fill(0x20));
    const response = await request(`/v2/${repository}/manifests/huge`);
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("MANIFEST_UNKNOWN");
  });
});

describe("a large referrer", () => {
  it("is listed by the referrers API with the annotations read from its stored bytes", async () => {
    const repository = uniqueRepo("large/referrer");
    const { config, layer } = await baseImage(repository);
    const subject = await putManifest(repository, "subject", imageManifest(config, [layer]));
    const subjectDigest = subject.headers.get("Docker-Content-Digest")!;
    const annotations: Record<string, string> = { "org.example.kind": "sbom", "org.example.padding": "z".repeat(200_000) };
    const referrer = imageManifest(config, [layer], {
      artifactType: "application/vnd.example.sbom",
      subject: { mediaType: OCI_MANIFEST, digest: subjectDigest, size: 10 },
      annotations,
    });
    const put = await putManifest(repository, await digestOf(referrer), referrer);
    expect(put.status).toBe(201);

    const listing = await request(`/v2/${repository}/referrers/${subjectDigest}`);
    const index = (await listing.json()) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]!.annotations).toEqual(annotations);
  });
});
