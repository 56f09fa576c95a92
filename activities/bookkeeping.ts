import type { ProvenanceStore, StoredFileRecord } from '../src/provenance/store';
import type { ObjectStore } from '../src/storage/objectStore';

export interface BookkeepingLimits {
  /** Files per manifest and INSERT at most. */
  files: number;
  /**
   * Bytes of stored-but-unrecorded files at most: what a crash could make the next attempt fetch
   * again (it finds no row, so it transfers those files anew and overwrites identical objects).
   */
  bytes: number;
}

export interface Manifests {
  /** The key of this activity attempt's manifest number `seq`. */
  keyFor(seq: number, writtenAt: Date): string;
  /** What every manifest of this attempt says about itself (the export, the attempt). */
  header: Record<string, unknown>;
}

/**
 * What makes a transferred file count as stored: its entry in a manifest in the bucket, then its
 * provenance row. Both are written for a group of files at once, behind the transfers:
 * one manifest PUT and one INSERT for up to `limits.files` files, or sooner once the group stands
 * for `limits.bytes` of transfers. A per-file sidecar used to double the requests per small file
 * (README, "Measured"). `drain()` writes whatever is left; only after it may the activity report
 * the files stored.
 */
export class Bookkeeping {
  private group: Array<{ entry: unknown; record: StoredFileRecord }> = [];
  private groupBytes = 0;
  private written = 0;
  private recording: Promise<void> = Promise.resolve();
  private failure: unknown = undefined;

  constructor(
    private readonly store: Pick<ObjectStore, 'putJson'>,
    private readonly provenance: Pick<ProvenanceStore, 'recordStored'>,
    private readonly manifests: Manifests,
    private readonly limits: BookkeepingLimits,
  ) {}

  /** Queues a stored file's manifest entry and row. Waits only while a full group's write is still running. */
  async add(entry: unknown, record: StoredFileRecord): Promise<void> {
    this.throwIfFailed();
    this.group.push({ entry, record });
    this.groupBytes += record.size;
    if (this.group.length >= this.limits.files || this.groupBytes >= this.limits.bytes) {
      // One group in flight at a time: a slow store or Postgres slows the transfers rather than piling up.
      await this.recording;
      this.throwIfFailed();
      this.writeGroup();
    }
  }

  /** Writes what is queued and waits for every write; throws the first failure. */
  async drain(): Promise<void> {
    this.writeGroup();
    await this.recording;
    this.throwIfFailed();
  }

  private writeGroup(): void {
    if (this.group.length === 0) return;
    const group = this.group;
    this.group = [];
    this.groupBytes = 0;
    const seq = ++this.written;
    this.recording = this.recording.then(async () => {
      if (this.failure !== undefined) return;
      try {
        // The manifest goes first: an object with provenance in Postgres always has its manifest entry too.
        const writtenAt = new Date();
        await this.store.putJson(this.manifests.keyFor(seq, writtenAt), {
          ...this.manifests.header,
          writtenAt: writtenAt.toISOString(),
          files: group.map((g) => g.entry),
        });
        await this.provenance.recordStored(group.map((g) => g.record));
      } catch (err) {
        this.failure ??= err;
      }
    });
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
