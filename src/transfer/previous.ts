import type { ObjectStore, StoredPart } from '../storage/objectStore';
import { PARTS_IN_FLIGHT, contiguousParts } from './parts';

/** What the previous attempt's last heartbeat said: identities and counters, no URLs. */
export interface TransferCheckpoint {
  sourceId: string;
  key: string;
  uploadId: string;
  partsDone: number;
  bytesDone: number;
  /** CRC32 of bytes 0..bytesDone: the whole object's checksum continues from here after a crash. */
  crc32?: number;
}

/**
 * What an earlier attempt at a file left in the store: an unfinished multipart upload (continue
 * it after its last contiguous part), or a whole object at the file's key (it may be finished: the
 * attempt died after CompleteMultipartUpload or a PutObject, before its provenance was written).
 */
export type Previous =
  | { kind: 'upload'; key: string; uploadId: string; parts: StoredPart[]; bytes: number; crc32: number | null }
  | { kind: 'object'; key: string; size: number; sha256: string | null; etag: string; versionId: string | null };

export interface FindPreviousInput {
  store: Pick<ObjectStore, 'listParts' | 'findUploads' | 'abortUpload' | 'head'>;
  sourceId: string;
  /** The file's key, when known (the listing gave its extension, or the download did). */
  key: string | null;
  checkpoint?: TransferCheckpoint;
  /** Also look for a finished object (only after a failed try: a first try cannot have left one). */
  lookForObject: boolean;
  signal?: AbortSignal;
}

/** Where the next attempt picks up: the bytes an unfinished upload holds; a finished object's size. */
export function resumeOffset(previous: Previous | null): number {
  if (!previous) return 0;
  return previous.kind === 'upload' ? previous.bytes : previous.size;
}

/**
 * Finds what an earlier attempt left: the upload of the checkpoint, else the newest upload on the
 * key (older ones are leftovers of attempts that lost their checkpoint, and are aborted), else,
 * when asked, the object at the key.
 */
export async function findPrevious(input: FindPreviousInput): Promise<Previous | null> {
  const upload = await findUpload(input);
  if (upload) return upload;
  // A checkpoint whose upload is gone may have been completed: its key is where to look.
  const key = input.key ?? (input.checkpoint?.sourceId === input.sourceId ? input.checkpoint.key : null);
  if (!input.lookForObject || key === null) return null;
  const head = await input.store.head(key, input.signal);
  if (!head) return null;
  return { kind: 'object', key, size: head.size, sha256: head.metadata.sha256 ?? null, etag: head.etag, versionId: head.versionId };
}

/**
 * The parts to keep and the CRC32 to continue from. The checkpoint's CRC32 covers its parts only,
 * and Temporal sends heartbeats at most once per 0.8 x the heartbeat timeout, so the store may
 * hold parts the last checkpoint on the server does not cover. The parts that were in flight at
 * that checkpoint (PARTS_IN_FLIGHT) are sent again to keep the CRC32; more are kept, since a crash
 * should cost about the parts in flight, and the upload is then completed without the CRC32 (its
 * SHA-256 is read back, as for any resumed file).
 */
function resumable(
  parts: StoredPart[],
  checkpoint: TransferCheckpoint | undefined,
): { parts: StoredPart[]; bytes: number; crc32: number | null } {
  const bytesOf = (ps: StoredPart[]) => ps.reduce((sum, p) => sum + p.size, 0);
  const beyond = checkpoint ? parts.length - checkpoint.partsDone : -1;
  if (checkpoint?.crc32 !== undefined && beyond >= 0 && beyond <= PARTS_IN_FLIGHT) {
    const kept = parts.slice(0, checkpoint.partsDone);
    if (bytesOf(kept) === checkpoint.bytesDone) return { parts: kept, bytes: checkpoint.bytesDone, crc32: checkpoint.crc32 };
  }
  return { parts, bytes: bytesOf(parts), crc32: null };
}

async function findUpload(input: FindPreviousInput): Promise<Previous | null> {
  const { store, checkpoint, signal } = input;
  const candidates: Array<{ key: string; uploadId: string }> = [];
  if (checkpoint && checkpoint.sourceId === input.sourceId) candidates.push({ key: checkpoint.key, uploadId: checkpoint.uploadId });
  else if (input.key !== null)
    for (const uploadId of await store.findUploads(input.key, signal)) candidates.push({ key: input.key, uploadId });
  for (const [index, candidate] of candidates.entries()) {
    const listed = await store.listParts(candidate.key, candidate.uploadId, signal);
    if (listed === null) continue;
    for (const stale of candidates.slice(index + 1)) await store.abortUpload(stale.key, stale.uploadId);
    return {
      kind: 'upload',
      ...candidate,
      ...resumable(contiguousParts(listed), index === 0 && checkpoint?.sourceId === input.sourceId ? checkpoint : undefined),
    };
  }
  return null;
}
