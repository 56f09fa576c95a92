import { createHash } from 'node:crypto';
import { TransientError, UnavailableError } from '../errors';
import type { Provider, SourceItem } from '../providers/types';
import type { ObjectStore, StoredPart, UploadBody, WriteResult } from '../storage/objectStore';
import { chunkBody, choosePartSize, contiguousParts, partLengths, streamParts, type ChunkedBody, type StreamedBody } from './parts';
import { sha256OfObject } from './verify';

/** What a heartbeat carries so the next attempt can continue: identities and counters, no URLs. */
export interface TransferCheckpoint {
  sourceId: string;
  key: string;
  uploadId: string;
  partsDone: number;
  bytesDone: number;
}

export interface StoredObject {
  key: string;
  size: number;
  sha256: string;
  etag: string;
  versionId: string | null;
  contentType: string;
  sourceUrl: string;
  /** Where this attempt picked up: 0 when the file moved in one go. */
  resumedFromByte: number;
  /** Bytes fetched again and dropped because the source ignored our Range. */
  bytesDiscarded: number;
  /** `stream` when hashed on the way in; `read-back` when a resume forced hashing the stored object. */
  hashedBy: 'stream' | 'read-back';
}

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
  partSize: number;
  /** The previous attempt's last heartbeat, if it was about this item. */
  checkpoint?: TransferCheckpoint;
  /**
   * When to look for an upload an earlier attempt left without a checkpoint (ListMultipartUploads
   * on the key): `before-download` (the default) always looks first; `if-multipart` opens the
   * download first and looks only when the file needs a multipart upload, so a file that fits in
   * one part costs no lookup. An upload found then with parts in it makes the download reopen from
   * where the parts end. Activities pass `if-multipart` on a first attempt, where no earlier
   * attempt of theirs can have left one.
   */
  uploadLookup?: 'before-download' | 'if-multipart';
  signal?: AbortSignal;
  /** Called after each stored part: heartbeat it. */
  onCheckpoint: (checkpoint: TransferCheckpoint) => void;
  /** Called as bytes arrive (skipped ones too), so a slow source or a long skip still heartbeats between parts. */
  onBytes?: (bytes: number) => void;
}

/**
 * Files of known size from here up are streamed from the source to the store without holding a
 * part in memory: below it, eight transfers buffer at most 8 MiB between them, and a buffered file
 * goes up in one request with its hash in the metadata instead of a PUT and a copy.
 */
const STREAM_FROM_BYTES = 1024 * 1024;

interface Resumable {
  key: string;
  uploadId: string;
  parts: StoredPart[];
}

/**
 * Moves one file from its provider into the object store and returns what was stored.
 *
 * Small files (and bodies of unknown length that fit in one part) are gathered into a buffer and
 * go up as a single PutObject with their SHA-256 in the metadata, signed as the payload hash.
 * Anything larger streams from the source's socket into the store's, so a transfer holds a chunk
 * or two rather than a part: one streamed PutObject below the part size, else a multipart upload,
 * one part at a time, with a checkpoint after each part. A later attempt finds the upload (from the
 * checkpoint, or by key when the checkpoint was lost), keeps the parts already stored, and asks the
 * source for the rest with Range. The hash is taken while streaming and put into the metadata by a
 * copy of the object onto itself; only a resumed file is hashed by reading it back, since a hash
 * state cannot be carried across a crash without paying for it on every byte (README, "Decisions").
 */
export async function transferFile(input: TransferFileInput): Promise<TransferOutcome> {
  const { store, item, signal } = input;
  const lookFirst = input.uploadLookup !== 'if-multipart' || resumesCheckpoint(input);
  let resume = lookFirst ? await findResumable(input, item.extension) : null;
  let offset = storedBytes(resume);

  let opened = await input.provider.openDownload(item, { offset, signal });
  if (opened.kind === 'not_ready') return opened;
  if (!lookFirst && needsMultipart(opened.download, input.partSize)) {
    // Only a multipart upload can have been left half done: look for one now.
    try {
      resume = await findResumable(input, opened.download.extension);
    } catch (err) {
      opened.download.body.destroy();
      throw err;
    }
    if (storedBytes(resume) > 0) {
      opened.download.body.destroy();
      offset = storedBytes(resume);
      opened = await input.provider.openDownload(item, { offset, signal });
      if (opened.kind === 'not_ready') return opened;
    }
  }
  const download = opened.download;
  const siblings = opened.siblings;
  const key = resume?.key ?? input.keyFor(download.extension);

  try {
    if (download.offset > offset || (resume && resume.key !== key)) {
      // The source cannot serve what the stored parts lack, or the file changed shape: start over.
      if (resume) await store.abortUpload(resume.key, resume.uploadId);
      throw new TransientError(`${item.sourceId}: cannot continue the stored upload (source offset ${download.offset}, have ${offset}); starting over`);
    }
    const stats: StreamedBody = { discarded: 0, received: 0, failure: null };
    const hash = offset === 0 ? createHash('sha256') : null;
    const partSize = choosePartSize(input.partSize, download.totalSize);
    const bodyOptions = {
      skip: offset - download.offset,
      onData: (chunk: Buffer) => hash?.update(chunk),
      onReceived: (n: number) => input.onBytes?.(n),
    };
    const left = download.totalSize === null ? null : download.totalSize - offset;
    // Known sizes of a MiB and more stream part by part; small files and bodies of unknown length
    // are gathered into a buffer (a small file's whole body then goes up in one signed request).
    let partBodies: AsyncIterable<UploadBody>;
    let uploadSignal = signal;
    if (left !== null && left >= STREAM_FROM_BYTES) {
      // Aborts the store's request when the source fails in the middle of a streamed part.
      const sourceFailed = new AbortController();
      uploadSignal = signal ? AbortSignal.any([signal, sourceFailed.signal]) : sourceFailed.signal;
      partBodies = streamParts(download.body, partLengths(left, partSize), { ...bodyOptions, onFailure: (err) => sourceFailed.abort(err) }, stats);
    } else {
      partBodies = chunkBody(download.body, { ...bodyOptions, partSize, sizeHint: left }, stats);
    }

    let uploadId = resume?.uploadId ?? null;
    const parts: StoredPart[] = resume ? [...resume.parts] : [];
    let bytes = offset;
    let single: { written: WriteResult; sha256: string | null } | null = null;
    const objectMeta = { contentType: download.contentType, metadata: input.baseMetadata };

    try {
      for await (const body of partBodies) {
        const length = body.length;
        if (uploadId === null && length < partSize && hash) {
          // The whole file in one request. A buffered one is hashed already: the hash goes into its
          // metadata and doubles as the signed payload hash (hashed once, and checked by S3).
          const sha256 = Buffer.isBuffer(body) ? hash.digest('hex') : null;
          const written = await store.putObject(key, body, sha256 ? { ...objectMeta, metadata: { ...input.baseMetadata, sha256 } } : objectMeta, uploadSignal, sha256 ?? undefined);
          single = { written, sha256 };
          bytes += length;
          continue;
        }
        if (length === 0) continue;
        uploadId ??= await store.createUpload(key, objectMeta, signal);
        parts.push(await store.uploadPart(key, uploadId, parts.length + 1, body, uploadSignal));
        bytes += length;
        input.onCheckpoint({ sourceId: item.sourceId, key, uploadId, partsDone: parts.length, bytesDone: bytes });
      }
    } catch (err) {
      // A source that broke off mid-part fails the store's request too; its own error says more.
      throw stats.failure ? new TransientError(`${item.sourceId}: ${stats.failure.message}`) : err;
    }

    checkLength(item, download, stats, bytes);

    // A buffered single PUT is done; a streamed one, like a multipart upload, still needs its hash put in.
    if (single?.sha256) return stored(single.written, single.sha256, 'stream');
    if (!single) {
      if (uploadId === null) throw new TransientError(`${item.sourceId}: nothing to store`);
      await store.completeUpload(key, uploadId, parts, signal);
    }
    const sha256 = hash ? hash.digest('hex') : await sha256OfObject(store, key, signal);
    // The SHA-256 is only known now; a copy onto itself puts it into the object's metadata.
    const written = await store.replaceMetadata(key, { ...objectMeta, metadata: { ...input.baseMetadata, sha256 } }, signal);
    return stored(written, sha256, hash ? 'stream' : 'read-back');

    function stored(written: WriteResult, sha256: string, hashedBy: StoredObject['hashedBy']): TransferOutcome {
      return {
        kind: 'stored',
        siblings: siblings ?? [],
        object: {
          key,
          size: bytes,
          sha256,
          etag: written.etag.replace(/"/g, ''),
          versionId: written.versionId,
          contentType: download.contentType,
          sourceUrl: download.sourceUrl,
          resumedFromByte: offset,
          bytesDiscarded: stats.discarded,
          hashedBy,
        },
      };
    }
  } catch (err) {
    download.body.destroy();
    // A file that is gone for good leaves no half-upload behind; anything else keeps it for the retry.
    if (err instanceof UnavailableError && resume) await store.abortUpload(resume.key, resume.uploadId).catch(() => undefined);
    throw err;
  }
}

function checkLength(item: SourceItem, download: { contentLength: number | null; totalSize: number | null }, stats: ChunkedBody, bytes: number): void {
  if (download.contentLength !== null && stats.received !== download.contentLength) {
    throw new TransientError(`${item.sourceId}: short body, received ${stats.received} of ${download.contentLength} bytes`);
  }
  if (download.totalSize !== null && bytes !== download.totalSize) {
    throw new TransientError(`${item.sourceId}: size mismatch, stored ${bytes} of ${download.totalSize} bytes`);
  }
}

function resumesCheckpoint(input: TransferFileInput): boolean {
  return input.checkpoint !== undefined && input.checkpoint.sourceId === input.item.sourceId;
}

function storedBytes(resume: Resumable | null): number {
  return resume ? resume.parts.reduce((sum, p) => sum + p.size, 0) : 0;
}

/** Whether the file goes up as a multipart upload (one that does not fit in one part, or of unknown size). */
function needsMultipart(download: { totalSize: number | null }, configuredPartSize: number): boolean {
  return download.totalSize === null || download.totalSize >= choosePartSize(configuredPartSize, download.totalSize);
}

/**
 * The upload an earlier attempt left: from its checkpoint, or found by key (when the file's
 * `extension` is known) when that was lost.
 */
async function findResumable(input: TransferFileInput, extension: string | undefined): Promise<Resumable | null> {
  const { store, item, checkpoint, signal } = input;
  const candidates: Array<{ key: string; uploadId: string }> = [];
  if (checkpoint && checkpoint.sourceId === item.sourceId) candidates.push({ key: checkpoint.key, uploadId: checkpoint.uploadId });
  else if (extension) {
    const key = input.keyFor(extension);
    for (const uploadId of await store.findUploads(key, signal)) candidates.push({ key, uploadId });
  }
  for (const [index, candidate] of candidates.entries()) {
    const parts = await store.listParts(candidate.key, candidate.uploadId, signal);
    if (parts === null) continue;
    // Older uploads of the same key are leftovers of attempts that lost their checkpoint.
    for (const stale of candidates.slice(index + 1)) await store.abortUpload(stale.key, stale.uploadId);
    return { ...candidate, parts: contiguousParts(parts) };
  }
  return null;
}
