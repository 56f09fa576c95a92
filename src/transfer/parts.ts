import { Readable } from 'node:stream';
import { TransientError } from '../errors';
import type { StoredPart } from '../storage/objectStore';
import { errorMessage } from '../contracts/failures';
import { KiB, MiB } from '../contracts/units';

/** S3 allows 10,000 parts; leave headroom for files that turn out larger than announced. */
const PART_BUDGET = 9_000;

/** The part size for a file: the configured one, grown so a file of `totalSize` fits the part budget. */
export function choosePartSize(configured: number, totalSize: number | null): number {
  if (totalSize === null || totalSize <= configured * PART_BUDGET) return configured;
  return Math.ceil(totalSize / PART_BUDGET / MiB) * MiB;
}

/**
 * The parts a resumed upload can keep: the run 1..k without gaps. Anything after a gap is
 * uploaded again (same part numbers, so S3 replaces it).
 */
export function contiguousParts(parts: readonly StoredPart[]): StoredPart[] {
  const kept: StoredPart[] = [];
  for (const part of [...parts].sort((a, b) => a.partNumber - b.partNumber)) {
    if (part.partNumber !== kept.length + 1) break;
    kept.push(part);
  }
  return kept;
}

export interface ChunkedBody {
  /** Bytes that were thrown away because the source started before where we asked. */
  discarded: number;
  /** Bytes the body delivered, discarded ones included. */
  received: number;
}

export interface ChunkOptions {
  partSize: number;
  /** Bytes at the start to drop (a source that ignored our Range request). */
  skip: number;
  /** Expected bytes, when known: small files then get a small buffer instead of a whole part. */
  sizeHint: number | null;
  /** Every byte that is kept, in order (hashing). */
  onData: (chunk: Buffer) => void;
  /** Every chunk received, dropped ones included (liveness: a long skip must still heartbeat). */
  onReceived?: (bytes: number) => void;
}

/**
 * The chunks of a body from the requested offset on: counts every byte received (and tells
 * `onReceived`), drops the `skip` bytes a source sent before the offset.
 */
async function* keptChunks(body: Readable, options: Pick<ChunkOptions, 'skip' | 'onReceived'>, stats: ChunkedBody): AsyncGenerator<Buffer> {
  let toSkip = options.skip;
  for await (const raw of sourceChunks(body, stats)) {
    let chunk = raw;
    stats.received += chunk.length;
    options.onReceived?.(chunk.length);
    if (toSkip > 0) {
      const dropped = Math.min(toSkip, chunk.length);
      toSkip -= dropped;
      stats.discarded += dropped;
      chunk = chunk.subarray(dropped);
      if (chunk.length === 0) continue;
    }
    yield chunk;
  }
}

/**
 * The source's chunks, its failures told as the source's (a TransientError of this file): a reset
 * or a cut mid-body is the file's own trouble, never the store's or another file's.
 */
async function* sourceChunks(body: Readable, stats: ChunkedBody): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of body) yield chunk as Buffer;
  } catch (err) {
    if (err instanceof TransientError) throw err;
    throw new TransientError(`source body failed after ${stats.received} bytes: ${errorMessage(err)}`);
  }
}

/**
 * Cuts a body into buffers of `partSize` (the last one shorter). One buffer is reused: the
 * generator only reads on when the consumer asks for the next part, which is what gives
 * back-pressure all the way to the source socket and keeps memory at one part per transfer.
 */
export async function* chunkBody(body: Readable, options: ChunkOptions, stats: ChunkedBody): AsyncGenerator<Buffer> {
  const { partSize } = options;
  const wanted = options.sizeHint === null ? partSize : Math.min(partSize, Math.max(options.sizeHint, 1));
  let buffer = takePartBuffer(sizeClass(wanted, partSize));
  let filled = 0;
  try {
    for await (let chunk of keptChunks(body, options, stats)) {
      options.onData(chunk);
      while (chunk.length > 0) {
        if (filled === buffer.length) {
          // The hint was low (or absent and the file is larger): grow to a whole part once.
          const grown = takePartBuffer(partSize);
          buffer.copy(grown, 0, 0, filled);
          givePartBuffer(buffer);
          buffer = grown;
        }
        const n = Math.min(buffer.length - filled, chunk.length);
        chunk.copy(buffer, filled, 0, n);
        filled += n;
        chunk = chunk.subarray(n);
        if (filled === partSize) {
          yield buffer;
          filled = 0;
        }
      }
    }
    if (filled > 0 || stats.received === 0) yield buffer.subarray(0, filled);
  } finally {
    // Runs when the consumer asks past the last part or stops asking (break, throw): either way
    // it is done with the part it was given, since it only asks again once that part is stored.
    givePartBuffer(buffer);
  }
}

/** A part of known length, read from the source only as fast as the store takes it. */
/**
 * Streamed parts of one file in flight at once. The next part starts streaming from the source as
 * soon as the previous one's last byte has left, while the store still writes it and answers:
 * a file alone kept the store busy only between its answers (a 1 GiB file moved at 101 MiB/s,
 * rclone with 4 parts at once at 122). No part is buffered for it; a crash leaves at most one more
 * stored part than the last checkpoint says (`previous.ts` sends up to this many again to keep the CRC32).
 */
export const PARTS_IN_FLIGHT = 2;

export interface PartStream {
  body: Readable;
  length: number;
}

export interface StreamedBody extends ChunkedBody {
  /** Why the source failed in the middle of a part: the store's request fails with it, less clearly. */
  failure: Error | null;
}

/**
 * Cuts a body of known size into part streams of the given lengths, without holding a part in
 * memory: each part's stream pulls from the source only when the store's request reads from it,
 * so back-pressure runs from the store's socket to the source's, and a transfer holds a chunk or
 * two instead of a part. The consumer must finish with one part (upload it) before asking for the
 * next. A source that ends early or breaks off fails the part in flight: `stats.failure` says
 * why and `onFailure` hears it (abort the store's request there). One that sends more than the
 * lengths add up to fails after the last part.
 */
export async function* streamParts(
  body: Readable,
  lengths: Iterable<number>,
  options: Omit<ChunkOptions, 'partSize' | 'sizeHint'> & { onFailure?: (err: Error) => void },
  stats: StreamedBody,
): AsyncGenerator<PartStream> {
  const source = keptChunks(body, options, stats);
  let pending: Buffer | null = null;
  const nextChunk = async (): Promise<Buffer | null> => {
    if (pending) {
      const chunk = pending;
      pending = null;
      return chunk;
    }
    const next = await source.next();
    return next.done ? null : next.value;
  };
  let kept = 0;
  try {
    for (const length of lengths) {
      let remaining = length;
      const fail = (err: Error) => {
        if (!stats.failure) {
          stats.failure = err;
          // The store's request reads the part through a pipe, which does not pass errors on.
          options.onFailure?.(err);
        }
        return err;
      };
      const part = Readable.from(
        (async function* () {
          while (remaining > 0) {
            let chunk: Buffer | null;
            try {
              chunk = await nextChunk();
            } catch (err) {
              throw fail(
                err instanceof TransientError ? err : new TransientError(`source body failed after ${kept} bytes: ${errorMessage(err)}`),
              );
            }
            if (!chunk) throw fail(new TransientError(`short body: the source ended after ${kept} bytes`));
            if (chunk.length > remaining) {
              pending = chunk.subarray(remaining);
              chunk = chunk.subarray(0, remaining);
            }
            remaining -= chunk.length;
            kept += chunk.length;
            options.onData(chunk);
            yield chunk;
          }
        })(),
        { objectMode: false },
      );
      // The failure travels through stats.failure and onFailure; a store that stopped listening
      // (its request aborted) must not turn it into an unhandled 'error' that ends the process.
      part.on('error', () => undefined);
      yield { body: part, length };
      if (remaining > 0) throw fail(new TransientError(`a part was not read to its end (${remaining} bytes left)`));
    }
    if ((await nextChunk()) !== null) throw new TransientError(`the source sent more than the ${kept} bytes it announced`);
  } finally {
    if (!body.destroyed) body.destroy();
  }
}

/** Part lengths for `bytes` in parts of `partSize`: whole parts and a shorter last one. */
export function partLengths(bytes: number, partSize: number): number[] {
  const lengths: number[] = [];
  for (let left = bytes; left > 0; left -= partSize) lengths.push(Math.min(partSize, left));
  return lengths;
}

/**
 * Part buffers reused across the transfers of this process. A part buffer used to become garbage
 * after each file; V8 frees such buffers only when it collects the small objects that own them,
 * so with many files the dead ones piled up: 100 MB of buffers where 8 transfers held 40 MB
 * (measured with 5 MiB files, 8 at a time), and ~60 MB with 64 KiB files. Reusing them keeps the
 * buffers resident at what the transfers in flight need. Sizes come in classes (powers of two from
 * 64 KiB up to 1 MiB, then whole MiB) so a file gets a buffer close to its size and a later file
 * of about the same size can reuse it; spares are capped in bytes.
 */
const SMALLEST_CLASS = 64 * KiB;
const MAX_SPARE_BYTES = 32 * MiB;
const spare = new Map<number, Buffer[]>();
let spareBytes = 0;

/** The buffer size for `wanted` bytes: its class, never more than a part. */
export function sizeClass(wanted: number, partSize: number): number {
  const size = wanted <= MiB ? Math.max(SMALLEST_CLASS, 2 ** Math.ceil(Math.log2(Math.max(wanted, 1)))) : Math.ceil(wanted / MiB) * MiB;
  return Math.min(size, partSize);
}

function takePartBuffer(size: number): Buffer {
  const reused = spare.get(size)?.pop();
  if (!reused) return Buffer.allocUnsafeSlow(size);
  spareBytes -= size;
  return reused;
}

function givePartBuffer(buffer: Buffer): void {
  if (buffer.byteOffset !== 0 || buffer.length !== buffer.buffer.byteLength || spareBytes + buffer.length > MAX_SPARE_BYTES) return;
  const list = spare.get(buffer.length) ?? [];
  if (list.includes(buffer)) return;
  list.push(buffer);
  spare.set(buffer.length, list);
  spareBytes += buffer.length;
}
