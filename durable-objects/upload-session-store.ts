// The persisted state of one UploadSession, in the object's own SQLite storage. Rows, not a
// serialized blob: the tail (bytes that do not fill an R2 part yet) can be megabytes, and a
// SQLite row holds at most 2 MB, so it is kept in 1 MiB rows.

/** Everything needed to resume an upload after a restart. */
export interface SessionState {
  repository: string;
  sessionId: string;
  /** Bytes received and accepted so far. */
  offset: number;
  /** The R2 multipart upload, once the first full part was sent. */
  uploadId: string | null;
  parts: R2UploadedPart[];
  /** ResumableSha256.exportState() after `offset` bytes. */
  hashState: Uint8Array;
}

const TAIL_ROW_BYTES = 1024 * 1024;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS session (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    repository TEXT NOT NULL,
    session_id TEXT NOT NULL,
    received INTEGER NOT NULL,
    upload_id TEXT,
    hash_state BLOB NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS parts (part_number INTEGER PRIMARY KEY, etag TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS tail (seq INTEGER PRIMARY KEY, bytes BLOB NOT NULL);
`;

interface SessionRow extends Record<string, SqlStorageValue> {
  repository: string;
  session_id: string;
  received: number;
  upload_id: string | null;
  hash_state: ArrayBuffer;
}

export class SessionStore {
  private readonly sql: SqlStorage;
  /**
   * Whether this object holds a session. Tables are created only by `create()`: a request for
   * an unknown (or guessed) session id must not leave storage behind, and after `clear()` the
   * object is empty again.
   */
  private exists: boolean;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.exists = this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'session'").toArray().length > 0;
  }

  holdsSession(): boolean {
    return this.exists;
  }

  create(repository: string, sessionId: string, hashState: Uint8Array, now: number): void {
    this.sql.exec(SCHEMA);
    this.exists = true;
    this.sql.exec(
      "INSERT INTO session (singleton, repository, session_id, received, upload_id, hash_state, created_at) VALUES (1, ?, ?, 0, NULL, ?, ?)",
      repository,
      sessionId,
      toArrayBuffer(hashState),
      now,
    );
  }

  /** The session, if it exists and belongs to `repository` (ids are bound to their repository). */
  load(repository: string): SessionState | null {
    const state = this.loadAny();
    return state !== null && state.repository === repository ? state : null;
  }

  loadAny(): SessionState | null {
    if (!this.exists) return null;
    const row = this.sql.exec<SessionRow>("SELECT repository, session_id, received, upload_id, hash_state FROM session").toArray()[0];
    if (row === undefined) return null;
    const parts = this.sql
      .exec<{ part_number: number; etag: string }>("SELECT part_number, etag FROM parts ORDER BY part_number")
      .toArray()
      .map((part) => ({ partNumber: part.part_number, etag: part.etag }));
    return {
      repository: row.repository,
      sessionId: row.session_id,
      offset: row.received,
      uploadId: row.upload_id,
      parts,
      hashState: new Uint8Array(row.hash_state),
    };
  }

  loadTail(): Uint8Array[] {
    if (!this.exists) return [];
    return this.sql
      .exec<{ bytes: ArrayBuffer }>("SELECT bytes FROM tail ORDER BY seq")
      .toArray()
      .map((row) => new Uint8Array(row.bytes));
  }

  saveUploadId(uploadId: string): void {
    this.sql.exec("UPDATE session SET upload_id = ?", uploadId);
  }

  /**
   * Saves an accepted chunk atomically: offset, parts, hash state and the tail. When the chunk
   * filled no part, the stored tail is still valid and only the new bytes are appended, so that
   * many small chunks do not rewrite the tail again and again.
   */
  saveChunk(state: SessionState, tail: { replace: readonly Uint8Array[] } | { append: readonly Uint8Array[] }): void {
    this.storage.transactionSync(() => {
      this.sql.exec(
        "UPDATE session SET received = ?, upload_id = ?, hash_state = ?",
        state.offset,
        state.uploadId,
        toArrayBuffer(state.hashState),
      );
      for (const part of state.parts) {
        this.sql.exec("INSERT OR REPLACE INTO parts (part_number, etag) VALUES (?, ?)", part.partNumber, part.etag);
      }
      if ("replace" in tail) this.sql.exec("DELETE FROM tail");
      let seq = "replace" in tail ? 0 : this.sql.exec<{ next: number }>("SELECT coalesce(max(seq) + 1, 0) AS next FROM tail").one().next;
      for (const chunk of "replace" in tail ? tail.replace : tail.append) {
        for (let start = 0; start < chunk.byteLength; start += TAIL_ROW_BYTES) {
          const row = chunk.subarray(start, Math.min(start + TAIL_ROW_BYTES, chunk.byteLength));
          this.sql.exec("INSERT INTO tail (seq, bytes) VALUES (?, ?)", seq++, toArrayBuffer(row));
        }
      }
    });
  }

  /** Drops everything: the session is over. */
  async clear(): Promise<void> {
    this.exists = false;
    await this.storage.deleteAlarm();
    await this.storage.deleteAll();
  }
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
