import type { ProvenanceStore, StoredFileRecord } from '../src/provenance/store';
import type { ObjectStore } from '../src/storage/objectStore';

export interface BookkeepingLimits {
  /** Rows written by one INSERT at most. */
  rows: number;
  /**
   * Bytes of stored-but-unrecorded files at most: what a crash could make the next attempt fetch
   * again (it finds no row, so it transfers those files anew and overwrites identical objects).
   */
  bytes: number;
}

/**
 * What makes a transferred file count as stored: its sidecar in the bucket, then its provenance
 * row. Both are written behind the transfers, so they cost the batch no waiting:
 * - a file's sidecar is written while the next file transfers (at most one file behind);
 * - rows wait until their sidecars are in and go to Postgres together, one INSERT for up to
 *   `limits.rows` files, or sooner once they stand for `limits.bytes` of transfers.
 * `drain()` writes whatever is left; only after it may the activity report the files stored.
 */
export class Bookkeeping {
  private lastSidecar: Promise<void> = Promise.resolve();
  private unrecorded: Array<{ record: StoredFileRecord; sidecar: Promise<void> }> = [];
  private unrecordedBytes = 0;
  private recording: Promise<void> = Promise.resolve();
  private failure: unknown = undefined;

  constructor(
    private readonly store: Pick<ObjectStore, 'putJson'>,
    private readonly provenance: Pick<ProvenanceStore, 'recordStored'>,
    private readonly limits: BookkeepingLimits,
  ) {}

  /** Queues the sidecar and row of a stored file. Resolves when the previous file's sidecar is written. */
  async add(sidecarKey: string, sidecar: unknown, record: StoredFileRecord): Promise<void> {
    this.throwIfFailed();
    const previous = this.lastSidecar;
    const written = this.store.putJson(sidecarKey, sidecar).then(() => undefined);
    written.catch(() => undefined); // awaited later; this only keeps Node from calling it unhandled meanwhile
    this.lastSidecar = written;
    this.unrecorded.push({ record, sidecar: written });
    this.unrecordedBytes += record.size;
    if (this.unrecorded.length >= this.limits.rows || this.unrecordedBytes >= this.limits.bytes) {
      // One INSERT in flight at a time: a slow Postgres slows the transfers rather than piling rows up.
      await this.recording;
      this.throwIfFailed();
      this.recordUnrecorded();
    }
    await previous;
  }

  /** Writes every queued sidecar and row; throws the first failure. */
  async drain(): Promise<void> {
    this.recordUnrecorded();
    await this.recording;
    await this.lastSidecar;
    this.throwIfFailed();
  }

  private recordUnrecorded(): void {
    if (this.unrecorded.length === 0) return;
    const batch = this.unrecorded;
    this.unrecorded = [];
    this.unrecordedBytes = 0;
    this.recording = this.recording.then(async () => {
      if (this.failure !== undefined) return;
      try {
        // The sidecars go first: an object with provenance in Postgres always has its sidecar too.
        await Promise.all(batch.map((b) => b.sidecar));
        await this.provenance.recordStored(batch.map((b) => b.record));
      } catch (err) {
        this.failure ??= err;
      }
    });
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
