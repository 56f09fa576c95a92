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
    const mark = (ids: string[]) => this.records.setHolds(connection, ids, who.by, who.reason, storeHold);
    return this.change(connection, selection, { on: true, storeLock, mark }, onFile);
  }

  async release(
    connection: string,
    selection: FileSelection,
    who: { by: string; reason: string },
    onFile: (line: HoldLine) => void,
  ): Promise<HoldSummary> {
    const storeLock = await this.versions.lockEnabled();
    const mark = (ids: string[]) => this.records.releaseHolds(connection, ids, who.by, who.reason);
    return this.change(connection, selection, { on: false, storeLock, mark }, onFile);
  }

  /**
   * Pages through the selection; `mark` changes provenance and answers which files it changed,
   * then the store follows for those.
   */
  private async change(
    connection: string,
    selection: FileSelection,
    how: { on: boolean; storeLock: boolean; mark: (sourceIds: string[]) => Promise<Iterable<string>> },
    onFile: (line: HoldLine) => void,
  ): Promise<HoldSummary> {
    const summary: HoldSummary = { matched: 0, changed: 0, unchanged: 0, storeVersions: 0, storeLock: how.storeLock };
    let after: string | null = null;
    for (;;) {
      const page = await this.records.selectFiles(connection, selection, after, PAGE);
      const changedIds = new Set(await how.mark(page.map((f) => f.sourceId)));
      for (const file of page) {
        const changed = changedIds.has(file.sourceId);
        const outcome: HoldOutcome = how.on ? (changed ? 'held' : 'already_held') : changed ? 'released' : 'not_held';
        const storeVersions = changed && how.storeLock ? await this.storeHold(file, how.on) : 0;
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
