import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { OpenDownloadOptions, Provider } from '../../src/providers/types';
import type { SourceItem } from '../../src/contracts/sourceItem';
import type { ObjectMeta, ObjectStore, StoredPart, UploadBody, WriteResult } from '../../src/storage/objectStore';
import { chunkBody } from '../../src/transfer/parts';
import { transferFile, type TransferFileInput } from '../../src/transfer/transferFile';
import { MiB } from '../../src/contracts/units';

const PART = 5 * MiB;

function content(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) % 251;
  return b;
}

/** A source that serves one file with Range, and records what it was asked for. */
function fakeProvider(data: Buffer): Provider & { opens: number[] } {
  const opens: number[] = [];
  return {
    providerName: 'fake',
    opens,
    async listPage() {
      return { items: [], nextCursor: null };
    },
    async openDownload(_item: SourceItem, options: OpenDownloadOptions) {
      opens.push(options.offset);
      const body = Readable.from([data.subarray(options.offset)]);
      return {
        kind: 'ready' as const,
        download: {
          body,
          offset: options.offset,
          contentLength: data.length - options.offset,
          totalSize: data.length,
          contentType: 'audio/mpeg',
          extension: '.mp3',
          sourceUrl: 'https://example.test/file.mp3',
        },
      };
    },
    async close() {},
  };
}

/** What an upload carries: a buffer as it is, a streamed part read to its end. */
async function bytesOf(body: UploadBody): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return Buffer.from(body);
  const read = await buffer(body.body);
  expect(read.length).toBe(body.length);
  return read;
}

/** An in-memory object store with multipart uploads, counting every call. */
function fakeStore() {
  const calls: string[] = [];
  const objects = new Map<string, { body: Buffer; metadata: Record<string, string> }>();
  const uploads = new Map<string, { key: string; parts: Map<number, Buffer> }>();
  let nextId = 1;
  const store = {
    bucket: 'b',
    calls,
    objects,
    uploads,
    async putObject(key: string, upload: UploadBody, meta: ObjectMeta, _signal?: AbortSignal, sha256Hex?: string): Promise<WriteResult> {
      calls.push('putObject');
      const body = await bytesOf(upload);
      if (sha256Hex !== undefined) expect(createHash('sha256').update(body).digest('hex')).toBe(sha256Hex);
      objects.set(key, { body, metadata: meta.metadata });
      return { etag: 'e', versionId: null };
    },
    /** Whether it takes a streamed PutObject's CRC32 as a trailer (ObjectStore.streamsInOnePut). */
    trailers: true,
    streamsInOnePut(meta: ObjectMeta): boolean {
      return store.trailers && !meta.policy;
    },
    async putStream(key: string, upload: UploadBody, meta: ObjectMeta, crc32After: () => number): Promise<WriteResult> {
      calls.push('putStream');
      const body = await bytesOf(upload);
      // As the store does: the trailer, read after the last byte, must be the received bytes' CRC32.
      if (crc32After() !== crc32(body))
        throw Object.assign(new Error('The Content-Md5 you specified is not valid.'), { name: 'InvalidDigest' });
      objects.set(key, { body, metadata: meta.metadata });
      return { etag: 'e', versionId: null };
    },
    async createUpload(key: string): Promise<string> {
      calls.push('createUpload');
      const id = `u${nextId++}`;
      uploads.set(id, { key, parts: new Map() });
      return id;
    },
    async uploadPart(_key: string, uploadId: string, partNumber: number, upload: UploadBody): Promise<StoredPart> {
      calls.push('uploadPart');
      const body = await bytesOf(upload);
      uploads.get(uploadId)!.parts.set(partNumber, body);
      return { partNumber, etag: `p${partNumber}`, size: body.length };
    },
    async listParts(_key: string, uploadId: string): Promise<StoredPart[] | null> {
      calls.push('listParts');
      const u = uploads.get(uploadId);
      if (!u) return null;
      return [...u.parts.entries()].map(([partNumber, b]) => ({ partNumber, etag: `p${partNumber}`, size: b.length }));
    },
    async findUploads(key: string): Promise<string[]> {
      calls.push('findUploads');
      return [...uploads.entries()].filter(([, u]) => u.key === key).map(([id]) => id);
    },
    /** The whole object's CRC32 each CompleteMultipartUpload carried (null: none). */
    completedCrc: [] as Array<number | null>,
    async completeUpload(key: string, uploadId: string, parts: StoredPart[], crc: number | null): Promise<WriteResult> {
      calls.push('completeUpload');
      const u = uploads.get(uploadId)!;
      const body = Buffer.concat(parts.map((p) => u.parts.get(p.partNumber)!));
      // As the store does: a CRC32 that is not the assembled object's is refused.
      if (crc !== null && crc !== crc32(body))
        throw Object.assign(new Error('The CRC32 you specified did not match the calculated checksum.'), { name: 'BadDigest' });
      store.completedCrc.push(crc);
      objects.set(key, { body, metadata: {} });
      uploads.delete(uploadId);
      return { etag: 'e', versionId: null };
    },
    async abortUpload(_key: string, uploadId: string): Promise<void> {
      calls.push('abortUpload');
      uploads.delete(uploadId);
    },
    async head(key: string) {
      calls.push('head');
      const o = objects.get(key);
      return o ? { size: o.body.length, etag: '"e"', versionId: null, metadata: o.metadata, contentType: 'audio/mpeg' } : null;
    },
    async readStream(key: string): Promise<Readable> {
      calls.push('readStream');
      return Readable.from([objects.get(key)!.body]);
    },
  };
  return store;
}

const item: SourceItem = {
  sourceId: 'rec-1',
  conversationId: 'call-1',
  kind: 'recording',
  createdAt: '2026-01-01T00:00:00Z',
  extension: '.mp3',
  locator: {},
};

function input(provider: Provider, store: ReturnType<typeof fakeStore>, extra: Partial<TransferFileInput> = {}): TransferFileInput {
  return {
    provider,
    store: store as unknown as ObjectStore,
    item,
    keyFor: (ext) => `k/rec-1${ext}`,
    baseMetadata: {},
    partSize: PART,
    onCheckpoint: () => undefined,
    ...extra,
  };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The checkpoint a worker heartbeats once the first part of `data` is stored, with its CRC32. */
const afterFirstPart = (uploadId: string, data: Buffer) => ({
  sourceId: 'rec-1',
  key: 'k/rec-1.mp3',
  uploadId,
  partsDone: 1,
  bytesDone: PART,
  crc32: crc32(data.subarray(0, PART)),
});

describe('transferFile: finding an earlier upload by key', () => {
  it('a first attempt at a file that fits in one part makes no upload lookup, and its hash signs the PUT', async () => {
    const data = content(64 * 1024);
    const store = fakeStore();
    const out = await transferFile(input(fakeProvider(data), store));
    expect(out.kind).toBe('stored');
    expect(store.calls).toEqual(['putObject']);
    expect(store.objects.get('k/rec-1.mp3')!.metadata.sha256).toBe(sha(data));
  });

  it('a first attempt at a file from a MiB up that fits in one part streams it in one PutObject, its CRC32 the trailer', async () => {
    const data = content(2 * MiB + 3);
    const store = fakeStore();
    const out = await transferFile(input(fakeProvider(data), store));
    expect(store.calls).toEqual(['putStream']);
    expect(store.objects.get('k/rec-1.mp3')!.body.equals(data)).toBe(true);
    // Known only after the last byte: in provenance and the manifest, not in the object's metadata.
    expect(store.objects.get('k/rec-1.mp3')!.metadata.sha256).toBeUndefined();
    expect(out.kind === 'stored' && out.object).toMatchObject({ sha256: sha(data), size: data.length, hashedBy: 'stream' });
  });

  it('the same file goes up as a multipart upload to a store that takes no trailers', async () => {
    const data = content(2 * MiB + 3);
    const store = fakeStore();
    store.trailers = false;
    const out = await transferFile(input(fakeProvider(data), store));
    expect(store.calls).toEqual(['createUpload', 'uploadPart', 'completeUpload']);
    expect(store.completedCrc).toEqual([crc32(data)]);
    expect(out.kind === 'stored' && out.object).toMatchObject({ sha256: sha(data), size: data.length, hashedBy: 'stream' });
  });

  it('a retried file looks first, for an upload and for an object an earlier try finished', async () => {
    const store = fakeStore();
    await transferFile(input(fakeProvider(content(1000)), store, { retrying: true }));
    expect(store.calls).toEqual(['findUploads', 'head', 'putObject']);
  });

  it('a first attempt at a multipart file looks after opening, and continues an upload left without a checkpoint', async () => {
    const data = content(3 * PART + 123);
    const store = fakeStore();
    // An earlier export got two parts in before it gave up.
    const id = await store.createUpload('k/rec-1.mp3');
    await store.uploadPart('k/rec-1.mp3', id, 1, data.subarray(0, PART));
    await store.uploadPart('k/rec-1.mp3', id, 2, data.subarray(PART, 2 * PART));
    store.calls.length = 0;
    const provider = fakeProvider(data);
    const out = await transferFile(input(provider, store));
    expect(out.kind === 'stored' && out.object.resumedFromByte).toBe(2 * PART);
    // Opened from 0, found the upload, reopened where its parts end.
    expect(provider.opens).toEqual([0, 2 * PART]);
    expect(store.calls.slice(0, 2)).toEqual(['findUploads', 'listParts']);
    expect(store.objects.get('k/rec-1.mp3')!.body.equals(data)).toBe(true);
    expect(out.kind === 'stored' && out.object.sha256).toBe(sha(data));
    expect(out.kind === 'stored' && out.object.hashedBy).toBe('read-back');
  });

  it('a first attempt at a multipart file with no earlier upload streams on from the first open', async () => {
    const data = content(2 * PART + 5);
    const store = fakeStore();
    const provider = fakeProvider(data);
    const out = await transferFile(input(provider, store));
    expect(provider.opens).toEqual([0]);
    // No copy onto itself after the upload: its SHA-256 goes to provenance and the manifest only.
    expect(store.calls).toEqual(['findUploads', 'createUpload', 'uploadPart', 'uploadPart', 'uploadPart', 'completeUpload']);
    expect(out.kind === 'stored' && out.object.sha256).toBe(sha(data));
    expect(out.kind === 'stored' && out.object.hashedBy).toBe('stream');
    expect(store.completedCrc).toEqual([crc32(data)]);
  });

  it('a checkpoint for this file is used whatever the lookup mode', async () => {
    const data = content(2 * PART + 5);
    const store = fakeStore();
    const id = await store.createUpload('k/rec-1.mp3');
    await store.uploadPart('k/rec-1.mp3', id, 1, data.subarray(0, PART));
    store.calls.length = 0;
    const provider = fakeProvider(data);
    const checkpoint = { sourceId: 'rec-1', key: 'k/rec-1.mp3', uploadId: id, partsDone: 1, bytesDone: PART };
    await transferFile(input(provider, store, { checkpoint }));
    expect(provider.opens).toEqual([PART]);
    expect(store.calls[0]).toBe('listParts');
    expect(store.calls).not.toContain('findUploads');
  });
});

describe("transferFile: the whole object's CRC32, which the store checks on CompleteMultipartUpload", () => {
  it("continues from the checkpoint's CRC32 after a crash, so the resumed upload is checked end to end", async () => {
    const data = content(3 * PART + 77);
    const store = fakeStore();
    const id = await store.createUpload('k/rec-1.mp3');
    await store.uploadPart('k/rec-1.mp3', id, 1, data.subarray(0, PART));
    const checkpoints: unknown[] = [];
    const checkpoint = afterFirstPart(id, data);
    const out = await transferFile(input(fakeProvider(data), store, { checkpoint, onCheckpoint: (cp) => checkpoints.push(cp) }));
    expect(out.kind === 'stored' && out.object).toMatchObject({ sha256: sha(data), resumedFromByte: PART });
    expect(store.completedCrc).toEqual([crc32(data)]);
    // Every later checkpoint carries the CRC32 of the bytes up to it.
    expect(checkpoints).toEqual(
      [2, 3, 4].map((parts) =>
        expect.objectContaining({ partsDone: parts, crc32: crc32(data.subarray(0, Math.min(parts * PART, data.length))) }),
      ),
    );
  });

  it('sends again the parts that were in flight after the last checkpoint the server had, to keep the CRC32', async () => {
    const data = content(3 * PART + 9);
    const store = fakeStore();
    const id = await store.createUpload('k/rec-1.mp3');
    for (const n of [1, 2, 3]) await store.uploadPart('k/rec-1.mp3', id, n, data.subarray((n - 1) * PART, n * PART));
    const provider = fakeProvider(data);
    const checkpoint = afterFirstPart(id, data);
    await transferFile(input(provider, store, { checkpoint }));
    expect(provider.opens).toEqual([PART]);
    expect(store.completedCrc).toEqual([crc32(data)]);
  });

  it('keeps more parts stored after the last checkpoint (heartbeats are throttled), and then completes without a CRC32', async () => {
    const data = content(4 * PART + 9);
    const store = fakeStore();
    const id = await store.createUpload('k/rec-1.mp3');
    for (const n of [1, 2, 3, 4]) await store.uploadPart('k/rec-1.mp3', id, n, data.subarray((n - 1) * PART, n * PART));
    const provider = fakeProvider(data);
    const checkpoint = afterFirstPart(id, data);
    const out = await transferFile(input(provider, store, { checkpoint }));
    expect(provider.opens).toEqual([4 * PART]);
    expect(store.completedCrc).toEqual([null]);
    expect(out.kind === 'stored' && out.object).toMatchObject({ sha256: sha(data), hashedBy: 'read-back' });
  });

  it('completes without a CRC32 an upload found without its checkpoint (the SHA-256 is read back)', async () => {
    const data = content(2 * PART + 9);
    const store = fakeStore();
    const id = await store.createUpload('k/rec-1.mp3');
    await store.uploadPart('k/rec-1.mp3', id, 1, data.subarray(0, PART));
    const out = await transferFile(input(fakeProvider(data), store));
    expect(out.kind === 'stored' && out.object).toMatchObject({ sha256: sha(data), hashedBy: 'read-back' });
    expect(store.completedCrc).toEqual([null]);
  });

  it("a refused CRC32 (a part changed on the way) aborts the upload and is the file's own retry", async () => {
    const data = content(2 * PART + 9);
    const store = fakeStore();
    const uploadPart = store.uploadPart;
    // A byte flipped between us and the store in part 2.
    store.uploadPart = async (key, uploadId, n, body) => {
      const bytes = await bytesOf(body);
      if (n === 2) bytes[10]! ^= 1;
      return uploadPart(key, uploadId, n, bytes);
    };
    const err = await transferFile(input(fakeProvider(data), store)).catch((e: unknown) => e);
    expect(err).toMatchObject({
      name: 'TransientError',
      message: expect.stringMatching(/^rec-1: the store refused the bytes it received \(BadDigest/),
    });
    expect(store.calls.slice(-2)).toEqual(['completeUpload', 'abortUpload']);
    expect(store.uploads.size).toBe(0);
  });
});

describe('transferFile: a file an earlier try stored whole, but never recorded', () => {
  it('is adopted from its metadata without fetching a byte again', async () => {
    const data = content(3 * PART + 11);
    const store = fakeStore();
    store.objects.set('k/rec-1.mp3', { body: data, metadata: { sha256: sha(data) } });
    const provider = fakeProvider(data);
    const out = await transferFile(input(provider, store, { retrying: true }));
    expect(out.kind === 'stored' && out.object).toMatchObject({
      size: data.length,
      sha256: sha(data),
      hashedBy: 'metadata',
      resumedFromByte: data.length,
    });
    // Asked from the end of the file: the source answers with its size and no body.
    expect(provider.opens).toEqual([data.length]);
    expect(store.calls).toEqual(['findUploads', 'head']);
  });

  it('is hashed by reading it back when it has no SHA-256 in its metadata (a multipart upload), and not rewritten', async () => {
    const data = content(2 * PART + 3);
    const store = fakeStore();
    store.objects.set('k/rec-1.mp3', { body: data, metadata: {} });
    const out = await transferFile(input(fakeProvider(data), store, { retrying: true }));
    expect(out.kind === 'stored' && out.object).toMatchObject({ sha256: sha(data), hashedBy: 'read-back' });
    expect(store.calls).toEqual(['findUploads', 'head', 'readStream']);
    expect(store.objects.get('k/rec-1.mp3')!.metadata).toEqual({});
  });

  it('is found through a checkpoint whose upload was completed', async () => {
    const data = content(2 * PART + 3);
    const store = fakeStore();
    store.objects.set('k/rec-1.mp3', { body: data, metadata: {} });
    const checkpoint = { sourceId: 'rec-1', key: 'k/rec-1.mp3', uploadId: 'gone', partsDone: 2, bytesDone: 2 * PART };
    const provider = fakeProvider(data);
    const out = await transferFile(input(provider, store, { retrying: true, checkpoint }));
    expect(out.kind === 'stored' && out.object.hashedBy).toBe('read-back');
    expect(provider.opens).toEqual([data.length]);
  });

  it("is overwritten when its size is not the source's", async () => {
    const data = content(70_000);
    const store = fakeStore();
    store.objects.set('k/rec-1.mp3', { body: content(5), metadata: { sha256: 'stale' } });
    const provider = fakeProvider(data);
    const out = await transferFile(input(provider, store, { retrying: true }));
    expect(out.kind === 'stored' && out.object).toMatchObject({ size: data.length, sha256: sha(data), hashedBy: 'stream' });
    expect(provider.opens).toEqual([5, 0]);
    expect(store.objects.get('k/rec-1.mp3')!.body.equals(data)).toBe(true);
  });

  it('is not looked for on a first try', async () => {
    const data = content(1000);
    const store = fakeStore();
    store.objects.set('k/rec-1.mp3', { body: data, metadata: { sha256: sha(data) } });
    await transferFile(input(fakeProvider(data), store));
    expect(store.calls).toEqual(['putObject']);
  });
});

describe('chunkBody: part buffers', () => {
  const options = (partSize: number) => ({ partSize, skip: 0, sizeHint: null, onData: () => undefined });

  it('never hands one buffer to two bodies being cut at once, and reuses it once a body is done', async () => {
    const part = 2 * MiB;
    const a = chunkBody(Readable.from([content(part)]), options(part), { discarded: 0, received: 0 });
    const b = chunkBody(Readable.from([content(part)]), options(part), { discarded: 0, received: 0 });
    const partA = (await a.next()).value as Buffer;
    const partB = (await b.next()).value as Buffer;
    expect(partA.buffer).not.toBe(partB.buffer);
    expect(await a.next()).toMatchObject({ done: true });
    const c = chunkBody(Readable.from([content(part)]), options(part), { discarded: 0, received: 0 });
    const partC = (await c.next()).value as Buffer;
    expect(partC.buffer).toBe(partA.buffer);
    expect(partC.buffer).not.toBe(partB.buffer);
    await b.return(undefined);
    await c.return(undefined);
  });
});

describe('transferFile: parts in flight', () => {
  it('streams the next part while the store still answers the one before, and checkpoints them in order', async () => {
    const data = content(3 * PART + 5);
    const store = fakeStore();
    const events: string[] = [];
    let answerPart1: () => void = () => undefined;
    const part1Answered = new Promise<void>((resolve) => {
      answerPart1 = resolve;
    });
    const uploadPart = store.uploadPart.bind(store);
    store.uploadPart = async (key, uploadId, partNumber, upload) => {
      events.push(`start ${partNumber}`);
      const stored = await uploadPart(key, uploadId, partNumber, upload);
      if (partNumber === 1) await part1Answered;
      if (partNumber === 2) answerPart1();
      events.push(`stored ${partNumber}`);
      return stored;
    };
    const out = await transferFile(
      input(fakeProvider(data), store, { onCheckpoint: (cp) => events.push(`checkpoint ${cp.partsDone} at ${cp.bytesDone}`) }),
    );
    expect(out.kind === 'stored' && out.object.sha256).toBe(sha(data));
    // Part 2 began before part 1 was answered; part 2 was answered first, yet checkpointed second.
    expect(events.slice(0, 5)).toEqual(['start 1', 'start 2', 'stored 2', 'stored 1', `checkpoint 1 at ${PART}`]);
    expect(events.filter((e) => e.startsWith('checkpoint'))).toEqual(
      [1, 2, 3, 4].map((n) => `checkpoint ${n} at ${Math.min(n * PART, data.length)}`),
    );
    expect(store.completedCrc).toEqual([crc32(data)]);
  });

  it('stops before a next part when asked, once the parts already sent are stored and checkpointed', async () => {
    const data = content(4 * PART + 5);
    const store = fakeStore();
    const started: number[] = [];
    const checkpoints: number[] = [];
    const uploadPart = store.uploadPart.bind(store);
    store.uploadPart = async (key, uploadId, partNumber, upload) => {
      started.push(partNumber);
      return uploadPart(key, uploadId, partNumber, upload);
    };
    const stopping = transferFile(
      input(fakeProvider(data), store, {
        onCheckpoint: (cp) => checkpoints.push(cp.partsDone),
        beforePart: () => {
          if (started.includes(2)) throw new Error('the worker is stopping');
        },
      }),
    );
    await expect(stopping).rejects.toThrow('the worker is stopping');
    // Part 2 was on its way when the stop came: it is stored and checkpointed; part 3 never starts.
    expect(started).toEqual([1, 2]);
    expect(checkpoints).toEqual([1, 2]);
  });
});
