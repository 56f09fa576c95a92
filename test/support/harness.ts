import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';
import { startExport, type StartedExport } from '../../src/client/exports';
import { parseConfig } from '../../src/config/load';
import type { CallvaultConfig } from '../../src/config/schema';
import { migrate } from '../../src/provenance/migrate';
import { ProvenanceStore } from '../../src/provenance/store';
import { ObjectStore } from '../../src/storage/objectStore';
import { WORKER_NODE_FLAGS } from '../../src/worker/runtime';
import { createS3Client } from '../../src/storage/s3';
import type { ExportInput } from '../../workflows/input';
import './stack';

const repo = join(__dirname, '..', '..');

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** Peak resident memory so far, from the kernel's own high-water mark (VmHWM). */
  peakRssBytes(): number;
  kill9(): Promise<void>;
  stop(): Promise<void>;
  log(): string;
}

export interface ExportEnv {
  config: CallvaultConfig;
  configPath: string;
  client: Client;
  provenance: ProvenanceStore;
  store: ObjectStore;
  spawnWorker(extraEnv?: Record<string, string>): Promise<WorkerProcess>;
  /** Stops every worker this environment started. */
  stopWorkers(): Promise<void>;
  start(input: ExportInput): Promise<StartedExport>;
  /** Rows of callvault.files for one connection. */
  files(connection: string): Promise<FileRow[]>;
  close(): Promise<void>;
}

export interface FileRow {
  source_id: string;
  status: string;
  failure_code: string | null;
  failure_reason: string | null;
  object_key: string | null;
  size_bytes: string | null;
  sha256: string | null;
  source_url: string | null;
  workflow_id: string;
}

/**
 * A callvault deployment for one test file on the shared real stack: its own task queue prefix,
 * bucket and configuration file, with worker processes started from the compiled code exactly
 * as `callvault worker` runs them.
 */
export async function exportEnv(options: {
  connections: Record<string, unknown>;
  secrets: Record<string, string>;
  storage?: Record<string, unknown>;
  worker?: Record<string, unknown>;
}): Promise<ExportEnv> {
  const stack = inject('stack');
  const name = uniqueName('t');
  const raw = {
    temporal: { address: stack.temporalAddress, namespace: 'default', taskQueue: name },
    storage: { endpoint: stack.s3Endpoint, bucket: name, prefix: 'exports', accessKeyId: { env: 'S3_KEY' }, secretAccessKey: { env: 'S3_SECRET' }, ...options.storage },
    database: { url: stack.databaseUrl },
    worker: options.worker ?? {},
    connections: options.connections,
  };
  const configPath = join(stack.dataDir, `${name}.config.json`);
  writeFileSync(configPath, JSON.stringify(raw, null, 2));
  const env = { ...options.secrets, S3_KEY: 'callvault', S3_SECRET: 'callvault-secret' };
  const config = parseConfig(raw, configPath);
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection, namespace: 'default' });
  const provenance = ProvenanceStore.connect(stack.databaseUrl, 4);
  await migrate(provenance.pool);
  const store = new ObjectStore(createS3Client(config.storage, env), config.storage.bucket);
  await store.ensureBucket();
  const workers: WorkerProcess[] = [];

  return {
    config,
    configPath,
    client,
    provenance,
    store,
    async spawnWorker(extraEnv = {}) {
      const worker = await spawnWorker(configPath, { ...env, ...extraEnv }, join(stack.dataDir, `${uniqueName('worker')}.log`));
      workers.push(worker);
      return worker;
    },
    async stopWorkers() {
      for (const w of workers.splice(0)) await w.stop();
    },
    start: (input) => startExport(client, config.temporal.taskQueue, input),
    async files(conn) {
      const res = await provenance.pool.query<FileRow>(
        `SELECT source_id, status, failure_code, failure_reason, object_key, size_bytes, sha256, source_url, workflow_id
           FROM callvault.files WHERE connection = $1 ORDER BY source_id`,
        [conn],
      );
      return res.rows;
    },
    async close() {
      for (const w of workers) await w.stop();
      await provenance.close();
      store.client.destroy();
      await connection.close();
    },
  };
}

async function spawnWorker(configPath: string, env: Record<string, string>, logFile: string): Promise<WorkerProcess> {
  const fd = openSync(logFile, 'a');
  // Exactly what `callvault worker` runs.
  const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, join(repo, 'dist/src/cli/main.js'), 'worker'], {
    env: { ...process.env, ...env, CALLVAULT_CONFIG: configPath, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid!;
  const log = () => readFileSync(logFile, 'utf8');
  const deadline = Date.now() + 60_000;
  while (!log().includes('polling')) {
    if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode} before it was ready:\n${log()}`);
    if (Date.now() > deadline) throw new Error(`worker not ready after 60 s:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  let peak = 0;
  const peakRssBytes = () => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, kb * 1024);
    } catch {
      // The process is gone; the last reading stands.
    }
    return peak;
  };
  return {
    child,
    pid,
    logFile,
    peakRssBytes,
    log,
    async kill9() {
      peakRssBytes();
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      peakRssBytes();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function eventually<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * A workflow's history as text with every payload decoded: history JSON carries payloads as
 * base64, where a secret only shows when its offset happens to align. Tests that prove a secret
 * never entered history search this.
 */
export async function decodedHistory(client: Client, workflowId: string): Promise<string> {
  const raw = JSON.stringify(await client.workflow.getHandle(workflowId).fetchHistory());
  const payloads = [...raw.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'));
  return [raw, ...payloads].join('\n');
}

/** A whole (small) stream as text: sidecars and other JSON read back from the store. */
export async function streamText(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}
