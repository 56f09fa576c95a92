import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { DEV_S3_CREDENTIALS } from '../src/devstack/seaweed';
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Client as PgClient } from 'pg';
import { startExport } from '../src/client/exports';
import { splitDatabasePassword } from '../src/config/load';
import type { ExportResult } from '../src/contracts/exportResult';
import { CpuMeter, Sampler, postgresBackends, processTree, type Meters } from './measure';
import type { SimulatorInfo } from './simulator';
import type { Stack } from './stack';
import { spawnWorker, type BenchWorker } from './workers';
import type { Window } from '../src/contracts/window';

export interface PipelineInput {
  stack: Stack;
  /** A connection to the server's `postgres` database: sees pg_stat_* without touching the scratch one. */
  monitor: PgClient;
  sim: SimulatorInfo;
  simPid: number;
  /** Unique per run: the connection, bucket and task queue are named after it. */
  name: string;
  window: Window;
  expectedFiles: number;
  concurrency: number;
  partSizeMiB: number;
  batchSize: number | undefined;
  /**
   * The connection's `rateLimit` (the rate-limited workload: `{}` keeps the provider's published
   * pace); without it the limits are lifted.
   */
  rateLimit?: { transferPerSecond?: number };
  /** Diagnostic pass: profile and count requests in the workers (not a timed run). */
  profileDir?: string;
  workerRepo?: string;
}

export interface PipelineResult {
  files: number;
  bytes: number;
  seconds: number;
  export: ExportResult;
  /** Peak resident memory (VmHWM) per worker role, bytes: over the whole run, and when it was ready (start-up alone). */
  peakRss: { transfers: number; workflows: number; transfersAtReady: number; workflowsAtReady: number };
  /** CPU seconds during the run, per component. */
  cpu: Record<string, number>;
  temporal: { runs: number; events: number; workflowTasks: number; activities: Record<string, number> };
  /**
   * Transactions on the scratch database during the run (pg_stat_database: the workers' queries,
   * plus any autovacuum/autoanalyze the inserts set off), and rows inserted and fetched.
   */
  postgres: { transactions: number; rowsInserted: number; rowsFetched: number };
  workerLogs: string[];
  /** Diagnostic pass only: requests each worker made during the export, by kind (bench/probe.ts). */
  probe: { transfers: Record<string, number>; workflows: Record<string, number> };
}

/** Bird's published 40 requests/s would make this a benchmark of the rate limiter: lift it. */
export const LIFTED_RATE_LIMIT = { listPerSecond: 1000, transferPerSecond: 100_000 };

export async function runPipeline(input: PipelineInput): Promise<PipelineResult> {
  const { stack, name } = input;
  const connection = name;
  const configPath = join(stack.dataDir, `${name}.config.json`);
  const database = splitDatabasePassword(stack.database.url);
  const connectionConfig: Record<string, unknown> = {
    provider: 'bird',
    allowPrivateNetwork: true, // the simulator listens on 127.0.0.1
    baseUrl: input.sim.baseUrl,
    workspaceId: input.sim.workspaceId,
    accessKey: { env: 'BIRD_KEY' },
    mediaHosts: [input.sim.storageHost],
    rateLimit: input.rateLimit ?? LIFTED_RATE_LIMIT,
    ...(input.batchSize !== undefined ? { batchSize: input.batchSize } : {}),
  };
  const config = {
    temporal: { address: stack.temporal.address, namespace: 'default', taskQueue: name },
    storage: {
      endpoint: stack.seaweed.endpoint,
      bucket: name,
      prefix: 'exports',
      accessKeyId: { env: 'S3_KEY' },
      secretAccessKey: { env: 'S3_SECRET' },
      partSizeMiB: input.partSizeMiB,
    },
    database: { url: database.url },
    worker: { transferConcurrency: input.concurrency },
    connections: { [connection]: connectionConfig },
  };
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const env = {
    S3_KEY: DEV_S3_CREDENTIALS.accessKeyId,
    S3_SECRET: DEV_S3_CREDENTIALS.secretAccessKey,
    BIRD_KEY: input.sim.accessKey,
    ...database.env,
  };

  const flags = (role: string): string[] => {
    if (!input.profileDir) return [];
    const dir = join(input.profileDir, role);
    mkdirSync(dir, { recursive: true });
    return ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--require', join(__dirname, 'probe.js')];
  };
  const probeEnv = (role: string): Record<string, string> =>
    input.profileDir ? { BENCH_PROBE_OUT: join(input.profileDir, role, 'requests.json') } : {};
  const workers: BenchWorker[] = [];
  try {
    const workflowsWorker = await spawnWorker({
      configPath,
      role: 'workflows',
      env: { ...process.env, ...env, ...probeEnv('workflows') },
      logFile: join(stack.dataDir, `${name}.workflows.log`),
      extraNodeFlags: flags('workflows'),
      ...(input.workerRepo ? { repo: input.workerRepo } : {}),
    });
    workers.push(workflowsWorker);
    const transfersWorker = await spawnWorker({
      configPath,
      role: 'transfers',
      env: { ...process.env, ...env, ...probeEnv('transfers') },
      logFile: join(stack.dataDir, `${name}.transfers.log`),
      extraNodeFlags: flags('transfers'),
      ...(input.workerRepo ? { repo: input.workerRepo } : {}),
    });
    workers.push(transfersWorker);

    const meters: Meters = {
      workerTransfers: new CpuMeter(() => [transfersWorker.worker.pid]),
      workerWorkflows: new CpuMeter(() => [workflowsWorker.worker.pid]),
      temporal: new CpuMeter(() => processTree(stack.temporal.process.pid)),
      s3: new CpuMeter(() => processTree(stack.seaweed.process.pid)),
      postgres: new CpuMeter(postgresBackends(input.monitor, stack.database.name)),
      simulator: new CpuMeter(() => [input.simPid]),
      bench: new CpuMeter(() => [process.pid]),
    };
    // Let start-up settle: the workers' migration check reaches pg_stat_database up to a second late.
    await new Promise((r) => setTimeout(r, 1500));
    const probeBefore = await readProbes(input.profileDir, false);
    const dbBefore = await databaseCounters(input.monitor, stack.database.name);
    const sampler = new Sampler(meters);
    const rssTimer = setInterval(() => {
      for (const w of workers) w.worker.peakRssBytes();
    }, 500);
    await sampler.start();
    const started = process.hrtime.bigint();
    const exp = await startExport(stack.client, name, {
      connection,
      from: input.window.from,
      to: input.window.to,
      trigger: { kind: 'api', by: 'bench' },
      options: { maxInFlight: input.concurrency },
    });
    const result = (await exp.handle.result()) as ExportResult;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = await sampler.stop();
    clearInterval(rssTimer);
    const peakRss = {
      transfers: transfersWorker.worker.peakRssBytes(),
      workflows: workflowsWorker.worker.peakRssBytes(),
      transfersAtReady: transfersWorker.readyRss,
      workflowsAtReady: workflowsWorker.readyRss,
    };
    if (result.transferred !== input.expectedFiles || result.failed !== 0) {
      throw new Error(`pipeline ${name}: expected ${input.expectedFiles} files transferred, got ${JSON.stringify(result)}`);
    }
    const temporal = await historyCounts(stack.client, exp.workflowId, exp.runId);
    // Backends publish their statistics when idle, at most once a second.
    await new Promise((r) => setTimeout(r, 1500));
    const dbAfter = await databaseCounters(input.monitor, stack.database.name);
    const probeAfter = await readProbes(input.profileDir, false);
    // Checked after the counters are read: the bench's own query must not count as the workers'.
    const stored = (await stack.provenance.exportFileSummary(exp.workflowId))
      .filter((s) => s.status === 'stored')
      .reduce((n, s) => n + s.files, 0);
    if (stored !== input.expectedFiles) throw new Error(`pipeline ${name}: provenance has ${stored} rows, expected ${input.expectedFiles}`);
    return {
      files: result.transferred,
      bytes: result.bytes,
      seconds,
      export: result,
      peakRss,
      cpu,
      temporal,
      postgres: {
        transactions: dbAfter.xact - dbBefore.xact,
        rowsInserted: dbAfter.inserted - dbBefore.inserted,
        rowsFetched: dbAfter.fetched - dbBefore.fetched,
      },
      workerLogs: workers.map((w) => w.worker.logFile),
      probe: {
        transfers: difference(probeAfter.transfers, probeBefore.transfers),
        workflows: difference(probeAfter.workflows, probeBefore.workflows),
      },
    };
  } finally {
    for (const w of workers.reverse()) await w.worker.stop();
  }
}

/** The probes' counters (they write every second: wait for a fresh write first, unless the caller did). */
async function readProbes(dir: string | undefined, wait = true): Promise<PipelineResult['probe']> {
  if (!dir) return { transfers: {}, workflows: {} };
  if (wait) await new Promise((r) => setTimeout(r, 1200));
  const read = (role: string): Record<string, number> => {
    try {
      return JSON.parse(readFileSync(join(dir, role, 'requests.json'), 'utf8')) as Record<string, number>;
    } catch {
      return {};
    }
  };
  return { transfers: read('transfers'), workflows: read('workflows') };
}

function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    if (k.startsWith('memory ')) out[k] = v;
    else if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  }
  return out;
}

async function databaseCounters(monitor: PgClient, database: string): Promise<{ xact: number; inserted: number; fetched: number }> {
  const res = await monitor.query<{ xact: string; inserted: string; fetched: string }>(
    'SELECT xact_commit + xact_rollback AS xact, tup_inserted AS inserted, tup_fetched AS fetched FROM pg_stat_database WHERE datname = $1',
    [database],
  );
  const row = res.rows[0];
  return { xact: Number(row?.xact ?? 0), inserted: Number(row?.inserted ?? 0), fetched: Number(row?.fetched ?? 0) };
}

/** Events, workflow tasks and activities per type over every run of the export (continue-as-new included). */
async function historyCounts(client: Client, workflowId: string, firstRunId: string): Promise<PipelineResult['temporal']> {
  const counts = { runs: 0, events: 0, workflowTasks: 0, activities: {} as Record<string, number> };
  let runId: string | null | undefined = firstRunId;
  while (runId) {
    const handle: WorkflowHandle = client.workflow.getHandle(workflowId, runId);
    const history = await handle.fetchHistory();
    counts.runs++;
    runId = null;
    for (const e of history.events ?? []) {
      const next: string | null | undefined = e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (next) runId = next;
      counts.events++;
      if (e.workflowTaskCompletedEventAttributes) counts.workflowTasks++;
      const scheduled = e.activityTaskScheduledEventAttributes?.activityType?.name;
      if (scheduled) counts.activities[scheduled] = (counts.activities[scheduled] ?? 0) + 1;
    }
  }
  return counts;
}
