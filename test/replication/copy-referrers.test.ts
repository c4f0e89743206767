// Referrers travel with their subject (worker/replication/copy-referrers.ts): signatures, SBOMs
// and attestations, and the referrers of those, so a signed image stays verifiable at the
// destination.
import { describe, expect, it } from "vitest";
import { MAX_REFERRER_DEPTH } from "../../worker/replication/copy-referrers";
import { copyArtifact } from "../../worker/replication/copy-artifact";
import type { Endpoint } from "../../worker/replication/endpoint";
import { headAndPullDataSet, pushDataSet, referrersList, sameReferrer } from "../helpers/conformance-api";
import { type Desc, MT_OCTET, TestData } from "../helpers/conformance-data";
import { newProject } from "../helpers/identities";
import { copyOptions, MemoryEndpoint, pier, recording, writesOf } from "../helpers/memory-endpoint";
import { type Descriptor, pushReferrer } from "../helpers/registry";

const SBOM = "application/vnd.example.sbom";
const SIG = "application/vnd.example.signature";

/** An artifact (one random layer) of `type` whose subject is `subject`. */
function artifactOn(td: TestData, subject: Desc, type: string, tag?: string): Promise<string> {
  return td.genManifestFull({ artifactType: type, subject, layerCount: 1, layerMediaType: MT_OCTET, tag });
}

async function pushed(generate: (td: TestData) => Promise<unknown>): Promise<{ repository: string; td: TestData }> {
  const td = new TestData("referrers");
  await generate(td);
  const repository = `${await newProject()}/app`;
  await pushDataSet(repository, td);
  return { repository, td };
}

function copy(source: Endpoint, from: string, reference: string, target: Endpoint, to: string) {
  return copyArtifact(source, target, { repository: from, reference }, { repository: to }, copyOptions());
}

async function expectListed(repository: string, subject: string, td: TestData): Promise<void> {
  const listed = (await referrersList(repository, subject)).manifests;
  const expected = td.referrers.get(subject) ?? [];
  expect(listed).toHaveLength(expected.length);
  for (const goal of expected) expect(listed.some((entry) => sameReferrer(entry, goal)), `referrer ${goal.digest} of ${subject}`).toBe(true);
}

describe("referrers in a copy", () => {
  it("come along with the image, and so do their own referrers (a signature on an SBOM)", async () => {
    let image = "";
    let sbom = "";
    const { repository, td } = await pushed(async (td) => {
      image = await td.genManifestFull({ tag: "v1" });
      sbom = await artifactOn(td, td.descriptor(image), SBOM);
      await artifactOn(td, td.descriptor(sbom), SIG);
    });
    const to = `${await newProject()}/copy`;
    expect(await copy(pier(), repository, "v1", pier(), to)).toMatchObject({ skipped: null, manifestsCopied: 3 });
    await headAndPullDataSet(to, td);
    await expectListed(to, image, td);
    await expectListed(to, sbom, td);
  });

  it("that the destination lacks are copied even when the artifact itself is already there", async () => {
    const { repository, td } = await pushed((td) => td.genManifestFull({ tag: "v1" }));
    const to = `${await newProject()}/copy`;
    await copy(pier(), repository, "v1", pier(), to);
    const image = td.descriptor(td.tags.get("v1")!) as Descriptor;
    const signature = await pushReferrer(repository, image, { artifactType: SIG, seed: 301 });

    const target = recording(pier());
    const result = await copy(pier(), repository, "v1", target.endpoint, to);
    expect(result).toMatchObject({ manifestsCopied: 1, manifestsSkipped: 1 });
    expect(writesOf(target.calls).filter((write) => write.startsWith("putManifest"))).toEqual([`putManifest ${signature.digest}`]);
    expect((await referrersList(to, image.digest)).manifests.map((entry) => entry.digest)).toEqual([signature.digest]);
  });

  it("of an index's children are copied with the index", async () => {
    let child = "";
    const { repository, td } = await pushed(async (td) => {
      await td.genIndexFull({ tag: "multi" });
      child = td.manOrder[0]!;
      await artifactOn(td, td.descriptor(child), SIG);
    });
    const to = `${await newProject()}/copy`;
    expect(await copy(pier(), repository, "multi", pier(), to)).toMatchObject({ manifestsCopied: 4 });
    await expectListed(to, child, td);
  });

  it(`are followed at most ${MAX_REFERRER_DEPTH} levels from the artifact`, async () => {
    const td = new TestData("chain");
    const chain = [await td.genManifestFull({ tag: "v1" })];
    for (let level = 1; level <= MAX_REFERRER_DEPTH + 1; level++) chain.push(await artifactOn(td, td.descriptor(chain[level - 1]!), SIG));
    const source = new MemoryEndpoint("source");
    await source.load("library/app", td);
    const target = new MemoryEndpoint("target");
    expect(await copy(source, "library/app", "v1", target, "mirror/app")).toMatchObject({ manifestsCopied: MAX_REFERRER_DEPTH + 1 });
    const copied = await Promise.all(chain.map((digest) => target.manifestDigest("mirror/app", digest)));
    expect(copied.map((digest) => digest !== null)).toEqual([...chain.slice(0, -1).map(() => true), false]);
  });
});
