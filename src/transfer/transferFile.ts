import { UnavailableError } from '../errors';
import type { OpenedDownload, Provider } from '../providers/types';
import type { SourceItem } from '../contracts/sourceItem';
import type { ObjectStore } from '../storage/objectStore';
import type { ArchivePolicy } from '../providers/archive';
import { choosePartSize } from './parts';
import { findPrevious, resumeOffset, type Previous, type TransferCheckpoint } from './previous';
import { uploadFrom } from './upload';
import { unquoted, type StoredObject } from './result';
import { sha256OfObject } from './verify';

export type { TransferCheckpoint } from './previous';
export type { StoredObject } from './result';

export type TransferOutcome =
  | { kind: 'stored'; object: StoredObject; siblings: SourceItem[] }
  | { kind: 'not_ready'; reason: string; retryAfterSeconds: number };

export interface TransferFileInput {
  provider: Provider;
  store: ObjectStore;
  item: SourceItem;
  /** The object key for this item given the file's extension (known from the listing or the download). */
  keyFor: (extension: string) => string;
  /** Metadata every object carries (provider, connection, source id); the SHA-256 is added here. */
  baseMetadata: Record<string, string>;
  /** The connection's archive policy (Object Lock, legal hold, encryption, storage class, tags), written with each object. */
  policy?: ArchivePolicy;
  partSize: number;
  /** The previous attempt's last heartbeat, if it was about this item. */
  checkpoint?: TransferCheckpoint;
  /**
   * An earlier try at this file failed (in this activity or another): look for what it left before
   * downloading, including a finished object whose provenance it never wrote. A first try looks
   * only for an unfinished upload, and only for files that need one, so a small file costs no lookup.
   */
  retrying?: boolean;
  signal?: AbortSignal;
  /** Called after each stored part: heartbeat it. */
  onCheckpoint: (checkpoint: TransferCheckpoint) => void;
  /**
   * Called before each part after the first: throwing stops the file there (a worker that is
   * stopping), once the parts already sent are stored and checkpointed.
   */
  beforePart?: () => void;
  /** Called as bytes arrive or are read back, so a slow source or a long read-back still heartbeats. */
  onBytes?: (bytes: number) => void;
}

/**
 * Moves one file from its provider into the object store and returns what was stored: finds what
 * an earlier attempt left (`previous.ts`), opens the download from where that ends, and then
 * either adopts an object an earlier attempt finished (no byte fetched twice) or uploads the rest
 * (`upload.ts`). A crash at any moment of a file costs at most the part in flight.
 */
export async function transferFile(input: TransferFileInput): Promise<TransferOutcome> {
  const located = await locate(input);
  if (located.kind === 'not_ready') return located;
  const { download, previous, key, siblings } = located;
  try {
    const object =
      previous?.kind === 'object'
        ? await adopt(input, previous, download)
        : await uploadFrom({ ...input, key, download, resume: previous });
    return { kind: 'stored', object, siblings };
  } catch (err) {
    download.body.destroy();
    // A file that is gone for good leaves no half-upload behind; anything else keeps it for the retry.
    if (err instanceof UnavailableError && previous?.kind === 'upload')
      await input.store.abortUpload(previous.key, previous.uploadId).catch(() => undefined);
    throw err;
  }
}

interface Located {
  kind: 'located';
  download: OpenedDownload;
  /** What to continue from: an unfinished upload, an object this download matches, or nothing. */
  previous: Previous | null;
  key: string;
  siblings: SourceItem[];
}

/** What an earlier attempt left, and the download opened from where it ends. */
async function locate(input: TransferFileInput): Promise<Located | Extract<TransferOutcome, { kind: 'not_ready' }>> {
  const knownKey = input.item.extension !== undefined ? input.keyFor(input.item.extension) : null;
  const hasCheckpoint = input.checkpoint?.sourceId === input.item.sourceId;
  const lookBefore = (input.retrying === true || hasCheckpoint) && (knownKey !== null || hasCheckpoint);
  let previous = lookBefore ? await lookUp(input, knownKey) : null;
  const asked = resumeOffset(previous);
  let opened = await input.provider.openDownload(input.item, { offset: asked, signal: input.signal });
  if (opened.kind === 'not_ready') return opened;
  const download = opened.download;
  const key = input.keyFor(download.extension);
  try {
    // Without a key before the download (no extension), or for a first try at a multipart-sized
    // file (an earlier export may have begun it), look now that the key is known.
    if (!lookBefore && (input.retrying === true || needsMultipart(download, input.partSize))) previous = await lookUp(input, key);
    previous = await usable(input, previous, key, download);
  } catch (err) {
    download.body.destroy();
    throw err;
  }
  const target = resumeOffset(previous);
  if (previous?.kind !== 'object' && download.offset !== target && asked !== target) {
    // Opened from somewhere other than where the kept parts end (found after opening, or dropped): open again.
    download.body.destroy();
    opened = await input.provider.openDownload(input.item, { offset: target, signal: input.signal });
    if (opened.kind === 'not_ready') return opened;
  }
  return { kind: 'located', download: opened.download, previous, key: previous?.key ?? key, siblings: opened.siblings ?? [] };
}

function lookUp(input: TransferFileInput, key: string | null): Promise<Previous | null> {
  return findPrevious({
    store: input.store,
    sourceId: input.item.sourceId,
    key,
    checkpoint: input.checkpoint,
    lookForObject: input.retrying === true,
    signal: input.signal,
  });
}

/**
 * Keeps what an earlier attempt left only if it belongs to this download: an upload on the same
 * key that the source can continue, an object of exactly the source's size. Anything else is
 * dropped (an upload is aborted) and the file goes up from the start, overwriting the key.
 */
async function usable(
  input: TransferFileInput,
  previous: Previous | null,
  key: string,
  download: OpenedDownload,
): Promise<Previous | null> {
  if (previous === null) return null;
  if (previous.key === key) {
    if (previous.kind === 'object' && download.totalSize === previous.size) return previous;
    if (previous.kind === 'upload' && download.offset <= previous.bytes) return previous;
  }
  if (previous.kind === 'upload') await input.store.abortUpload(previous.key, previous.uploadId);
  return null;
}

/**
 * The object an earlier attempt stored whole, taken as this attempt's result: its SHA-256 from
 * its metadata (a file sent in one PutObject has it there), else read back. It is not written
 * into the object afterwards: that would take a copy, a second version in a versioned bucket.
 */
async function adopt(
  input: TransferFileInput,
  previous: Extract<Previous, { kind: 'object' }>,
  download: OpenedDownload,
): Promise<StoredObject> {
  download.body.destroy();
  const base = {
    key: previous.key,
    size: previous.size,
    contentType: download.contentType,
    sourceUrl: download.sourceUrl,
    resumedFromByte: previous.size,
  };
  if (previous.sha256)
    return { ...base, sha256: previous.sha256, etag: unquoted(previous.etag), versionId: previous.versionId, hashedBy: 'metadata' };
  const sha256 = await sha256OfObject(input.store, previous.key, input.signal, input.onBytes);
  return { ...base, sha256, etag: unquoted(previous.etag), versionId: previous.versionId, hashedBy: 'read-back' };
}

/** Whether the file goes up as a multipart upload (one that does not fit in one part, or of unknown size). */
function needsMultipart(download: { totalSize: number | null }, configuredPartSize: number): boolean {
  return download.totalSize === null || download.totalSize >= choosePartSize(configuredPartSize, download.totalSize);
}
