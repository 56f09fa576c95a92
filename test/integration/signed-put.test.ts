import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { DEV_S3_CREDENTIALS, devS3Client, ensureBucket, startSeaweed, type SeaweedServer } from '../../src/devstack/seaweed';
import { s3ErrorOf } from '../../src/storage/errors';
import { ObjectStore, crc32Base64 } from '../../src/storage/objectStore';
import { TransientError } from '../../src/errors';
import { S3FaultProxy, type S3Request } from '../support/s3FaultProxy';

/**
 * The direct PutObject path (src/storage/signedPut.ts) against SeaweedFS with signatures checked,
 * behind the fault proxy: what a small file and a manifest go up through.
 */
describe('buffered PutObject, signed and sent without the SDK', () => {
  const bucket = 'signed-put';
  let dir: string;
  let weed: SeaweedServer;
  let proxy: S3FaultProxy;
  let reader: S3Client;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'callvault-signed-put-'));
    weed = await startSeaweed({ dataDir: join(dir, 'seaweed'), authenticate: true });
    proxy = await S3FaultProxy.start({ upstream: weed.endpoint });
    await ensureBucket(weed.endpoint, bucket);
    reader = devS3Client(weed.endpoint);
  }, 120_000);

  afterAll(async () => {
    reader?.destroy();
    await proxy?.close();
    await weed?.kill9();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function storeWith(secretAccessKey: string = DEV_S3_CREDENTIALS.secretAccessKey, checksums = true): ObjectStore {
    const storage = parseConfig({
      storage: { endpoint: proxy.endpoint, bucket, accessKeyId: { env: 'K' }, secretAccessKey: { env: 'S' }, checksums },
      connections: {},
    }).storage;
    return ObjectStore.for(storage, { K: DEV_S3_CREDENTIALS.accessKeyId, S: secretAccessKey });
  }

  const meta = { contentType: 'audio/mpeg', metadata: { sha256: 'x', 'source-id': 'rec-1', provider: 'bird' } };

  it('stores the bytes, metadata and CRC32 under a key with characters SigV4 escapes, the store checking the signature', async () => {
    const store = storeWith();
    const body = randomBytes(64 * 1024);
    const sha = createHash('sha256').update(body).digest('hex');
    const key = "exports/bird/c/2026-05-06/conv (1)/it's *rec* ü+=&.mp3";
    try {
      proxy.clearLog();
      const written = await store.putObject(key, body, { ...meta, metadata: { ...meta.metadata, sha256: sha } }, undefined, sha);
      expect(proxy.requests.map((r) => [r.operation, r.key])).toEqual([['PutObject', key]]);
      expect(proxy.requests[0]!.headers['x-amz-checksum-crc32']).toMatch(/^[A-Za-z0-9+/]{6}==$/);
      const head = await reader.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
      expect(head.ContentLength).toBe(body.length);
      expect(head.ContentType).toBe('audio/mpeg');
      expect(head.Metadata).toEqual({ sha256: sha, 'source-id': 'rec-1', provider: 'bird' });
      expect(head.ChecksumCRC32).toBe(proxy.requests[0]!.headers['x-amz-checksum-crc32']);
      expect(written.etag.replace(/"/g, '')).toBe(head.ETag?.replace(/"/g, ''));
      const got = await reader.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('hashes a body whose SHA-256 the caller did not give (a manifest), and sends no checksum when checksums are off', async () => {
    const store = storeWith(undefined, false);
    try {
      proxy.clearLog();
      await store.putJson('manifests/m.json', { files: 1 });
      const sent = proxy.requests[0]!;
      expect(sent.headers['x-amz-checksum-crc32']).toBeUndefined();
      const got = await reader.send(new GetObjectCommand({ Bucket: bucket, Key: 'manifests/m.json' }));
      expect(JSON.parse(await got.Body!.transformToString())).toEqual({ files: 1 });
    } finally {
      await store.close();
    }
  });

  it('throws a flipped byte back as the store named it (BadDigest, 400), for the transfer to send the file again', async () => {
    const store = storeWith();
    try {
      proxy.flipByte('PutObject', { offset: 100 });
      const err = await store.putObject('flipped.mp3', randomBytes(10_000), meta).catch((e: unknown) => e);
      expect(s3ErrorOf(err)).toEqual({ name: 'BadDigest', status: 400 });
      await expect(reader.send(new HeadObjectCommand({ Bucket: bucket, Key: 'flipped.mp3' }))).rejects.toMatchObject({ name: 'NotFound' });
    } finally {
      proxy.clearRules();
      await store.close();
    }
  });

  it('tries again after a 503, and not after a refused signature', async () => {
    const store = storeWith();
    try {
      proxy.clearLog();
      proxy.fail('PutObject', { status: 503, code: 'SlowDown', times: 2 });
      await store.putObject('retried.mp3', randomBytes(1000), meta);
      expect(proxy.requestsFor('PutObject')).toHaveLength(3);
    } finally {
      proxy.clearRules();
      await store.close();
    }
    const wrongKey = storeWith('not-the-secret');
    try {
      proxy.clearLog();
      const err = await wrongKey.putObject('refused.mp3', randomBytes(1000), meta).catch((e: unknown) => e);
      expect(s3ErrorOf(err)).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
      expect(proxy.requestsFor('PutObject')).toHaveLength(1);
    } finally {
      await wrongKey.close();
    }
  });

  it('leaves an archive policy to the SDK, which writes it', async () => {
    const store = storeWith();
    try {
      proxy.clearLog();
      await store.putObject('tagged.mp3', randomBytes(1000), { ...meta, policy: { legalHold: false, tags: { team: 'qa' } } });
      const tags = await reader.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'tagged.mp3' }));
      expect(tags.TagSet).toEqual([{ Key: 'team', Value: 'qa' }]);
    } finally {
      await store.close();
    }
  });

  describe('a streamed body in one PutObject, its CRC32 in a trailer', () => {
    const streamed = (body: Buffer) => ({ body: Readable.from(chunksOf(body, 50_000)), length: body.length });

    /** Runs `test` with a store on the direct path, then clears the proxy's rules and closes the store. */
    async function withStore(test: (store: ObjectStore) => Promise<void>): Promise<void> {
      const store = storeWith();
      try {
        await test(store);
      } finally {
        proxy.clearRules();
        await store.close();
      }
    }

    it('stores the bytes and metadata in one request, the store checking the trailer, with no Content-Encoding on the object', async () => {
      const body = randomBytes(3 * 1024 * 1024 + 17);
      await withStore(async (store) => {
        proxy.clearLog();
        expect(store.streamsInOnePut(meta)).toBe(true);
        await store.putStream('streamed.mp3', streamed(body), meta, () => crc32(body));
        const [sent, ...more] = proxy.requests;
        expect(more).toEqual([]);
        expect(sent).toMatchObject({ operation: 'PutObject', requestBytes: body.length });
        expect(sent!.headers['x-amz-content-sha256']).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
        expect(sent!.trailers['x-amz-checksum-crc32']).toBe(crc32Base64(crc32(body)));
        const head = await reader.send(new HeadObjectCommand({ Bucket: bucket, Key: 'streamed.mp3', ChecksumMode: 'ENABLED' }));
        expect(head).toMatchObject({ ContentLength: body.length, ContentType: 'audio/mpeg', ChecksumCRC32: crc32Base64(crc32(body)) });
        expect(head.ContentEncoding).toBeUndefined();
        expect(head.Metadata).toEqual(meta.metadata);
        const got = await reader.send(new GetObjectCommand({ Bucket: bucket, Key: 'streamed.mp3' }));
        expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
      });
    });

    it('is refused (InvalidDigest) when a byte changed on the way, stores nothing, and keeps sending trailers', async () => {
      const body = randomBytes(2 * 1024 * 1024);
      await withStore(async (store) => {
        proxy.flipByte('PutObject', { offset: 1_500_000 });
        const err = await store.putStream('streamed-flipped.mp3', streamed(body), meta, () => crc32(body)).catch((e: unknown) => e);
        expect(s3ErrorOf(err)).toMatchObject({ name: 'InvalidDigest', status: 400 });
        await expect(reader.send(new HeadObjectCommand({ Bucket: bucket, Key: 'streamed-flipped.mp3' }))).rejects.toMatchObject({
          name: 'NotFound',
        });
        expect(store.streamsInOnePut(meta)).toBe(true);
      });
    });

    it('stops sending trailers to a store that refuses the request (4xx other than a changed byte), failing that file as transient', async () => {
      const body = randomBytes(1024 * 1024);
      await withStore(async (store) => {
        // What SeaweedFS without identities answers to this request only.
        proxy.fail('PutObject', { status: 403, code: 'InvalidAccessKeyId' });
        const err = await store.putStream('refused-trailer.mp3', streamed(body), meta, () => crc32(body)).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TransientError);
        expect((err as Error).message).toMatch(/refused-trailer\.mp3: the store refused a checksum trailer.*multipart uploads from now on/);
        expect(store.streamsInOnePut(meta)).toBe(false);
      });
    });

    it('fails, storing nothing, when the store dies in the middle of the body, and stores the file whole once it is back', async () => {
      const body = randomBytes(3 * 1024 * 1024);
      await withStore(async (store) => {
        const hold = proxy.hold('PutObject', { at: { bodyByte: 1_000_000 } });
        const put = store.putStream('streamed-crash.mp3', streamed(body), meta, () => crc32(body)).catch((e: unknown) => e);
        await hold.held();
        await weed.kill9();
        hold.release();
        expect(await put).toBeInstanceOf(Error);
        // A store that went away is not one that refuses trailers.
        expect(store.streamsInOnePut(meta)).toBe(true);
        await weed.start();
        await expect(reader.send(new HeadObjectCommand({ Bucket: bucket, Key: 'streamed-crash.mp3' }))).rejects.toMatchObject({
          name: 'NotFound',
        });
        await store.putStream('streamed-crash.mp3', streamed(body), meta, () => crc32(body));
        const got = await reader.send(new GetObjectCommand({ Bucket: bucket, Key: 'streamed-crash.mp3' }));
        expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
      });
    }, 120_000);

    it('charges each file only its own faults when refusals and flipped bytes come at rates, to files in flight together, and stores every one whole', async () => {
      // A plan per file: a quarter clean, a quarter refused once (503), a quarter with a byte
      // flipped once, a quarter both in turn; eight files of each, six at a time, three tries each.
      const plans: Array<Array<'fail' | 'flip'>> = [[], ['fail'], ['flip'], ['fail', 'flip']];
      const files = Array.from({ length: 24 }, (_, i) => ({
        key: `rates/${i}.mp3`,
        body: randomBytes(1024 * 1024 + i * 40_000),
        plan: plans[i % 4]!,
      }));
      const planOf = new Map(files.map((f) => [f.key, f.plan]));
      const triesOf = new Map<string, number>();
      const tryOf = new Map<number, number>();
      const faultOf = (r: S3Request): 'fail' | 'flip' | undefined => {
        if (r.operation !== 'PutObject' || r.key === null || !planOf.has(r.key)) return undefined;
        if (!tryOf.has(r.id)) {
          triesOf.set(r.key, (triesOf.get(r.key) ?? 0) + 1);
          tryOf.set(r.id, triesOf.get(r.key)!);
        }
        return planOf.get(r.key)![tryOf.get(r.id)! - 1];
      };
      await withStore(async (store) => {
        proxy.fail((r) => faultOf(r) === 'fail', { status: 503, code: 'SlowDown', times: 1_000 });
        proxy.flipByte((r) => faultOf(r) === 'flip', { offset: 700_000, times: 1_000 });
        const seen = new Map<string, string[]>();
        const queue = [...files];
        const worker = async () => {
          for (let file = queue.shift(); file; file = queue.shift()) {
            const errors: string[] = [];
            for (let attempt = 1; attempt <= 3; attempt++) {
              const err = await store
                .putStream(file.key, streamed(file.body), meta, () => crc32(file.body))
                .then(
                  () => null,
                  (e: unknown) => e,
                );
              if (err === null) break;
              errors.push(s3ErrorOf(err).name);
            }
            seen.set(file.key, errors);
          }
        };
        await Promise.all(Array.from({ length: 6 }, worker));
        const expected = (plan: Array<'fail' | 'flip'>) => plan.map((f) => (f === 'fail' ? 'SlowDown' : 'InvalidDigest'));
        expect(Object.fromEntries(seen)).toEqual(Object.fromEntries(files.map((f) => [f.key, expected(f.plan)])));
        expect(store.streamsInOnePut(meta)).toBe(true);
        for (const file of files) {
          const got = await reader.send(new GetObjectCommand({ Bucket: bucket, Key: file.key }));
          expect(Buffer.from(await got.Body!.transformToByteArray()).equals(file.body), file.key).toBe(true);
        }
      });
    }, 120_000);

    it('stops sending trailers to a store that does not confirm them, failing that file as transient', async () => {
      // A store that reads the body and answers 200 without echoing the checksum: it never read the trailer.
      const deaf = createServer((req, res) => {
        req.resume();
        req.on('end', () => res.writeHead(200, { etag: '"x"' }).end());
      });
      await new Promise<void>((resolve) => deaf.listen(0, '127.0.0.1', resolve));
      const storage = parseConfig({
        storage: {
          endpoint: `http://127.0.0.1:${(deaf.address() as AddressInfo).port}`,
          bucket,
          accessKeyId: { env: 'K' },
          secretAccessKey: { env: 'S' },
        },
        connections: {},
      }).storage;
      const store = ObjectStore.for(storage, { K: 'k', S: 's' });
      const body = randomBytes(1024 * 1024);
      try {
        const err = await store.putStream('unconfirmed.mp3', streamed(body), meta, () => crc32(body)).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TransientError);
        expect((err as Error).message).toMatch(/unconfirmed\.mp3: the store did not confirm the CRC32.*multipart uploads from now on/);
        expect(store.streamsInOnePut(meta)).toBe(false);
        expect(store.streamsInOnePut({ ...meta, policy: { legalHold: false } })).toBe(false);
      } finally {
        await store.close();
        deaf.close();
      }
    });
  });
});

function* chunksOf(body: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < body.length; at += size) yield body.subarray(at, at + size);
}
