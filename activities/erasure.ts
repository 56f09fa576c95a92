import { Context } from '@temporalio/activity';
import { connectionByName } from '../src/config/load';
import type {
  EraseFilesInput,
  FileErasure,
  FileSelection,
  ObjectVersionRef,
  PlanErasureInput,
  PlanErasureResult,
  PlannedErasure,
} from '../src/contracts/erasure';
import type { ComplianceRecords, SelectedFile } from '../src/provenance/compliance';
import type { ObjectStore } from '../src/storage/objectStore';
import { ObjectVersions } from '../src/storage/versions';
import type { ActivityDeps } from './deps';
import { keysOf, planned, refusalOf } from './erasurePlan';
import { ManifestRedactor, type ManifestToRedact } from './manifestRedaction';
import { toActivityFailure } from './failures';

/**
 * Reads and erases the files of a selection. The plan is a page of files with their object
 * versions and any refusal (files erased before appear only when objects of theirs are left); erasing a file looks again under a lock on its row (a hold set since
 * the plan wins), deletes every version of each of its keys, and writes its tombstone.
 */
export class Eraser {
  constructor(
    private readonly records: ComplianceRecords,
    private readonly versions: ObjectVersions,
    private readonly uploads: Pick<ObjectStore, 'findUploads' | 'abortUpload'>,
    private readonly manifests: ManifestRedactor,
  ) {}

  async page(
    connection: string,
    selection: FileSelection,
    after: string | null,
    limit: number,
    inspect = true,
  ): Promise<PlanErasureResult> {
    const rows = await this.records.selectFiles(connection, selection, after, limit, true);
    const files: PlannedErasure[] = [];
    for (const row of rows) {
      if (!inspect) {
        files.push(planned(row, [], undefined));
        continue;
      }
      const { objects, manifests, refused } = await this.inspect(connection, row);
      // Erased before, and nothing of it left: not this erasure's business.
      if (row.status === 'erased' && objects.length === 0) continue;
      files.push(planned(row, [...objects, ...manifests.flatMap((m) => m.versions)], refused));
    }
    return { files, next: rows.length === limit ? rows[rows.length - 1]!.sourceId : null };
  }

  async erase(connection: string, sourceId: string, who: { by: string; reason: string; workflowId: string }): Promise<FileErasure> {
    const outcome = await this.records.eraseLocked<string>(
      connection,
      sourceId,
      async (row): Promise<{ deleted: ObjectVersionRef[] } | { refused: string }> => {
        const { objects, manifests, refused } = await this.inspect(connection, row);
        if (refused !== undefined) return { refused };
        for (const ref of objects) await this.versions.deleteVersion(ref);
        // An unfinished upload (a crash an export never came back for) holds the file's bytes too.
        for (const key of keysOf(row)) for (const id of await this.uploads.findUploads(key)) await this.uploads.abortUpload(key, id);
        const redacted: ObjectVersionRef[] = [];
        for (const manifest of manifests) {
          await this.manifests.redact(manifest, row.objectKey!);
          redacted.push(...manifest.versions);
        }
        return { deleted: [...objects, ...redacted] };
      },
      { erasedBy: who.by, reason: who.reason, workflowId: who.workflowId },
    );
    if ('gone' in outcome) return { sourceId, outcome: 'gone' };
    if ('refused' in outcome) return { sourceId, outcome: 'refused', reason: outcome.refused };
    return { sourceId, outcome: 'erased', deleted: outcome.erased };
  }

  /**
   * Every version of the file's keys, the manifests whose entries name it (not for a file erased
   * before: its entries went then), and the refusal its hold or any of their locks give, if any.
   */
  private async inspect(
    connection: string,
    row: SelectedFile,
  ): Promise<{ objects: ObjectVersionRef[]; manifests: ManifestToRedact[]; refused: string | undefined }> {
    if (row.hold || (row.bucket !== null && row.bucket !== this.versions.bucket))
      return { objects: [], manifests: [], refused: refusalOf(row, this.versions.bucket, []) };
    const objects: ObjectVersionRef[] = [];
    for (const key of keysOf(row)) objects.push(...(await this.versions.versionsOf(key)));
    const manifests = row.status === 'erased' ? [] : await this.manifests.find(connection, row);
    const now = Date.now();
    const locks = [];
    for (const ref of [...objects, ...manifests.flatMap((m) => m.versions)])
      locks.push({ ref, lock: await this.versions.lockOf(ref, now) });
    return { objects, manifests, refused: refusalOf(row, this.versions.bucket, locks) };
  }
}

/** An Eraser on the deployment's bucket. */
export function eraserFor(deps: Pick<ActivityDeps, 'provenance' | 'store' | 'config'>): Eraser {
  const versions = new ObjectVersions(deps.store.client, deps.store.bucket);
  return new Eraser(
    deps.provenance.compliance,
    versions,
    deps.store,
    new ManifestRedactor(deps.store, versions, deps.config.storage.prefix),
  );
}

export function erasureActivities(deps: ActivityDeps) {
  const eraser = eraserFor(deps);
  return {
    /** A page of the selection's files, as an erasure would treat them now. */
    async planErasure(input: PlanErasureInput): Promise<PlanErasureResult> {
      try {
        connectionByName(deps.config, input.connection);
        return await eraser.page(input.connection, input.selection, input.after, input.limit, input.inspect !== false);
      } catch (err) {
        throw toActivityFailure(err);
      }
    },

    /** Erases these files one by one (each its own transaction), heartbeating per file. */
    async eraseFiles(input: EraseFilesInput): Promise<FileErasure[]> {
      try {
        connectionByName(deps.config, input.connection);
        const out: FileErasure[] = [];
        for (const sourceId of input.sourceIds) {
          out.push(await eraser.erase(input.connection, sourceId, input));
          Context.current().heartbeat(out.length);
        }
        return out;
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  };
}
