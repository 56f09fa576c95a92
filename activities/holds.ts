import type { FileSelection } from '../src/contracts/erasure';
import type { ComplianceRecords, SelectedFile } from '../src/provenance/compliance';
import type { ObjectVersions } from '../src/storage/versions';

/**
 * Legal holds, set and released by `callvault hold` directly (a few statements and S3 calls per
 * file, no workflow). The hold in provenance is the authority callvault obeys: an erasure refuses a
 * held file whatever the bucket supports. Where the bucket has Object Lock, every version of the
 * file's object also gets the store's own legal hold (PutObjectLegalHold), which S3 and SeaweedFS
 * enforce against any client; without Object Lock there is nothing to put it on.
 */

export type HoldOutcome = 'held' | 'already_held' | 'released' | 'not_held';

export interface HoldLine {
  sourceId: string;
  conversationId: string;
  outcome: HoldOutcome;
  /** Object versions whose store legal hold was set (or cleared). */
  storeVersions: number;
}

export interface HoldSummary {
  matched: number;
  changed: number;
  unchanged: number;
  storeVersions: number;
  /** Whether the bucket has Object Lock (so the store holds too). */
  storeLock: boolean;
}

const PAGE = 200;

export class Holds {
  constructor(
    private readonly records: ComplianceRecords,
    private readonly versions: ObjectVersions,
  ) {}

  async set(
    connection: string,
    selection: FileSelection,
    who: { by: string; reason: string },
    onFile: (line: HoldLine) => void,
  ): Promise<HoldSummary> {
    const storeLock = await this.versions.lockEnabled();
    const storeHold = storeLock ? 'legal hold ON in the store' : 'none: the bucket has no Object Lock';
    return this.each(
      connection,
      selection,
      storeLock,
      async (page) => {
        const held = new Set(
          await this.records.setHolds(
            connection,
            page.map((f) => f.sourceId),
            who.by,
            who.reason,
            storeHold,
          ),
        );
        return page.map((f) => ({ file: f, outcome: held.has(f.sourceId) ? 'held' : 'already_held', store: true }) as const);
      },
      onFile,
    );
  }

  async release(
    connection: string,
    selection: FileSelection,
    who: { by: string; reason: string },
    onFile: (line: HoldLine) => void,
  ): Promise<HoldSummary> {
    const storeLock = await this.versions.lockEnabled();
    return this.each(
      connection,
      selection,
      storeLock,
      async (page) => {
        const released = new Set(
          await this.records.releaseHolds(
            connection,
            page.map((f) => f.sourceId),
            who.by,
            who.reason,
          ),
        );
        return page.map((f) => ({ file: f, outcome: released.has(f.sourceId) ? 'released' : 'not_held', store: false }) as const);
      },
      onFile,
    );
  }

  /** Pages through the selection; `apply` changes provenance, then the store follows for the changed files. */
  private async each(
    connection: string,
    selection: FileSelection,
    storeLock: boolean,
    apply: (page: SelectedFile[]) => Promise<ReadonlyArray<{ file: SelectedFile; outcome: HoldOutcome; store: boolean }>>,
    onFile: (line: HoldLine) => void,
  ): Promise<HoldSummary> {
    const summary: HoldSummary = { matched: 0, changed: 0, unchanged: 0, storeVersions: 0, storeLock };
    let after: string | null = null;
    for (;;) {
      const page = await this.records.selectFiles(connection, selection, after, PAGE);
      for (const { file, outcome, store } of await apply(page)) {
        const changed = outcome === 'held' || outcome === 'released';
        const storeVersions = changed && storeLock ? await this.storeHold(file, store) : 0;
        summary.matched++;
        summary[changed ? 'changed' : 'unchanged']++;
        summary.storeVersions += storeVersions;
        onFile({ sourceId: file.sourceId, conversationId: file.conversationId, outcome, storeVersions });
      }
      if (page.length < PAGE) return summary;
      after = page[page.length - 1]!.sourceId;
    }
  }

  /** The store's legal hold on (or off) every version of the file's object; how many versions. */
  private async storeHold(file: SelectedFile, on: boolean): Promise<number> {
    if (!file.objectKey || file.bucket !== this.versions.bucket) return 0;
    const refs = await this.versions.versionsOf(file.objectKey, { markers: false });
    for (const ref of refs) await this.versions.setLegalHold(ref, on);
    return refs.length;
  }
}
