// Where a BlobFill writes the bytes it fetches: R2, in equal multipart parts (R2 multipart: all
// parts but the last the same size, at least 5 MiB, at most 10,000 of them; PART_SIZE is 8 MiB).
// Nothing written here is visible: parts of an unfinished multipart upload cannot be read, a
// completed one lives under fills/<id>, which only D1 can point at, and D1 is written by the
// fill after the digest checked. A blob smaller than one part is held in memory and written in
// one PUT under its content key, with R2 re-checking the digest (R2PutOptions sha256/sha512).
//
// The open multipart upload is written to the object's storage before its first part is sent:
// if the object is evicted or restarted mid-fill, its alarm (blob-fill.ts) finds the record
// and aborts the upload, so a dead fill leaves no parts behind.
import { type Digest, digestAlgorithm, digestHex } from "../worker/oci/digest";
import { contentKey, fillKey } from "../worker/storage/keys";
import { PART_SIZE, PartBuffer } from "../worker/storage/part-buffer";

/** R2's limit on the number of parts of one multipart upload. */
const MAX_PARTS = 10_000;
/** How often the object checks for multipart uploads a dead fill left open. */
export const ORPHAN_CHECK_MS = 15 * 60 * 1000;
/** Storage keys of open multipart uploads: `multipart:<uploadId>` → OpenMultipart. */
export const MULTIPART_PREFIX = "multipart:";

export interface OpenMultipart {
  key: string;
  uploadId: string;
}

export class FillSink {
  private readonly buffer = new PartBuffer();
  private readonly parts: R2UploadedPart[] = [];
  private multipart: { upload: R2MultipartUpload; record: OpenMultipart } | null = null;
  /** One part in flight while the next one fills: R2 I/O overlaps with the upstream read. */
  private inFlight: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly bucket: R2Bucket,
    private readonly storage: DurableObjectStorage,
    private readonly digest: Digest,
  ) {}

  /** The upload this sink may leave behind, for the alarm to tell live from orphaned. */
  get uploadId(): string | null {
    return this.multipart?.record.uploadId ?? null;
  }

  /** Takes a chunk; resolves when it is buffered or the parts it completed are on their way. */
  async write(chunk: Uint8Array): Promise<void> {
    this.buffer.push(chunk);
    for (let part = this.buffer.takePart(); part !== null; part = this.buffer.takePart()) {
      await this.inFlight;
      if (this.parts.length + 1 >= MAX_PARTS) throw new Error(`the blob needs more than ${MAX_PARTS} parts of ${PART_SIZE} bytes`);
      const multipart = this.multipart ?? (await this.startMultipart());
      const partNumber = this.parts.length + 1;
      this.parts.push({ partNumber, etag: "" });
      // A Blob joins the chunk views natively, outside the JavaScript heap (as in UploadSession).
      this.inFlight = multipart.upload.uploadPart(partNumber, new Blob(part)).then((uploaded) => {
        this.parts[partNumber - 1] = uploaded;
      });
      // Awaited by the next part or by finish/discard; until then a failure is not "unhandled".
      this.inFlight.catch(() => {});
    }
  }

  /**
   * Makes the bytes durable. Call only once the digest is verified. Returns the R2 key that
   * holds the blob.
   */
  async finish(): Promise<string> {
    this.closed = true;
    await this.inFlight;
    const last = this.buffer.takeAll();
    if (this.multipart === null) {
      const key = contentKey(this.digest);
      await this.bucket.put(key, last, { [digestAlgorithm(this.digest)]: digestHex(this.digest) });
      return key;
    }
    const { upload, record } = this.multipart;
    if (last.byteLength > 0) this.parts.push(await upload.uploadPart(this.parts.length + 1, last));
    await upload.complete(this.parts);
    this.multipart = null;
    await this.storage.delete(MULTIPART_PREFIX + record.uploadId);
    return record.key;
  }

  /** Drops everything written: the fill failed. Never throws (it runs on failure paths). */
  async discard(): Promise<void> {
    this.closed = true;
    this.buffer.takeAll();
    await this.inFlight.catch(() => {});
    if (this.multipart === null) return;
    const { upload, record } = this.multipart;
    this.multipart = null;
    try {
      await upload.abort();
      await this.storage.delete(MULTIPART_PREFIX + record.uploadId);
    } catch (error) {
      // The record stays: the alarm tries again.
      console.warn("blob fill: aborting the multipart upload failed", error);
    }
  }

  private async startMultipart(): Promise<{ upload: R2MultipartUpload; record: OpenMultipart }> {
    if (this.closed) throw new Error("the fill sink is closed");
    const key = fillKey(crypto.randomUUID());
    const upload = await this.bucket.createMultipartUpload(key);
    // Known as this run's before it is recorded: the alarm never takes a live upload for dead.
    this.multipart = { upload, record: { key, uploadId: upload.uploadId } };
    await this.storage.put(MULTIPART_PREFIX + upload.uploadId, this.multipart.record);
    if ((await this.storage.getAlarm()) === null) await this.storage.setAlarm(Date.now() + ORPHAN_CHECK_MS);
    return this.multipart;
  }
}

/**
 * Aborts a multipart upload a previous instance of the object left open, and forgets it. If R2
 * refuses (it may already be gone), the record goes anyway rather than be retried forever: R2
 * itself aborts multipart uploads left incomplete for 7 days (its default lifecycle rule).
 */
export async function abortOrphan(bucket: R2Bucket, storage: DurableObjectStorage, record: OpenMultipart): Promise<void> {
  await bucket
    .resumeMultipartUpload(record.key, record.uploadId)
    .abort()
    .catch((error: unknown) => console.warn("blob fill: aborting an orphaned multipart upload failed", error));
  await storage.delete(MULTIPART_PREFIX + record.uploadId);
}
