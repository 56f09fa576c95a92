import type { ObjectVersionRef, PlannedErasure } from '../src/contracts/erasure';
import type { HoldInForce, SelectedFile } from '../src/provenance/compliance';
import type { VersionLock } from '../src/storage/versions';

/**
 * What an erasure decides, as pure functions of what it read (activities/erasure.ts reads it):
 * which keys a file has in the store, and whether anything forbids deleting them.
 */

/**
 * The keys a stored file may have: its data object, and the `{key}.json` sidecar earlier versions
 * of callvault wrote per object. Group manifests are shared by up to 32 files and are not deleted.
 */
export function keysOf(file: Pick<SelectedFile, 'objectKey'>): string[] {
  return file.objectKey ? [file.objectKey, `${file.objectKey}.json`] : [];
}

export function holdText(hold: HoldInForce): string {
  return `legal hold set by ${hold.by} on ${hold.at.toISOString()}: ${hold.reason}`;
}

/**
 * Why a file must not be erased, or undefined: a hold in provenance (the authority callvault
 * obeys, whatever the bucket supports), a file recorded in another bucket, or the store's own
 * Object Lock on any of its versions (a legal hold, or a retention whose date has not passed).
 */
export function refusalOf(
  file: Pick<SelectedFile, 'hold' | 'bucket'>,
  bucket: string,
  locks: ReadonlyArray<{ ref: ObjectVersionRef; lock: VersionLock }>,
): string | undefined {
  if (file.hold) return holdText(file.hold);
  if (file.bucket !== null && file.bucket !== bucket) return `recorded in bucket ${file.bucket}, but this deployment's bucket is ${bucket}`;
  for (const { ref, lock } of locks) {
    const where = `${ref.key} version ${ref.versionId}`;
    if (lock.legalHold) return `the store has a legal hold on ${where}`;
    if (lock.retention) return `${lock.retention.mode} retention until ${lock.retention.until} on ${where}`;
  }
  return undefined;
}

/** A planned file for the workflow's history: ids, hash and version refs, or the refusal. */
export function planned(file: SelectedFile, objects: ObjectVersionRef[], refused: string | undefined): PlannedErasure {
  return { sourceId: file.sourceId, conversationId: file.conversationId, sha256: file.sha256, objects, ...(refused ? { refused } : {}) };
}
