// Referrers at a remote registry (worker/replication/remote-referrers.ts): listed through the
// referrers API, or through the tag schema's `<alg>-<hex>` index where the remote has no API;
// and a referrer pushed to a remote that did not process its subject (no OCI-Subject header)
// is added to that index, as the distribution spec asks of every client that pushes one.
import { describe, expect, it } from "vitest";
import type { Digest } from "../../worker/oci/digest";
import { UpstreamError } from "../../worker/proxy/upstream-client";
import type { Endpoint, ManifestBytes } from "../../worker/replication/endpoint";
import { referrersTag } from "../../worker/replication/remote-referrers";
import { random, remoteManifest, seedImage, seedManifest, SIGNATURE_TYPE } from "../helpers/fake-remote";
import { blobSource, digestFor, registeredRemote, rejectionOf } from "../helpers/remote-registries";
import { jsonBytes, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST } from "../helpers/registry";

describe("listing referrers", () => {
  for (const referrersApi of [true, false]) {
    const how = referrersApi ? "through the referrers API" : "through the tag schema, where the remote has no referrers API";
    it(`lists a signed image's referrer ${how}`, async () => {
      const { remote, endpoint } = await registeredRemote({ referrersApi });
      const image = await seedImage(remote.id, "team/app", "v1", { referrer: true });
      const referrer = image.referrer!;
      expect(await endpoint.listReferrers("team/app", image.digest as Digest)).toEqual([
        { mediaType: OCI_MANIFEST, digest: referrer.digest, size: referrer.bytes.byteLength, artifactType: SIGNATURE_TYPE },
      ]);
    });

    it(`lists none for an image nothing refers to, ${how}`, async () => {
      const { remote, endpoint } = await registeredRemote({ referrersApi });
      const image = await seedImage(remote.id, "team/app", "v1");
      expect(await endpoint.listReferrers("team/app", image.digest as Digest)).toEqual([]);
    });
  }

  it("lists none when the tag-schema tag holds something other than an index", async () => {
    const { remote, endpoint } = await registeredRemote({ referrersApi: false });
    const image = await seedImage(remote.id, "team/app", "v1");
    const other = await seedImage(remote.id, "team/app", "other");
    await seedManifest(remote.id, "team/app", referrersTag(image.digest as Digest), other.bytes, other.mediaType);
    expect(await endpoint.listReferrers("team/app", image.digest as Digest)).toEqual([]);
  });
});

describe("the referrers tag", () => {
  it("is the subject's algorithm and encoded digest joined by '-', the encoded part cut at 64 characters", () => {
    expect(referrersTag(`sha256:${"a".repeat(64)}` as Digest)).toBe(`sha256-${"a".repeat(64)}`);
    expect(referrersTag(`sha512:${"b".repeat(128)}` as Digest)).toBe(`sha512-${"b".repeat(64)}`);
  });
});

/** Pushes an artifact (empty config, one layer) whose subject is `subject` by digest; returns what was pushed. */
async function pushReferrer(endpoint: Endpoint, subject: { digest: string; bytes: Uint8Array; mediaType: string }, extra: Record<string, unknown>): Promise<ManifestBytes> {
  const empty = jsonBytes({});
  const layer = random(64);
  for (const bytes of [empty, layer]) await endpoint.putBlob("team/app", await digestFor(bytes), blobSource(bytes).read, null);
  const bytes = jsonBytes({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_EMPTY, digest: await digestFor(empty), size: 2 },
    layers: [{ mediaType: "application/octet-stream", digest: await digestFor(layer), size: layer.byteLength }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.bytes.byteLength },
    ...extra,
  });
  const manifest = { digest: await digestFor(bytes), mediaType: OCI_MANIFEST, bytes };
  await endpoint.putManifest("team/app", manifest.digest, manifest);
  return manifest;
}

async function tagSchemaIndex(remoteId: string, subject: string): Promise<{ mediaType: string; manifests: Record<string, unknown>[] } | null> {
  const stored = await remoteManifest(remoteId, "team/app", referrersTag(subject as Digest));
  return stored === null ? null : JSON.parse(new TextDecoder().decode(stored.bytes));
}

describe("pushing a referrer", () => {
  it("leaves the tag schema alone where the remote processed the subject (OCI-Subject)", async () => {
    const { remote, endpoint } = await registeredRemote({ referrersApi: true });
    const image = await seedImage(remote.id, "team/app", "v1");
    const referrer = await pushReferrer(endpoint, image, { artifactType: SIGNATURE_TYPE });
    expect(await tagSchemaIndex(remote.id, image.digest)).toBeNull();
    expect((await endpoint.listReferrers("team/app", image.digest as Digest)).map((entry) => entry.digest)).toEqual([referrer.digest]);
  });

  it("adds it to the subject's tag-schema index where the remote did not: its type and annotations", async () => {
    const { remote, endpoint } = await registeredRemote({ referrersApi: false });
    const image = await seedImage(remote.id, "team/app", "v1");
    const referrer = await pushReferrer(endpoint, image, { artifactType: SIGNATURE_TYPE, annotations: { "org.example.signed-by": "ci" } });
    expect(await tagSchemaIndex(remote.id, image.digest)).toEqual({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: OCI_MANIFEST, digest: referrer.digest, size: referrer.bytes.byteLength, artifactType: SIGNATURE_TYPE, annotations: { "org.example.signed-by": "ci" } }],
    });
    expect(await endpoint.listReferrers("team/app", image.digest as Digest)).toEqual([{ mediaType: OCI_MANIFEST, digest: referrer.digest, size: referrer.bytes.byteLength, artifactType: SIGNATURE_TYPE }]);
  });

  it("keeps the referrers listed before, gives an artifact without artifactType its config's media type, and lists nothing twice", async () => {
    const { remote, endpoint } = await registeredRemote({ referrersApi: false });
    const image = await seedImage(remote.id, "team/app", "v1", { referrer: true });
    const sbom = await pushReferrer(endpoint, image, {});
    await endpoint.putManifest("team/app", sbom.digest, sbom);
    const index = await tagSchemaIndex(remote.id, image.digest);
    expect(index?.manifests.map((entry) => [entry.digest, entry.artifactType])).toEqual([
      [image.referrer!.digest, SIGNATURE_TYPE],
      [sbom.digest, OCI_EMPTY],
    ]);
  });

  it("fails rather than overwrite a tag-schema tag that holds something other than an index", async () => {
    const { remote, endpoint } = await registeredRemote({ referrersApi: false });
    const image = await seedImage(remote.id, "team/app", "v1");
    const other = await seedImage(remote.id, "team/app", "other");
    await seedManifest(remote.id, "team/app", referrersTag(image.digest as Digest), other.bytes, other.mediaType);
    const error = await rejectionOf(pushReferrer(endpoint, image, { artifactType: SIGNATURE_TYPE }));
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).message).toContain("not an image index");
    expect((await remoteManifest(remote.id, "team/app", referrersTag(image.digest as Digest)))?.digest).toBe(other.digest);
  });
});
