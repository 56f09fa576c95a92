import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import { ManagedProcess, processGroupMembers, runningProcesses } from '../../src/devstack/process';
import { freePorts } from '../../src/devstack/ports';
import { startTemporal } from '../../src/devstack/temporal';
import { DEV_S3_CREDENTIALS, DEV_S3_REGION, devS3Client, ensureBucket, startSeaweed, type SeaweedServer } from '../../src/devstack/seaweed';
import { checkPostgres, createScratchDatabase, ensureDatabase } from '../../src/devstack/postgres';
import { startPrivatePostgres, type PrivatePostgres } from '../../src/devstack/privatePostgres';
import { findTool, repoRoot } from '../../src/devstack/tools';
import { ProvenanceStore } from '../../src/provenance/store';
import { exportEnv } from '../support/harness';
import { startIsolatedStack } from '../support/isolatedStack';
import { blockWrites, PROVENANCE_INSERT } from '../support/pgBlock';
import { S3FaultProxy } from '../support/s3FaultProxy';
import { MiB } from '../../src/contracts/units';

interface Listener {
  address: string;
  port: number;
}

/**
 * TCP sockets in LISTEN state owned by pid, from /proc (no dependency on `ss` being installed):
 * match the socket inodes in /proc/<pid>/fd against /proc/net/tcp{,6}.
 */
function listenersOf(pid: number): Listener[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // fd closed while we looked
    }
  }
  const out: Listener[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const [local, state, inode] = [cols[1], cols[3], cols[9]];
      if (!local || state !== '0A' || !inode || !inodes.has(inode)) continue;
      const [hexAddr = '', hexPort = ''] = local.split(':');
      out.push({ address: hexAddr === '0100007F' ? '127.0.0.1' : hexAddr, port: parseInt(hexPort, 16) });
    }
  }
  return out;
}

const sorted = (xs: Iterable<number>): number[] => [...xs].sort((a, b) => a - b);

let tmp: string;
/** Every directory this file's servers ran in: no process may mention one once the tests are done. */
const ourDirs: string[] = [];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'callvault-devstack-'));
  ourDirs.push(tmp);
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('tools', () => {
  it('finds the repo root and both binaries as absolute paths', () => {
    expect(JSON.parse(fs.readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')).name).toBe('callvault');
    for (const name of ['temporal', 'weed'] as const) {
      const bin = findTool(name);
      expect(path.isAbsolute(bin)).toBe(true);
      fs.accessSync(bin, fs.constants.X_OK);
    }
  });
});

describe('ports', () => {
  it('returns distinct free ports', async () => {
    const ports = await freePorts(12);
    expect(new Set(ports).size).toBe(12);
  });
});

describe('ManagedProcess', () => {
  it('tells an exit nobody asked for from a stop or a kill', async () => {
    const quits = await ManagedProcess.start({
      name: 'quits',
      command: 'sh',
      args: ['-c', 'exit 7'],
      logFile: path.join(tmp, 'quits.log'),
    });
    await quits.exited;
    expect(quits.exitedUnexpectedly).toBe(true);
    expect(quits.endRequested).toBeNull();
    expect(quits.describeExit()).toBe('exit code 7');

    const stopped = await ManagedProcess.start({ name: 'stopped', command: 'sleep', args: ['60'], logFile: path.join(tmp, 'stopped.log') });
    await stopped.stop();
    expect([stopped.exitedUnexpectedly, stopped.endRequested, stopped.exit?.signal]).toEqual([false, 'stop', 'SIGTERM']);

    const killed = await ManagedProcess.start({ name: 'killed', command: 'sleep', args: ['60'], logFile: path.join(tmp, 'killed.log') });
    await killed.kill9();
    expect([killed.exitedUnexpectedly, killed.endRequested, killed.exit?.signal]).toEqual([false, 'kill', 'SIGKILL']);
  });

  it('kills every process of its group with kill9 when it leads one', async () => {
    const leader = await ManagedProcess.start({
      name: 'forks',
      command: 'sh',
      args: ['-c', 'sleep 60 & sleep 60 & echo "for""ked"; wait'],
      logFile: path.join(tmp, 'forks.log'),
      processGroup: true,
    });
    await leader.waitUntil(async () => leader.tailLog().includes('forked'), 5_000, 'the shell to fork');
    expect(processGroupMembers(leader.pid).length).toBe(3);
    await leader.kill9();
    expect(processGroupMembers(leader.pid)).toEqual([]);
  });

  it('reports exit code and log tail when the process dies before it is ready', async () => {
    const logFile = path.join(tmp, 'dies.log');
    const p = await ManagedProcess.start({ name: 'dies', command: 'sh', args: ['-c', 'echo boom-marker; exit 3'], logFile });
    const err = await p.waitUntil(async () => false, 10_000, 'never').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('boom-marker');
    expect((err as Error).message).toContain('exit code 3');
  });

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const p = await ManagedProcess.start({
      name: 'stubborn',
      command: 'sh',
      args: ['-c', 'trap "" TERM; echo "trap""ped"; while :; do sleep 1; done'],
      logFile: path.join(tmp, 'stubborn.log'),
    });
    try {
      await p.waitUntil(async () => p.tailLog().includes('trapped'), 5_000, 'shell to trap TERM');
      const exit = await p.stop('SIGTERM', 300);
      expect(exit.signal).toBe('SIGKILL');
      expect(p.running).toBe(false);
    } finally {
      await p.kill9();
    }
  });
});

describe('temporal dev server', () => {
  it('starts on chosen ports only, answers, survives a restart with its db file, and stops', { timeout: 90_000 }, async () => {
    const server = await startTemporal({ dataDir: path.join(tmp, 'temporal'), dynamicConfig: { 'limit.maxIDLength': 255 } });
    try {
      const firstPid = server.process.pid;
      const listeners = listenersOf(firstPid);
      expect(listeners.every((l) => l.address === '127.0.0.1')).toBe(true);
      // Everything we passed is in use, and the only other ports are the three internal
      // services start-dev cannot be told about (history, matching, worker).
      expect(server.internalPorts).toHaveLength(3);
      expect(sorted(listeners.map((l) => l.port))).toEqual(sorted([...server.chosenPorts, ...server.internalPorts]));
      expect(server.uiUrl).not.toBeNull();

      const workflowId = `devstack-${Date.now()}`;
      const connection = await Connection.connect({ address: server.address });
      const info = await connection.workflowService.getSystemInfo({});
      expect(info.serverVersion).toBeTruthy();
      // No worker polls this queue, so the workflow simply stays open across the restart.
      await new Client({ connection }).workflow.start('nonexistentWorkflow', { taskQueue: 'devstack-test', workflowId });
      await connection.close();

      await server.restart();
      expect(server.process.pid).not.toBe(firstPid);
      const stillRunning = async (): Promise<void> => {
        const c = await Connection.connect({ address: server.address });
        const described = await new Client({ connection: c }).workflow.getHandle(workflowId).describe();
        expect(described.status.name).toBe('RUNNING');
        await c.close();
      };
      await stillRunning();

      // Down for a while (a test holds it down as long as it likes), then back on the same ports.
      await server.stop();
      expect(server.running).toBe(false);
      await expect(Connection.connect({ address: server.address, connectTimeout: 500 })).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      let t0 = Date.now();
      await server.start();
      const startMs = Date.now() - t0;
      expect(sorted(listenersOf(server.process.pid).map((l) => l.port))).toEqual(sorted([...server.chosenPorts, ...server.internalPorts]));
      await stillRunning();

      // A crash: the db file still holds the workflow.
      await server.kill9();
      expect(server.process.exit?.signal).toBe('SIGKILL');
      t0 = Date.now();
      await server.start();
      console.log(`[temporal] start after a stop: ${startMs} ms; after kill -9: ${Date.now() - t0} ms`);
      expect(server.process.endRequested).toBeNull();
      await stillRunning();
    } finally {
      await server.stop();
    }
    expect(server.process.running).toBe(false);
    expect(server.process.exit?.signal).not.toBe('SIGKILL');
  });
});

describe('seaweedfs', () => {
  it('starts on chosen ports only, stores an object, and stops', { timeout: 90_000 }, async () => {
    const server = await startSeaweed({ dataDir: path.join(tmp, 'weed') });
    try {
      const listeners = listenersOf(server.process.pid);
      expect(listeners.every((l) => l.address === '127.0.0.1')).toBe(true);
      expect(sorted(listeners.map((l) => l.port))).toEqual(sorted(Object.values(server.ports)));

      await ensureBucket(server.endpoint, 'devstack-a');
      await ensureBucket(server.endpoint, 'devstack-a'); // idempotent
      await ensureBucket(server.endpoint, 'devstack-b');
      const s3 = devS3Client(server.endpoint);
      await s3.send(new PutObjectCommand({ Bucket: 'devstack-b', Key: 'k/1.txt', Body: 'hello' }));
      const got = await s3.send(new GetObjectCommand({ Bucket: 'devstack-b', Key: 'k/1.txt' }));
      expect(await got.Body?.transformToString()).toBe('hello');
      s3.destroy();
    } finally {
      await server.stop();
    }
    expect(server.process.running).toBe(false);
    expect(fs.existsSync(`/tmp/seaweedfs-master-grpc-${server.ports.masterGrpc}.sock`)).toBe(false);
  });
});

describe('postgres', () => {
  it('checks the server, creates and force-drops a scratch database', { timeout: 30_000 }, async () => {
    await checkPostgres();
    const db = await createScratchDatabase(undefined, 'callvault_devstack');
    try {
      await ensureDatabase(db.url); // already exists: no error
      // An open connection must not stop drop() (WITH (FORCE)).
      const client = new pg.Client({ connectionString: db.url });
      client.on('error', () => undefined);
      await client.connect();
      expect((await client.query('SELECT current_database() AS d')).rows[0].d).toBe(db.name);
    } finally {
      await db.drop();
    }
    await ensureDatabase(db.url); // missing: created
    await db.drop();
    await expect(checkPostgres('postgres://postgres@127.0.0.1:1/postgres')).rejects.toThrow(/pg_ctlcluster/);
  });
});

describe('private postgres cluster', () => {
  let cluster: PrivatePostgres | undefined;

  afterAll(async () => {
    await cluster?.destroy();
  });

  /** A client whose errors (the server going away under it) never reach the test process. */
  async function connect(url: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  async function rows(url: string): Promise<string[]> {
    const client = await connect(url);
    try {
      return (await client.query<{ v: string }>('SELECT v FROM survivors ORDER BY v')).rows.map((r) => r.v);
    } finally {
      await client.end();
    }
  }

  it('starts on its own port, restarts on it, survives kill -9 with its data, and is removed', { timeout: 120_000 }, async () => {
    const t0 = Date.now();
    cluster = await startPrivatePostgres();
    ourDirs.push(cluster.dir);
    const totalMs = Date.now() - t0;
    console.log(
      `[private postgres] initdb ${cluster.timings.initdbMs} ms, first start ${cluster.timings.firstStartMs} ms, in all ${totalMs} ms`,
    );
    expect(cluster.port).not.toBe(5432);
    expect(cluster.url).toBe(`postgres://postgres@127.0.0.1:${cluster.port}/postgres`);
    expect(listenersOf(cluster.process.pid)).toEqual([{ address: '127.0.0.1', port: cluster.port }]);
    expect(fs.existsSync(path.join(cluster.socketDir, `.s.PGSQL.${cluster.port}`))).toBe(true);
    if (process.getuid?.() === 0) {
      const owner = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
      expect(fs.statSync(cluster.dataDir).uid).toBe(owner);
    }

    const client = await connect(cluster.url);
    await client.query('CREATE TABLE survivors (v text PRIMARY KEY)');
    await client.query(`INSERT INTO survivors VALUES ('before-stop')`);
    await client.end();

    await cluster.stop();
    expect(cluster.running).toBe(false);
    expect(fs.existsSync(path.join(cluster.dataDir, 'PG_VERSION'))).toBe(true);
    await expect(connect(cluster.url)).rejects.toThrow();
    const port = cluster.port;
    await cluster.start();
    expect(cluster.port).toBe(port);
    expect(await rows(cluster.url)).toEqual(['before-stop']);

    let t = Date.now();
    await cluster.restart();
    const restartMs = Date.now() - t;
    expect(cluster.port).toBe(port);

    // A crash while a client is connected: every backend dies with the postmaster.
    const victim = await connect(cluster.url);
    await victim.query(`INSERT INTO survivors VALUES ('before-kill')`);
    const postmaster = cluster.process.pid;
    await cluster.kill();
    expect(cluster.running).toBe(false);
    expect(processGroupMembers(postmaster)).toEqual([]);
    await expect(victim.query('SELECT 1')).rejects.toThrow();
    t = Date.now();
    await cluster.start();
    const afterKillMs = Date.now() - t;
    expect(await rows(cluster.url)).toEqual(['before-kill', 'before-stop']);
    expect(fs.readFileSync(cluster.logFile, 'utf8')).toMatch(/database system was interrupted|not properly shut down/);
    console.log(`[private postgres] restart ${restartMs} ms; start after kill -9 (crash recovery) ${afterKillMs} ms`);

    const dir = cluster.dir;
    await cluster.destroy();
    expect(fs.existsSync(dir)).toBe(false);
    expect(processGroupMembers(cluster.process.pid)).toEqual([]);
    cluster = undefined;
  });

  it('holds the provenance INSERT until released, while reads go on', { timeout: 60_000 }, async () => {
    cluster = await startPrivatePostgres();
    ourDirs.push(cluster.dir);
    const provenance = ProvenanceStore.connect(cluster.url, 2);
    provenance.pool.on('error', () => undefined);
    try {
      await provenance.migrate();
      const block = await blockWrites(cluster.url);
      const now = new Date();
      const insert = provenance.recordStored([
        {
          provider: 'bird',
          connection: 'lock-test',
          item: { sourceId: 'rec-1', conversationId: 'conv-1', kind: 'recording', createdAt: now.toISOString(), locator: {} },
          sourceUrl: 'https://example.invalid/rec-1',
          bucket: 'b',
          objectKey: 'k/rec-1.mp3',
          versionId: null,
          etag: '"e"',
          size: 3,
          sha256: 'a'.repeat(64),
          contentType: 'audio/mpeg',
          execution: { workflowId: 'wf', runId: 'run', attempt: 1 },
          startedAt: now,
          finishedAt: now,
        },
      ]);
      let settled = false;
      void insert.finally(() => (settled = true));
      const waiting = await block.waitUntilBlocked({ matching: PROVENANCE_INSERT });
      expect(waiting).toHaveLength(1);
      expect(waiting[0]!.applicationName).toBe('callvault');
      // Reads are not blocked, and the INSERT stays blocked while they run.
      expect((await provenance.pool.query('SELECT count(*)::int AS n FROM callvault.files')).rows[0].n).toBe(0);
      expect(settled).toBe(false);
      await block.release();
      expect(await insert).toBe(1);
    } finally {
      await provenance.close();
      await cluster.destroy();
      cluster = undefined;
    }
  });
});

describe('seaweedfs with signatures checked, behind the fault proxy', () => {
  let weed: SeaweedServer;
  let proxy: S3FaultProxy;
  let s3: S3Client;
  let direct: S3Client;
  const Bucket = 'proxied';

  beforeAll(async () => {
    weed = await startSeaweed({ dataDir: path.join(tmp, 'weed-auth'), authenticate: true });
    proxy = await S3FaultProxy.start({ upstream: weed.endpoint });
    s3 = client(proxy.endpoint);
    direct = client(weed.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket }));
  }, 120_000);

  afterAll(async () => {
    s3?.destroy();
    direct?.destroy();
    await proxy?.close();
    await weed?.kill9();
  });

  /** One attempt per call, so a refusal shows as the store sent it. */
  function client(endpoint: string, secretAccessKey: string = DEV_S3_CREDENTIALS.secretAccessKey): S3Client {
    return new S3Client({
      endpoint,
      region: DEV_S3_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: DEV_S3_CREDENTIALS.accessKeyId, secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 1,
    });
  }

  function outcome(err: unknown): string {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    return `${e.$metadata?.httpStatusCode ?? '?'} ${e.name ?? String(err)}`;
  }

  async function exists(Key: string): Promise<boolean> {
    return direct.send(new HeadObjectCommand({ Bucket, Key })).then(
      () => true,
      (err: { name?: string }) => {
        if (err.name === 'NotFound') return false;
        throw err;
      },
    );
  }

  function body(size: number, seed: number): Buffer {
    const b = Buffer.alloc(size);
    for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
    return b;
  }

  it('carries real SDK calls with their signatures intact, and names each operation', { timeout: 60_000 }, async () => {
    proxy.clearLog();
    const small = body(10_000, 1);
    await s3.send(new PutObjectCommand({ Bucket, Key: 'a/one.bin', Body: small, ContentType: 'application/octet-stream' }));
    const part1 = body(5 * MiB, 2);
    const part2 = body(300_000, 3);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'a/big.bin' }));
    const p1 = await s3.send(new UploadPartCommand({ Bucket, Key: 'a/big.bin', UploadId, PartNumber: 1, Body: part1 }));
    const p2 = await s3.send(new UploadPartCommand({ Bucket, Key: 'a/big.bin', UploadId, PartNumber: 2, Body: part2 }));
    expect((await s3.send(new ListPartsCommand({ Bucket, Key: 'a/big.bin', UploadId }))).Parts?.map((p) => p.PartNumber)).toEqual([1, 2]);
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key: 'a/big.bin',
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: p1.ETag },
            { PartNumber: 2, ETag: p2.ETag },
          ],
        },
      }),
    );
    await s3.send(
      new CopyObjectCommand({
        Bucket,
        Key: 'a/big.bin',
        CopySource: `${Bucket}/a/big.bin`,
        MetadataDirective: 'REPLACE',
        Metadata: { sha256: 'f'.repeat(64) },
      }),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'a/big.bin' }));
    expect([head.ContentLength, head.Metadata?.sha256]).toEqual([part1.length + part2.length, 'f'.repeat(64)]);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'a/big.bin' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat([part1, part2]))).toBe(true);
    const other = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'a/abandoned.bin' }));
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket }))).Uploads?.map((u) => u.Key)).toContain('a/abandoned.bin');
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: 'a/abandoned.bin', UploadId: other.UploadId }));
    await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'a/' }));
    await s3.send(new DeleteObjectCommand({ Bucket, Key: 'a/one.bin' }));

    expect(proxy.requests.map((r) => `${r.operation} ${r.status}`)).toEqual([
      'PutObject 200',
      'CreateMultipartUpload 200',
      'UploadPart 200',
      'UploadPart 200',
      'ListParts 200',
      'CompleteMultipartUpload 200',
      'CopyObject 200',
      'HeadObject 200',
      'GetObject 200',
      'CreateMultipartUpload 200',
      'ListMultipartUploads 200',
      'AbortMultipartUpload 204',
      'ListObjectsV2 200',
      'DeleteObject 204',
    ]);
    const [upload2] = proxy.requestsFor((r) => r.operation === 'UploadPart' && r.partNumber === 2);
    expect(upload2).toMatchObject({
      key: 'a/big.bin',
      uploadId: UploadId,
      requestBytes: part2.length,
      headers: { 'content-length': String(part2.length) },
    });
    expect(proxy.requestsFor('CopyObject')[0]!.headers).toMatchObject({
      'x-amz-copy-source': `${Bucket}/a/big.bin`,
      'x-amz-metadata-directive': 'REPLACE',
      'x-amz-meta-sha256': 'f'.repeat(64),
    });
    expect(proxy.requestsFor('GetObject')[0]!.responseBytes).toBe(part1.length + part2.length);
    expect(proxy.requests.every((r) => r.error === null && r.faults.length === 0)).toBe(true);

    // The store does check signatures: the same call signed with a wrong secret is refused.
    const forger = client(proxy.endpoint, 'not-the-secret');
    await expect(forger.send(new PutObjectCommand({ Bucket, Key: 'a/forged', Body: 'x' }))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
    });
    forger.destroy();
  });

  it('holds a request before it is sent, after the store answered, and mid-body with back-pressure', { timeout: 120_000 }, async () => {
    // Before sending: the store has not heard of it.
    let hold = proxy.hold((r) => r.operation === 'PutObject' && r.key === 'held/request');
    let put = s3.send(new PutObjectCommand({ Bucket, Key: 'held/request', Body: 'x' }));
    expect((await hold.held()).operation).toBe('PutObject');
    expect(hold.holding).toBe(1);
    expect(await exists('held/request')).toBe(false);
    hold.release();
    await put;
    expect(await exists('held/request')).toBe(true);

    // After the store answered: it is written, the client does not know yet.
    hold = proxy.hold('CompleteMultipartUpload', { at: 'response' });
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'held/response' }));
    const part = await s3.send(new UploadPartCommand({ Bucket, Key: 'held/response', UploadId, PartNumber: 1, Body: 'tail' }));
    let settled = false;
    const complete = s3
      .send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: 'held/response',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      )
      .finally(() => (settled = true));
    await hold.held();
    expect(await exists('held/response')).toBe(true);
    expect(settled).toBe(false);
    hold.release();
    await complete;

    // A client that goes away while held (as a killed worker would): the request is never sent.
    hold = proxy.hold((r) => r.key === 'held/abandoned');
    const abort = new AbortController();
    put = s3.send(new PutObjectCommand({ Bucket, Key: 'held/abandoned', Body: 'x' }), { abortSignal: abort.signal });
    const held = await hold.held();
    abort.abort();
    await expect(put).rejects.toThrow();
    await proxy.waitFor((r) => r.id === held.id, { completed: true });
    hold.release();
    expect(await exists('held/abandoned')).toBe(false);
    expect(proxy.requests.find((r) => r.id === held.id)).toMatchObject({ status: null, error: expect.stringMatching(/client went away/) });

    // Mid-body: 1 MiB has gone on, and the client can send only what socket buffers take.
    const size = 128 * MiB;
    let produced = 0;
    const source = Readable.from(
      (function* () {
        for (let at = 0; at < size; at += MiB) {
          produced += MiB;
          yield Buffer.alloc(MiB, at / MiB);
        }
      })(),
    );
    hold = proxy.hold('PutObject', { at: { bodyByte: MiB } });
    const big = s3.send(new PutObjectCommand({ Bucket, Key: 'held/mid-body', Body: source, ContentLength: size }));
    await hold.held();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const producedWhileHeld = produced;
    hold.release();
    await big;
    const heldExchange = proxy.requestsFor((r) => r.key === 'held/mid-body')[0]!;
    console.log(
      `[proxy] a 128 MiB upload held after 1 MiB: the client had produced ${producedWhileHeld / MiB} MiB; forwarded ${heldExchange.requestBytes / MiB} MiB in all`,
    );
    expect(producedWhileHeld).toBeLessThan(48 * MiB);
    expect(heldExchange).toMatchObject({ status: 200, requestBytes: size, faults: [`held at body byte ${MiB}`] });
    expect((await direct.send(new HeadObjectCommand({ Bucket, Key: 'held/mid-body' }))).ContentLength).toBe(size);
  });

  it('keeps its objects and endpoint across kill -9, and across a graceful stop with a pause', { timeout: 120_000 }, async () => {
    await s3.send(new PutObjectCommand({ Bucket, Key: 'restart/before', Body: 'kept' }));
    const ports = { ...weed.ports };
    const firstPid = weed.process.pid;
    const read = async (Key: string): Promise<string> => (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToString();

    await weed.kill9();
    expect(weed.process.exit?.signal).toBe('SIGKILL');
    // While it is down a request through the proxy fails as a connection would, with no HTTP answer.
    const down = await s3.send(new HeadObjectCommand({ Bucket, Key: 'restart/before' })).catch((e: unknown) => e);
    expect((down as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBeUndefined();
    let t = Date.now();
    await weed.start();
    const afterKillMs = Date.now() - t;
    expect(weed.process.pid).not.toBe(firstPid);
    expect(weed.ports).toEqual(ports);
    expect(sorted(listenersOf(weed.process.pid).map((l) => l.port))).toEqual(sorted(Object.values(ports)));
    expect(await read('restart/before')).toBe('kept');
    await s3.send(new PutObjectCommand({ Bucket, Key: 'restart/after-kill', Body: 'new' }));

    t = Date.now();
    await weed.restart({ hard: false, downMs: 2_000 });
    const gracefulMs = Date.now() - t;
    expect(weed.process.endRequested).toBeNull();
    expect([await read('restart/before'), await read('restart/after-kill')]).toEqual(['kept', 'new']);
    console.log(`[seaweedfs] start after kill -9: ${afterKillMs} ms; graceful stop + 2 s down + start: ${gracefulMs} ms`);
  });

  it('refuses a byte flipped in flight only where a checksum covers it', { timeout: 120_000 }, async () => {
    const data = body(64 * 1024, 5);
    const md5 = createHash('md5').update(data);
    const md5Hex = md5.copy().digest('hex');
    const md5B64 = md5.digest('base64');
    const sha256Hex = createHash('sha256').update(data).digest('hex');
    const algorithms = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const;
    type Algorithm = (typeof algorithms)[number];
    const ways = [
      'none',
      'Content-MD5',
      'x-amz-content-sha256',
      ...algorithms.map((a) => `${a} header`),
      ...algorithms.map((a) => `${a} trailer`),
    ];
    const algorithmOf = (way: string): Algorithm | undefined => algorithms.find((a) => way.startsWith(`${a} `));

    /** The fields of PutObject/UploadPart that make the SDK send this way's checksum. */
    const checksumFields = (way: string) => {
      const algorithm = algorithmOf(way);
      if (way === 'Content-MD5') return { Body: data, ContentMD5: md5B64 };
      if (algorithm && way.endsWith('trailer'))
        return { Body: Readable.from([data]), ContentLength: data.length, ChecksumAlgorithm: algorithm };
      if (algorithm) return { Body: data, ChecksumAlgorithm: algorithm };
      return { Body: data };
    };
    // Signs the body's SHA-256 as its payload hash, as ObjectStore.putObject does when it knows it.
    const signsPayload = client(proxy.endpoint);
    signsPayload.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if (request.headers) request.headers['x-amz-content-sha256'] = sha256Hex;
        return next(args);
      },
      { step: 'build', name: 'signedPayloadSha256' },
    );
    const send = async (op: 'PutObject' | 'UploadPart', way: string, Key: string): Promise<string | undefined> => {
      const via = way === 'x-amz-content-sha256' ? signsPayload : s3;
      if (op === 'PutObject') return (await via.send(new PutObjectCommand({ Bucket, Key, ...checksumFields(way) }))).ETag;
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: algorithmOf(way) }));
      try {
        return (await via.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, ...checksumFields(way) }))).ETag;
      } finally {
        await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
      }
    };

    const attempt = (op: 'PutObject' | 'UploadPart', way: string, Key: string): Promise<string> =>
      send(op, way, Key).then(
        (etag) => (etag?.replace(/"/g, '') === md5Hex ? 'stored intact' : 'stored CORRUPT'),
        (err: unknown) => `refused ${outcome(err)}`,
      );

    const table: Record<string, string> = {};
    for (const op of ['PutObject', 'UploadPart'] as const) {
      for (const way of ways) {
        const Key = `flip/${op}/${way.replace(/ /g, '-')}`;
        // The same request unharmed first: a refusal below is then the checksum's doing.
        expect(`${way}: ${await attempt(op, way, `${Key}-control`)}`).toBe(`${way}: stored intact`);
        const rule = proxy.flipByte((r) => r.key === Key && r.operation === op, { offset: 1_000 });
        const result = await attempt(op, way, Key);
        const exchange = proxy.requestsFor((r) => r.key === Key && r.operation === op)[0]!;
        expect(rule.hits).toHaveLength(1);
        expect(exchange.faults).toEqual([expect.stringMatching(/^flipped payload byte 1000 /)]);
        if (way.endsWith('trailer')) {
          expect(exchange.headers['content-encoding']).toMatch(/aws-chunked/);
          expect(Object.keys(exchange.trailers)).toEqual([`x-amz-checksum-${algorithmOf(way)!.toLowerCase()}`]);
          expect(exchange.requestBytes).toBe(data.length);
        } else if (algorithmOf(way)) {
          expect(exchange.headers).toHaveProperty(`x-amz-checksum-${algorithmOf(way)!.toLowerCase()}`);
        }
        table[`${op} ${way}`] = result;
      }
    }
    const expected = Object.fromEntries(
      ['PutObject', 'UploadPart'].flatMap((op) => Object.entries(FLIPPED_BYTE_OUTCOME).map(([way, o]) => [`${op} ${way}`, o])),
    );
    signsPayload.destroy();
    console.log(
      `[seaweedfs checksums] a byte flipped in flight:\n${Object.entries(table)
        .map(([k, v]) => `  ${k.padEnd(36)} ${v}`)
        .join('\n')}`,
    );
    expect(table).toEqual(expected);
  });

  it('fails the requests a test picks with the status and S3 error it chooses', { timeout: 60_000 }, async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'failed/parts' }));
    const rule = proxy.fail((r) => r.operation === 'UploadPart' && r.partNumber === 2, {
      status: 503,
      code: 'SlowDown',
      message: 'Reduce your request rate.',
    });
    const send2 = () => s3.send(new UploadPartCommand({ Bucket, Key: 'failed/parts', UploadId, PartNumber: 2, Body: body(200_000, 9) }));
    const err = await send2().catch((e: unknown) => e);
    expect(outcome(err)).toBe('503 SlowDown');
    expect((err as Error).message).toBe('Reduce your request rate.');
    expect((await rule.hit()).partNumber).toBe(2);
    expect((await s3.send(new ListPartsCommand({ Bucket, Key: 'failed/parts', UploadId }))).Parts ?? []).toEqual([]);
    await send2(); // times: 1, so the retry goes through
    expect((await s3.send(new ListPartsCommand({ Bucket, Key: 'failed/parts', UploadId }))).Parts?.map((p) => p.PartNumber)).toEqual([2]);
    const failed = proxy.requestsFor((r) => r.key === 'failed/parts' && r.operation === 'UploadPart');
    expect(failed.map((r) => [r.status, r.faults])).toEqual([
      [503, ['failed 503 SlowDown']],
      [200, []],
    ]);

    proxy.fail('HeadObject', { status: 500, code: 'InternalError', times: 2 });
    for (let i = 0; i < 2; i++)
      expect(outcome(await s3.send(new HeadObjectCommand({ Bucket, Key: 'failed/parts' })).catch((e: unknown) => e))).toMatch(/^500 /);
    await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: 'failed/parts', UploadId }));
  });
});

/**
 * What SeaweedFS 4.48 (the version .tools pins) does with a payload byte flipped between client
 * and store, the same on PutObject and UploadPart, as measured: every checksum the SDK can send is
 * verified, in a header or in an aws-chunked trailer; the signed payload hash is not. A change here
 * means the store's integrity guarantees changed.
 */
const FLIPPED_BYTE_OUTCOME: Record<string, string> = {
  none: 'stored CORRUPT',
  'Content-MD5': 'refused 400 BadDigest',
  'x-amz-content-sha256': 'stored CORRUPT',
  'CRC32 header': 'refused 400 BadDigest',
  'CRC32C header': 'refused 400 BadDigest',
  'CRC64NVME header': 'refused 400 BadDigest',
  'SHA1 header': 'refused 400 BadDigest',
  'SHA256 header': 'refused 400 BadDigest',
  'CRC32 trailer': 'refused 400 InvalidDigest',
  'CRC32C trailer': 'refused 400 InvalidDigest',
  'CRC64NVME trailer': 'refused 400 InvalidDigest',
  'SHA1 trailer': 'refused 400 InvalidDigest',
  'SHA256 trailer': 'refused 400 InvalidDigest',
};

describe('an isolated stack and its workers', () => {
  it('serves workers through its proxy, tells a killed worker from one that died on its own, and leaves nothing running', {
    timeout: 180_000,
  }, async () => {
    const t0 = Date.now();
    const iso = await startIsolatedStack();
    ourDirs.push(iso.stack.dataDir, iso.postgres.dir);
    console.log(`[isolated stack] Temporal, SeaweedFS, private Postgres and proxy up in ${Date.now() - t0} ms`);
    try {
      const env = await exportEnv({ connections: {}, secrets: {}, stack: iso.stack });
      try {
        expect(iso.proxy.requests.map((r) => r.operation)).toContain('HeadBucket');
        const killed = await env.spawnWorker();
        const crashed = await env.spawnWorker();
        expect(env.unexpectedExits()).toEqual([]);
        await killed.kill9();
        process.kill(crashed.pid, 'SIGKILL'); // from outside, as the kernel's OOM killer would
        await crashed.process.exited;
        expect([killed.exitedUnexpectedly, killed.endRequested, killed.exit?.signal]).toEqual([false, 'kill', 'SIGKILL']);
        expect([crashed.exitedUnexpectedly, crashed.endRequested, crashed.exit?.signal]).toEqual([true, null, 'SIGKILL']);
        const exits = env.unexpectedExits();
        expect(exits).toHaveLength(1);
        expect(exits[0]).toContain(`pid ${crashed.pid}: killed by SIGKILL`);
      } finally {
        await env.close();
      }
    } finally {
      await iso.stop();
    }
    expect([iso.temporal.running, iso.seaweed.running, iso.postgres.running]).toEqual([false, false, false]);
    expect(processGroupMembers(iso.postgres.process.pid)).toEqual([]);
    expect(fs.existsSync(iso.stack.dataDir)).toBe(false);
    expect(fs.existsSync(iso.postgres.dir)).toBe(false);
  });
});

describe('after every test above', () => {
  it('leaves no process of ours running', () => {
    expect(runningProcesses().map((p) => `${p.name} pid ${p.pid}`)).toEqual([]);
    expect(ourDirs.flatMap(processesMentioning)).toEqual([]);
  });
});

/** "<pid> <cmdline>" of every process whose command line contains `text`. */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (cmdline.includes(text)) found.push(`${cmdline.split(' ')[0]?.split('/').pop()} ${entry} ${cmdline}`);
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}
