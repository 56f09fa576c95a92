import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { DEV_S3_CREDENTIALS, devS3Client, ensureBucket, startSeaweed, type SeaweedServer } from '../../src/devstack/seaweed';
import { s3ErrorOf } from '../../src/storage/errors';
import { ObjectStore } from '../../src/storage/objectStore';
import { S3FaultProxy } from '../support/s3FaultProxy';

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
});
