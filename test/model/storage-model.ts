// The model behind test/model/gc-interleavings.test.ts: what Pier must still serve (every
// tagged image, byte for byte) and, after a final collection, exactly what it may still store.
import type { Descriptor } from "../helpers/registry";

export interface ModelImage {
  digest: string;
  bytes: Uint8Array;
  /** Config and layers. */
  blobs: Descriptor[];
}

/** Tags per repository, as the model says they must pull. */
export class StorageModel {
  readonly tags = new Map<string, Map<string, ModelImage>>();

  tag(repository: string, tag: string, image: ModelImage): void {
    const tags = this.tags.get(repository) ?? new Map<string, ModelImage>();
    tags.set(tag, image);
    this.tags.set(repository, tags);
  }

  untag(repository: string, tag: string): void {
    this.tags.get(repository)?.delete(tag);
  }

  /** Deleting a manifest by digest takes every tag on it. */
  deleteManifest(repository: string, digest: string): void {
    for (const [tag, image] of this.tags.get(repository) ?? []) if (image.digest === digest) this.untag(repository, tag);
  }

  taggedImages(): { repository: string; tag: string; image: ModelImage }[] {
    return [...this.tags].flatMap(([repository, tags]) => [...tags].map(([tag, image]) => ({ repository, tag, image })));
  }

  /** After a final collection that deletes untagged manifests: the rows that must remain, and no more. */
  expectedRows(): { manifests: Set<string>; links: Set<string>; blobs: Set<string> } {
    const manifests = new Set<string>();
    const links = new Set<string>();
    const blobs = new Set<string>();
    for (const { repository, image } of this.taggedImages()) {
      manifests.add(`${repository}@${image.digest}`);
      blobs.add(image.digest);
      for (const blob of image.blobs) {
        links.add(`${repository}@${blob.digest}`);
        blobs.add(blob.digest);
      }
    }
    return { manifests, links, blobs };
  }
}

/** mulberry32: a small seeded generator, so a failing sequence replays from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
