import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { ManagedProcess } from '../../src/devstack/process';
import { freePorts } from '../../src/devstack/ports';
import { startTemporal } from '../../src/devstack/temporal';
import { devS3Client, ensureBucket, startSeaweed } from '../../src/devstack/seaweed';
import { checkPostgres, createScratchDatabase, ensureDatabase } from '../../src/devstack/postgres';
import { findTool, repoRoot } from '../../src/devstack/tools';

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

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'callvault-devstack-'));
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
      let connection = await Connection.connect({ address: server.address });
      const info = await connection.workflowService.getSystemInfo({});
      expect(info.serverVersion).toBeTruthy();
      // No worker polls this queue, so the workflow simply stays open across the restart.
      await new Client({ connection }).workflow.start('nonexistentWorkflow', { taskQueue: 'devstack-test', workflowId });
      await connection.close();

      await server.restart();
      expect(server.process.pid).not.toBe(firstPid);
      connection = await Connection.connect({ address: server.address });
      const described = await new Client({ connection }).workflow.getHandle(workflowId).describe();
      expect(described.status.name).toBe('RUNNING');
      await connection.close();
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
