import { createHash, type Hash } from 'node:crypto';
import { finished } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { TransientError } from '../errors';
import type { OpenedDownload } from '../providers/types';
import type { SourceItem } from '../contracts/sourceItem';
import { s3ErrorOf } from '../storage/errors';
import type { ObjectMeta, ObjectStore, StoredPart, UploadBody, WriteResult } from '../storage/objectStore';
import { PARTS_IN_FLIGHT, chunkBody, choosePartSize, partLengths, streamParts, type ChunkedBody, type StreamedBody } from './parts';
import type { Previous, TransferCheckpoint } from './previous';
import { unquoted, type StoredObject } from './result';
import { sha256OfObject } from './verify';
import { MiB } from '../contracts/units';
import type { ArchivePolicy } from '../providers/archive';

/**
 * Files of known size from here up are streamed from the source to the store without holding a
 * part in memory: one that fits in a part as one PutObject with its CRC32 in a trailer, where the
 * store takes trailers (`ObjectStore.streamsInOnePut`), else as a multipart upload (whose CRC32
 * goes with CompleteMultipartUpload, once it is known). Below it, eight transfers buffer at most
 * 8 MiB between them, and a buffered file goes up in one PutObject with its SHA-256 in the
 * metadata and its CRC32 in a header.
 */
const STREAM_FROM_BYTES = MiB;

export interface UploadInput {
  store: ObjectStore;
  item: SourceItem;
  key: string;
  download: OpenedDownload;
  /** An unfinished upload of this key to continue, or null to start afresh. */
  resume: Previous | null;
  baseMetadata: Record<string, string>;
  /** The connection's archive policy, written with the object. */
  policy?: ArchivePolicy;
  partSize: number;
  signal?: AbortSignal;
  onCheckpoint: (checkpoint: TransferCheckpoint) => void;
  beforePart?: () => void;
  onBytes?: (bytes: number) => void;
}

/** Where the upload stands: the parts stored so far, or the one PutObject that carried the whole file. */
interface Progress {
  uploadId: string | null;
  parts: StoredPart[];
  bytes: number;
  /** CRC32 of bytes 0..bytes, for the store to check the whole object; null when a resume lost it. */
  crc32: number | null;
  single: { written: WriteResult; sha256: string } | null;
}

/**
 * Uploads the download's bytes from where `resume` ends: small files (and bodies of unknown
 * length that fit in one part) gathered into one signed PutObject with their SHA-256 in the
 * metadata and their CRC32 in a header; anything larger streamed from the source's socket into
 * the store's: in one PutObject with the CRC32 in a trailer when the file fits in a part and the
 * store takes trailers, else as a multipart upload with a checkpoint after each part, completed
 * with the whole object's CRC32 (a streamed body's checksum is known only after its last byte, too
 * late for a header). The hashes are taken on the way; only a resumed file's SHA-256 is taken by
 * reading it back (README, "Decisions").
 */
export async function uploadFrom(input: UploadInput): Promise<StoredObject> {
  const { item, download, key } = input;
  const resume = input.resume?.kind === 'upload' ? input.resume : null;
  const offset = resume?.bytes ?? 0;
  const stats: StreamedBody = { discarded: 0, received: 0, failure: null };
  const hash = offset === 0 ? createHash('sha256') : null;
  const meta: ObjectMeta = {
    contentType: download.contentType,
    metadata: input.baseMetadata,
    ...(input.policy ? { policy: input.policy } : {}),
  };
  const crcAtStart = offset === 0 ? 0 : (resume?.crc32 ?? null);
  const progress: Progress = {
    uploadId: resume?.uploadId ?? null,
    parts: resume ? [...resume.parts] : [],
    bytes: offset,
    crc32: crcAtStart,
    single: null,
  };
  const onData = (chunk: Buffer) => {
    hash?.update(chunk);
    if (progress.crc32 !== null) progress.crc32 = crc32(chunk, progress.crc32);
  };
  try {
    await sendParts(input, partSources(input, offset, onData, stats), progress, hash, meta);
  } catch (err) {
    // A source that broke off mid-part fails the store's request too; its own error says more.
    throw stats.failure ? new TransientError(`${item.sourceId}: ${stats.failure.message}`) : refusedChecksum(item, err);
  }
  checkLength(item, download, stats, progress.bytes);
  if (progress.single) return stored(input, progress, progress.single.written, progress.single.sha256, 'stream');
  if (progress.uploadId === null) throw new TransientError(`${item.sourceId}: nothing to store`);
  const written = await complete(input, progress.uploadId, progress);
  // The SHA-256 stays in provenance and the manifest: putting it into the object's metadata now
  // would take a copy onto itself, a second version in a versioned or locked bucket.
  const sha256 = hash ? hash.digest('hex') : await sha256OfObject(input.store, key, input.signal, input.onBytes);
  return stored(input, progress, written, sha256, hash ? 'stream' : 'read-back');
}

/**
 * Completes the upload with the whole object's CRC32 for the store to check. A refusal means some
 * part's bytes changed on the way: which one cannot be told, so the upload is aborted and the
 * file's next try sends it again from the start.
 */
async function complete(input: UploadInput, uploadId: string, progress: Progress): Promise<WriteResult> {
  try {
    return await input.store.completeUpload(input.key, uploadId, progress.parts, progress.crc32, input.signal);
  } catch (err) {
    const refused = refusedChecksum(input.item, err);
    if (refused !== err) await input.store.abortUpload(input.key, uploadId).catch(() => undefined);
    throw refused;
  }
}

/** The store's refusal of a checksum (a byte changed between us and its disk) as the file's own transient failure. */
function refusedChecksum(item: SourceItem, err: unknown): unknown {
  const { name } = s3ErrorOf(err);
  if (name !== 'BadDigest' && name !== 'InvalidDigest') return err;
  return new TransientError(
    `${item.sourceId}: the store refused the bytes it received (${name}: ${(err as Error).message}); sending them again`,
  );
}

interface PartSources {
  bodies: AsyncIterable<UploadBody>;
  /** The signal the store's requests obey: the activity's, and the source failing mid-part. */
  signal: AbortSignal | undefined;
}

/** The bodies to upload: streamed parts of known length from a MiB up, else buffered parts. */
function partSources(input: UploadInput, offset: number, onData: (chunk: Buffer) => void, stats: StreamedBody): PartSources {
  const { download } = input;
  const partSize = choosePartSize(input.partSize, download.totalSize);
  const bodyOptions = {
    skip: offset - download.offset,
    onData,
    onReceived: (n: number) => input.onBytes?.(n),
  };
  const left = download.totalSize === null ? null : download.totalSize - offset;
  if (left === null || left < STREAM_FROM_BYTES)
    return { bodies: chunkBody(download.body, { ...bodyOptions, partSize, sizeHint: left }, stats), signal: input.signal };
  // Aborts the store's request when the source fails in the middle of a streamed part.
  const sourceFailed = new AbortController();
  const signal = input.signal ? AbortSignal.any([input.signal, sourceFailed.signal]) : sourceFailed.signal;
  return {
    bodies: streamParts(download.body, partLengths(left, partSize), { ...bodyOptions, onFailure: (err) => sourceFailed.abort(err) }, stats),
    signal,
  };
}

/** Sends each body: the whole file in one PutObject when it fits in a first part, else as parts. */
async function sendParts(input: UploadInput, sources: PartSources, progress: Progress, hash: Hash | null, meta: ObjectMeta): Promise<void> {
  const { store, key } = input;
  const partSize = choosePartSize(input.partSize, input.download.totalSize);
  // On a failure, parts still going are not waited for: the source's end stops them, and startPart
  // handles their failures.
  const sending: PartInFlight[] = [];
  for await (const body of sources.bodies) {
    const length = body.length;
    if (progress.uploadId === null && length < partSize && hash && (Buffer.isBuffer(body) || store.streamsInOnePut(meta))) {
      progress.single = await putWhole(input, body, hash, meta, progress, sources.signal);
      progress.bytes += length;
      continue;
    }
    if (length === 0) continue;
    if (progress.uploadId !== null) await askBeforePart(input, sending, progress);
    progress.uploadId ??= await store.createUpload(key, meta, input.signal);
    const partNumber = progress.parts.length + sending.length + 1;
    const { stored } = await startPart(input, sources.signal, progress.uploadId, partNumber, body);
    const bytesAfter = sending.reduce((n, p) => n + p.length, progress.bytes) + length;
    // Read to its end and no further: the CRC32 so far is this part's checkpoint.
    sending.push({ stored, length, bytesAfter, crc32After: progress.crc32 });
    // A buffered part's buffer is reused for the next one: it must be stored first.
    while (sending.length >= (Buffer.isBuffer(body) ? 1 : PARTS_IN_FLIGHT)) await settleOldest(input, sending, progress);
  }
  while (sending.length > 0) await settleOldest(input, sending, progress);
}

/**
 * The whole file in one PutObject. A buffered one is hashed already: its SHA-256 goes into its
 * metadata and doubles as the signed payload hash (hashed once), its CRC32 in a header. A streamed
 * one's CRC32 follows its last byte as a trailer, and its SHA-256, known only then, stays in
 * provenance and the manifest. The store checks the CRC32 either way.
 */
async function putWhole(
  input: UploadInput,
  body: UploadBody,
  hash: Hash,
  meta: ObjectMeta,
  progress: Progress,
  signal: AbortSignal | undefined,
): Promise<NonNullable<Progress['single']>> {
  if (Buffer.isBuffer(body)) {
    const sha256 = hash.digest('hex');
    const written = await input.store.putObject(input.key, body, { ...meta, metadata: { ...input.baseMetadata, sha256 } }, signal, sha256);
    return { written, sha256 };
  }
  // Hashing from the first byte means the CRC32 is taken from the first byte too.
  const written = await input.store.putStream(input.key, body, meta, () => progress.crc32 ?? 0, signal);
  return { written, sha256: hash.digest('hex') };
}

interface PartInFlight {
  stored: Promise<StoredPart>;
  length: number;
  /** The bytes read and the CRC32 over them once this part's last byte was read: its checkpoint. */
  bytesAfter: number;
  crc32After: number | null;
}

/** Starts a part's upload and returns once its body has been read to the end (or the upload failed). */
async function startPart(
  input: UploadInput,
  signal: AbortSignal | undefined,
  uploadId: string,
  partNumber: number,
  body: UploadBody,
): Promise<{ stored: Promise<StoredPart> }> {
  const stored = input.store.uploadPart(input.key, uploadId, partNumber, body, signal);
  // Handled by whoever waits for it; until then a failure must not count as unhandled.
  stored.catch(() => undefined);
  if (Buffer.isBuffer(body)) return { stored };
  try {
    await Promise.race([finished(body.body, { writable: false }), stored]);
  } catch (err) {
    // The store's own answer says more than a stream cut off under it.
    await stored;
    throw err;
  }
  return { stored };
}

/** Lets the caller stop the file before its next part; the parts already sent are stored and checkpointed first. */
async function askBeforePart(input: UploadInput, sending: PartInFlight[], progress: Progress): Promise<void> {
  try {
    input.beforePart?.();
  } catch (err) {
    while (sending.length > 0) await settleOldest(input, sending, progress);
    throw err;
  }
}

/** Waits for the oldest part in flight to be stored, and checkpoints it: parts are checkpointed in order. */
async function settleOldest(input: UploadInput, sending: PartInFlight[], progress: Progress): Promise<void> {
  const part = sending.shift();
  if (!part) return;
  progress.parts.push(await part.stored);
  progress.bytes = part.bytesAfter;
  const crc32 = part.crc32After === null ? {} : { crc32: part.crc32After };
  input.onCheckpoint({
    sourceId: input.item.sourceId,
    key: input.key,
    uploadId: progress.uploadId ?? '',
    partsDone: progress.parts.length,
    bytesDone: progress.bytes,
    ...crc32,
  });
}

function checkLength(item: SourceItem, download: OpenedDownload, stats: ChunkedBody, bytes: number): void {
  if (download.contentLength !== null && stats.received !== download.contentLength) {
    throw new TransientError(`${item.sourceId}: short body, received ${stats.received} of ${download.contentLength} bytes`);
  }
  if (download.totalSize !== null && bytes !== download.totalSize) {
    throw new TransientError(`${item.sourceId}: size mismatch, stored ${bytes} of ${download.totalSize} bytes`);
  }
}

function stored(
  input: UploadInput,
  progress: Progress,
  written: WriteResult,
  sha256: string,
  hashedBy: StoredObject['hashedBy'],
): StoredObject {
  const resumedFromByte = input.resume?.kind === 'upload' ? input.resume.bytes : 0;
  return {
    key: input.key,
    size: progress.bytes,
    sha256,
    etag: unquoted(written.etag),
    versionId: written.versionId,
    contentType: input.download.contentType,
    sourceUrl: input.download.sourceUrl,
    resumedFromByte,
    hashedBy,
  };
}
