import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectRetentionCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BirdSimulator, type BirdRecordingSpec } from '../../src/simulators/bird';
import { devS3Client, startSeaweed, type SeaweedServer } from '../../src/devstack/seaweed';
import { crc32Base64 } from '../../src/storage/objectStore';
import { verifyObjects } from '../../src/verify/verify';
import type { ExportResult } from '../../src/contracts/exportResult';
import { MiB } from '../../src/contracts/units';
import { eventually, exportEnv, uniqueName, type ExportEnv, type WorkerProcess } from '../support/harness';
import { S3FaultProxy, type S3Exchange } from '../support/s3FaultProxy';
import { birdConnection } from '../support/birdConnection';

/**
 * The archive policy and the store-verified checksum on a real SeaweedFS 4.48 (its own, with
 * SSE-S3 turned on, behind the fault proxy), with a real Temporal, Postgres and worker processes.
 *
 * What SeaweedFS stores and reports back, and so what is read back here: Object Lock mode and
 * retain-until date, legal hold, SSE-S3, storage class, tags, versions, and the object's CRC32.
 * What it cannot do without a KMS: SSE-KMS (it refuses the write), so that one is proven from the
 * request log only. README.md, "Archive policy", has the table.
 */
const PART_MIB = 5;
const DAY = 24 * 3600 * 1000;
const RETAIN_DAYS = 30;

describe('an archive with Object Lock, legal hold, encryption, storage class, tags and store-checked CRC32', () => {
  const connection = uniqueName('archive');
  const bucket = uniqueName('locked');
  const start = Date.parse('2026-07-01T00:00:00Z');
  const day = (n: number) => ({ from: new Date(start + n * DAY).toISOString(), to: new Date(start + (n + 1) * DAY).toISOString() });
  // Day 0: two small files (one PutObject each) and a multipart one; day 1: the same for the
  // flipped bytes; day 2: one large file for the kill -9.
  const small = (seed: string, n: number, d: number) =>
    BirdSimulator.generate({ seed, count: n, ...day(d), size: { min: 64 * 1024, max: 200 * 1024 } });
  const large = (seed: string, n: number, d: number, size: number) =>
    BirdSimulator.generate({ seed, count: n, ...day(d), size: { min: size, max: size } });
  const recordings: BirdRecordingSpec[] = [
    ...small(`${connection}-s0`, 2, 0),
    ...large(`${connection}-l0`, 1, 0, 11 * MiB + 5),
    ...small(`${connection}-s1`, 1, 1),
    ...large(`${connection}-l1`, 1, 1, 12 * MiB + 7),
    ...large(`${connection}-l2`, 1, 2, 21 * MiB + 3),
  ];
  const onDay = (d: number) =>
    recordings.filter((r) => Date.parse(r.createdAt) >= start + d * DAY && Date.parse(r.createdAt) < start + (d + 1) * DAY);
  const archive = {
    objectLock: { mode: 'GOVERNANCE', retainFor: `${RETAIN_DAYS}d` },
    legalHold: true,
    encryption: { type: 'SSE-S3' },
    storageClass: 'STANDARD_IA',
    tags: { 'data-class': 'call recording', team: 'support' },
  };

  let dir: string;
  let weed: SeaweedServer;
  let proxy: S3FaultProxy;
  let s3: S3Client;
  let sim: BirdSimulator;
  let env: ExportEnv;
  let worker: WorkerProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'callvault-archive-'));
    weed = await startSeaweed({ dataDir: join(dir, 'seaweed'), sseS3Key: randomBytes(32).toString('hex') });
    proxy = await S3FaultProxy.start({ upstream: weed.endpoint });
    s3 = devS3Client(weed.endpoint);
    // Object Lock needs a bucket made with it (which also turns versioning on).
    await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    sim = new BirdSimulator({ seed: connection, recordings });
    await sim.start();
    env = await exportEnv({
      stack: { ...inject('stack'), s3Endpoint: proxy.endpoint },
      connections: {
        [connection]: birdConnection(sim, { rateLimit: { transferPerSecond: 400 }, archive }),
      },
      secrets: { BIRD_KEY: sim.accessKey },
      storage: { bucket, partSizeMiB: PART_MIB },
    });
    worker = await env.spawnWorker();
  });

  afterAll(async () => {
    await env?.close();
    await sim?.stop();
    s3?.destroy();
    await proxy?.close();
    await weed?.kill9();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const exportDay = async (d: number): Promise<ExportResult> => {
    const started = await env.start({
      connection,
      ...day(d),
      trigger: { kind: 'operator', by: 'archive test' },
      options: { heartbeatTimeoutSeconds: 2, maxRetryIntervalSeconds: 1 },
    });
    return (await started.handle.result()) as ExportResult;
  };
  const keyOf = async (id: string) => (await env.files(connection)).find((r) => r.source_id === id)!.object_key!;
  const bytesOf = async (key: string) =>
    Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  /** Every request for `key` of the given operations, in order. */
  const requestsOf = (key: string, ...ops: string[]): S3Exchange[] => proxy.requestsFor((r) => r.key === key && ops.includes(r.operation));

  /** The stored object is the source's bytes, and the store's own CRC32 of it is theirs too. */
  async function expectIntact(rec: BirdRecordingSpec): Promise<string> {
    const key = await keyOf(rec.id);
    const bytes = await bytesOf(key);
    expect(sha(bytes)).toBe(await sim.sha256(rec.id));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
    expect(head.ChecksumCRC32).toBe(crc32Base64(crc32(bytes)));
    return key;
  }

  it('leaves exactly one version per object, each carrying the lock, its retain-until date, the legal hold, SSE-S3, the storage class and the tags, and the store refuses to delete a locked version', async () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const result = await exportDay(0);
    const after = Date.now();
    expect(result).toMatchObject({ transferred: 3, failed: 0 });

    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: env.config.storage.prefix }));
    const perKey = new Map<string, number>();
    for (const v of versions.Versions ?? []) perKey.set(v.Key!, (perKey.get(v.Key!) ?? 0) + 1);
    const dataKeys = await Promise.all(onDay(0).map((r) => keyOf(r.id)));
    const manifestKeys = [...perKey.keys()].filter((k) => k.includes('/_manifests/'));
    expect(manifestKeys.length).toBeGreaterThan(0);
    expect(Object.fromEntries(perKey)).toEqual(Object.fromEntries([...dataKeys, ...manifestKeys].map((k) => [k, 1])));
    expect(versions.DeleteMarkers ?? []).toEqual([]);
    // No copy of anything onto itself: that was the second version.
    expect(proxy.requestsFor('CopyObject')).toEqual([]);

    for (const rec of onDay(0)) {
      const key = await expectIntact(rec);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect({
        mode: head.ObjectLockMode,
        hold: head.ObjectLockLegalHoldStatus,
        sse: head.ServerSideEncryption,
        storageClass: head.StorageClass,
      }).toEqual({ mode: 'GOVERNANCE', hold: 'ON', sse: 'AES256', storageClass: 'STANDARD_IA' });
      const retention = (await s3.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: key }))).Retention!;
      expect(retention.Mode).toBe('GOVERNANCE');
      expect(retention.RetainUntilDate!.getTime()).toBeGreaterThanOrEqual(before + RETAIN_DAYS * DAY);
      expect(retention.RetainUntilDate!.getTime()).toBeLessThanOrEqual(after + RETAIN_DAYS * DAY);
      expect((await s3.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: key }))).LegalHold?.Status).toBe('ON');
      expect((await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }))).TagSet).toEqual(
        expect.arrayContaining([
          { Key: 'data-class', Value: 'call recording' },
          { Key: 'team', Value: 'support' },
        ]),
      );
      // Each object was written by one request that carried the whole policy and a checksum.
      const writes = requestsOf(key, 'PutObject', 'CreateMultipartUpload');
      expect(writes).toHaveLength(1);
      expect(writes[0]!.headers).toMatchObject({
        'x-amz-object-lock-mode': 'GOVERNANCE',
        'x-amz-object-lock-legal-hold': 'ON',
        'x-amz-server-side-encryption': 'AES256',
        'x-amz-storage-class': 'STANDARD_IA',
        'x-amz-tagging': 'data-class=call%20recording&team=support',
        ...(writes[0]!.operation === 'PutObject'
          ? { 'x-amz-checksum-crc32': expect.any(String) }
          : { 'x-amz-checksum-algorithm': 'CRC32', 'x-amz-checksum-type': 'FULL_OBJECT' }),
      });
    }
    // The multipart file's CompleteMultipartUpload carried the whole object's CRC32, which the store checked.
    const bigKey = await keyOf(onDay(0).find((r) => r.size > MiB)!.id);
    const completes = requestsOf(bigKey, 'CompleteMultipartUpload');
    expect(completes.map((c) => [c.status, c.headers['x-amz-checksum-crc32']])).toEqual([[200, crc32Base64(crc32(await bytesOf(bigKey)))]]);
    // And enforced: deleting a locked, held version is refused, even with governance bypass
    // (the legal hold stands either way), and the version is still there.
    const locked = (versions.Versions ?? []).find((v) => v.Key === bigKey)!;
    const refusal = await s3
      .send(new DeleteObjectCommand({ Bucket: bucket, Key: bigKey, VersionId: locked.VersionId, BypassGovernanceRetention: true }))
      .then(
        () => 'deleted',
        (e: { name?: string; $metadata?: { httpStatusCode?: number } }) => `refused ${e.$metadata?.httpStatusCode} ${e.name}`,
      );
    expect(refusal).toMatch(/^refused 403 /);
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: bigKey, VersionId: locked.VersionId }))).VersionId).toBe(
      locked.VersionId,
    );
    // Manifests are locked and encrypted like the recordings, never held or tagged.
    const manifestHead = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: manifestKeys[0]! }));
    expect({
      mode: manifestHead.ObjectLockMode,
      hold: manifestHead.ObjectLockLegalHoldStatus ?? 'OFF',
      sse: manifestHead.ServerSideEncryption,
      tags: manifestHead.TagCount ?? 0,
    }).toEqual({ mode: 'GOVERNANCE', hold: 'OFF', sse: 'AES256', tags: 0 });
    // A GOVERNANCE lock without a hold refuses a plain delete of the version too.
    const manifestVersion = (versions.Versions ?? []).find((v) => v.Key === manifestKeys[0])!.VersionId;
    const manifestRefusal = await s3
      .send(new DeleteObjectCommand({ Bucket: bucket, Key: manifestKeys[0]!, VersionId: manifestVersion }))
      .then(
        () => 'deleted',
        (e: { name?: string; $metadata?: { httpStatusCode?: number } }) => `refused ${e.$metadata?.httpStatusCode} ${e.name}`,
      );
    expect(manifestRefusal).toMatch(/^refused 403 /);

    const report = await verifyObjects(env.provenance, env.store, { keyPrefix: env.config.storage.prefix, connection });
    expect(report.problems).toEqual([]);
    expect(report.checked).toBe(3);
  });

  it('sends SSE-KMS with its key id (shown from the request log: SeaweedFS without a KMS refuses the PutObject)', async () => {
    const key = `${env.config.storage.prefix}/kms-probe.bin`;
    const meta = {
      contentType: 'application/octet-stream',
      metadata: {},
      policy: { legalHold: false, encryption: { type: 'SSE-KMS' as const, kmsKeyId: 'alias/callvault-recordings' } },
    };
    const put = await env.store.putObject(key, Buffer.from('kms'), meta).catch((e: unknown) => e);
    expect((put as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(500);
    // SeaweedFS 4.48 begins the upload (and would only fail on its parts); what matters here is what was asked.
    const uploadId = await env.store.createUpload(key, meta);
    await env.store.abortUpload(key, uploadId);
    for (const op of ['PutObject', 'CreateMultipartUpload']) {
      expect(requestsOf(key, op)[0]!.headers).toMatchObject({
        'x-amz-server-side-encryption': 'aws:kms',
        'x-amz-server-side-encryption-aws-kms-key-id': 'alias/callvault-recordings',
      });
    }
  });

  it('has the store refuse a byte flipped in flight, sends the file again, and stores it intact', async () => {
    const [smallRec, largeRec] = [onDay(1).find((r) => r.size < MiB)!, onDay(1).find((r) => r.size > MiB)!];
    // One flip in the small file's PutObject, one in part 2 of the large file's upload.
    const flipPut = proxy.flipByte((r) => r.operation === 'PutObject' && (r.key ?? '').includes(smallRec.id), { offset: 1_000 });
    const flipPart = proxy.flipByte((r) => r.operation === 'UploadPart' && r.partNumber === 2 && (r.key ?? '').includes(largeRec.id), {
      offset: 3 * 1024 * 1024,
    });
    const result = await exportDay(1);
    expect(result).toMatchObject({ transferred: 2, failed: 0 });
    expect([flipPut.hits.length, flipPart.hits.length]).toEqual([1, 1]);

    const smallKey = await expectIntact(smallRec);
    // Refused on receipt (its CRC32 header), then sent again.
    expect(requestsOf(smallKey, 'PutObject').map((r) => [r.status, r.faults.length])).toEqual([
      [400, 1],
      [200, 0],
    ]);

    const largeKey = await expectIntact(largeRec);
    // The flipped part went in (a part carries no checksum of its own); the whole object's CRC32
    // on CompleteMultipartUpload was refused, the upload aborted, and the file sent again.
    const sequence = requestsOf(largeKey, 'CreateMultipartUpload', 'CompleteMultipartUpload', 'AbortMultipartUpload').map(
      (r) => `${r.operation} ${r.status}`,
    );
    expect(sequence).toEqual([
      'CreateMultipartUpload 200',
      'CompleteMultipartUpload 400',
      'AbortMultipartUpload 204',
      'CreateMultipartUpload 200',
      'CompleteMultipartUpload 200',
    ]);
    const refused = requestsOf(largeKey, 'CompleteMultipartUpload')[0]!;
    expect(refused.headers['x-amz-checksum-crc32']).toBe(crc32Base64(crc32(await bytesOf(largeKey))));
  });

  it("after kill -9 of the worker mid-file, the resumed upload still sends the whole object's CRC32, and the store checks it", async () => {
    const rec = onDay(2)[0]!;
    const hold = proxy.hold((r) => r.operation === 'UploadPart' && r.partNumber === 3 && (r.key ?? '').includes(rec.id), {
      at: { bodyByte: MiB },
    });
    const started = await env.start({
      connection,
      ...day(2),
      trigger: { kind: 'operator', by: 'archive test' },
      options: { heartbeatTimeoutSeconds: 2, maxRetryIntervalSeconds: 1 },
    });
    await hold.held();
    // Checkpoints reach the server throttled (the SDK sends at most one per 0.8 x heartbeat
    // timeout): wait until the one after part 2, with its CRC32, is there, so the successor has it.
    const checkpoint = await eventually('the checkpoint after part 2 on the server', async () => {
      const pending = (await started.handle.describe()).raw.pendingActivities ?? [];
      for (const activity of pending) {
        const data = activity.heartbeatDetails?.payloads?.[0]?.data;
        const details = data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { partsDone?: number; crc32?: number }) : undefined;
        if (details?.partsDone === 2) return details;
      }
      return undefined;
    });
    expect(checkpoint.crc32).toEqual(expect.any(Number));
    await worker.kill9();
    hold.release();
    worker = await env.spawnWorker();
    expect(await started.handle.result()).toMatchObject({ transferred: 1, failed: 0 });

    const key = await expectIntact(rec);
    const uploads = new Set(requestsOf(key, 'UploadPart').map((r) => r.uploadId));
    // One upload, continued: parts 1 and 2 from the killed worker, 3 onwards from its successor
    // (the held part 3 may also have gone in, which the successor's part 3 replaces).
    expect(uploads.size).toBe(1);
    expect([
      ...new Set(
        requestsOf(key, 'UploadPart')
          .filter((r) => r.status === 200)
          .map((r) => r.partNumber),
      ),
    ]).toEqual([1, 2, 3, 4, 5]);
    // The checkpoint's CRC32 is the first two parts' as the store holds them.
    const bytes = await bytesOf(key);
    expect(checkpoint.crc32).toBe(crc32(bytes.subarray(0, 2 * PART_MIB * MiB)));
    const completes = requestsOf(key, 'CompleteMultipartUpload');
    expect(completes.map((c) => [c.status, c.headers['x-amz-checksum-crc32'], c.headers['x-amz-checksum-type']])).toEqual([
      [200, crc32Base64(crc32(await bytesOf(key))), 'FULL_OBJECT'],
    ]);
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
    expect(versions.Versions?.map((v) => v.Key)).toEqual([key]);
    expect(await env.store.findUploadsUnder(env.config.storage.prefix)).toEqual([]);
    expect(env.unexpectedExits()).toEqual([]);
  });
});
