import { spawn } from 'node:child_process';
import { DEV_S3_CREDENTIALS } from '../../src/devstack/seaweed';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';
import { startExport, type StartedExport } from '../../src/client/exports';
import { parseConfig } from '../../src/config/load';
import type { CallvaultConfig } from '../../src/config/schema';
import { ProvenanceStore } from '../../src/provenance/store';
import { ObjectStore } from '../../src/storage/objectStore';
import { WorkerProcess } from '../../src/devstack/worker';
import type { WorkerRole } from '../../src/worker/roles';
import type { ExportInput } from '../../src/contracts/exportInput';
import type { TestStack } from './stack';
import './stack';

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export type { WorkerProcess };

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
  /**
   * Rows of callvault.files for one connection, read with SQL of the test's own: the tests check
   * what the provenance store wrote, so they do not read it back through the store.
   */
  files(connection: string): Promise<FileRow[]>;
  /** Every worker this environment started, stopped ones included. */
  readonly workers: readonly WorkerProcess[];
  /** One line (and log tail) per worker that exited without stopWorkers()/kill9()/close(): expect it to be []. */
  unexpectedExits(): string[];
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
  /** Servers of the test's own (startIsolatedStack().stack) instead of the run's shared ones. */
  stack?: TestStack;
}): Promise<ExportEnv> {
  const stack = options.stack ?? inject('stack');
  const name = uniqueName('t');
  const raw = {
    temporal: { address: stack.temporalAddress, namespace: 'default', taskQueue: name },
    storage: {
      endpoint: stack.s3Endpoint,
      bucket: name,
      prefix: 'exports',
      accessKeyId: { env: 'S3_KEY' },
      secretAccessKey: { env: 'S3_SECRET' },
      ...options.storage,
    },
    database: { url: stack.databaseUrl },
    worker: options.worker ?? {},
    connections: options.connections,
  };
  const configPath = join(stack.dataDir, `${name}.config.json`);
  writeFileSync(configPath, JSON.stringify(raw, null, 2));
  const env = { ...options.secrets, S3_KEY: DEV_S3_CREDENTIALS.accessKeyId, S3_SECRET: DEV_S3_CREDENTIALS.secretAccessKey };
  const config = parseConfig(raw, configPath);
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection, namespace: 'default' });
  const provenance = ProvenanceStore.connect(stack.databaseUrl, 4);
  // Tests restart the database under this pool; an idle client's error must not end the test run.
  provenance.pool.on('error', () => undefined);
  await provenance.migrate();
  const store = ObjectStore.for(config.storage, env);
  await store.ensureBucket();
  const workers: WorkerProcess[] = [];
  const everyWorker: WorkerProcess[] = [];

  return {
    config,
    configPath,
    client,
    provenance,
    store,
    async spawnWorker(extraEnv = {}) {
      const { CALLVAULT_WORKER_ROLE: role, ...rest } = extraEnv;
      const worker = await WorkerProcess.start({
        configPath,
        env: { ...process.env, ...env, ...rest },
        logFile: join(stack.dataDir, `${uniqueName('worker')}.log`),
        ...(role ? { role: role as WorkerRole } : {}),
      });
      workers.push(worker);
      everyWorker.push(worker);
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
    workers: everyWorker,
    unexpectedExits: () => everyWorker.filter((w) => w.exitedUnexpectedly).map((w) => w.describe()),
    async close() {
      for (const w of workers) await w.stop();
      await provenance.close();
      await store.close();
      await connection.close();
    },
  };
}

export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<T> {
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

/** A whole (small) stream as text: manifests and other JSON read back from the store. */
export async function streamText(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

/**
 * Runs the compiled CLI (`npm run -s build` first) against a test's configuration, with `extraEnv`
 * on top of this process's environment; killed after `timeoutMs`.
 */
export async function runCli(
  env: Pick<ExportEnv, 'configPath'>,
  args: string[],
  extraEnv: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(__dirname, '..', '..', 'dist/src/cli/main.js'), '--config', env.configPath, ...args], {
    env: { ...process.env, S3_KEY: DEV_S3_CREDENTIALS.accessKeyId, S3_SECRET: DEV_S3_CREDENTIALS.secretAccessKey, ...extraEnv },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
