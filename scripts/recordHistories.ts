/**
 * Records the workflow histories that the replay test (test/workflow/replay.test.ts) replays
 * against every change to workflows/. It starts a real stack on free ports in a temporary folder
 * (a Temporal dev server, SeaweedFS, a scratch database, a Bird simulator and a compiled worker
 * process, exactly as `callvault worker` runs), runs four scenarios and writes each run's history,
 * as JSON ({ workflowId, runId, label, history }), into test/replay/histories/:
 *
 * - export: 36 recordings with a continue-as-new, per-file retries (a 503 once), a file given up
 *   (503 on every try), the platform's final word (absent, failed) and a durable wait (ongoing);
 * - cancelled: an export cancelled while a slow file is in flight;
 * - scheduled: a scheduled run that starts its window's export and waits for it with timers;
 * - sweep: a retention sweep that starts the exports of two due days;
 * - erase: an erasure of one conversation of the exported day (recorded from v3 on).
 *
 *   npm run -s build && node dist/scripts/recordHistories.js --label v2
 *
 * The label names the version of the workflow code (keep the histories of every version that may
 * still have runs open somewhere: see README, "Changing workflow code").
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { runRetentionSweep } from '../src/client/retention';
import { startErase } from '../src/client/erasure';
import { startExport } from '../src/client/exports';
import { progressQuery } from '../src/contracts/exportResult';
import { SCHEDULED_EXPORT_WORKFLOW_TYPE } from '../src/contracts/scheduledExport';
import { MiB } from '../src/contracts/units';
import { createScratchDatabase } from '../src/devstack/postgres';
import { stopAll } from '../src/devstack/process';
import { DEV_S3_CREDENTIALS, startSeaweed } from '../src/devstack/seaweed';
import { startTemporal } from '../src/devstack/temporal';
import { repoRoot } from '../src/devstack/tools';
import { WorkerProcess } from '../src/devstack/worker';
import { BirdSimulator, type BirdRecordingSpec } from '../src/simulators/bird';

// The AWS SDK's notice about Node versions says nothing about recording histories.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const CONNECTION = 'bird-replay';
const TASK_QUEUE = 'callvault-replay';
const day = (d: number) => `2026-03-${String(d).padStart(2, '0')}T00:00:00.000Z`;
/** Each scenario's own days, so no two share an export. */
const DAYS = { export: 2, scheduled: 3, sweep: [5, 6], cancelled: 9 } as const;

function args(): { label: string; out: string } {
  const argv = process.argv.slice(2);
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const label = value('--label');
  if (!label || !/^[a-z0-9][a-z0-9-]{0,39}$/.test(label))
    throw new Error('--label: expected a version label such as v2 (lowercase letters, digits and -)');
  return { label, out: value('--out') ?? join(repoRoot(), 'test', 'replay', 'histories') };
}

function recordings(): BirdRecordingSpec[] {
  const gen = (d: number, count: number, statuses?: Parameters<typeof BirdSimulator.generate>[0]['statuses']) =>
    BirdSimulator.generate({
      seed: `replay-${d}`,
      count,
      from: day(d),
      to: day(d + 1),
      size: { min: 2_000, max: 40_000 },
      ...(statuses ? { statuses } : {}),
    });
  const main = gen(DAYS.export, 36, { absent: 1, failed: 1 });
  Object.assign(main[13]!, { status: 'ongoing', availableAfterPolls: 2 });
  const slow = gen(DAYS.cancelled, 1);
  slow[0]!.size = 8 * MiB;
  return [...main, ...gen(DAYS.scheduled, 4), ...gen(DAYS.sweep[0], 2), ...gen(DAYS.sweep[1], 2), ...slow];
}

async function main(): Promise<void> {
  const { label, out } = args();
  const dataDir = mkdtempSync(join(tmpdir(), 'callvault-record-'));
  const sim = new BirdSimulator({ seed: 'replay', recordings: recordings() });
  let connection: Connection | undefined;
  let database: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;
  try {
    const [temporal, seaweed, db] = await Promise.all([
      // A low threshold makes the 36-file export continue as new on the real server.
      startTemporal({ dataDir, headless: true, dbFile: null, dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 60 } }),
      startSeaweed({ dataDir: join(dataDir, 'seaweed') }),
      createScratchDatabase(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', 'callvault_record'),
      sim.start(),
    ]);
    database = db;
    const configPath = writeConfig(dataDir, temporal.address, seaweed.endpoint, db.url, sim);
    await WorkerProcess.start({
      configPath,
      env: {
        ...process.env,
        BIRD_KEY: sim.accessKey,
        S3_KEY: DEV_S3_CREDENTIALS.accessKeyId,
        S3_SECRET: DEV_S3_CREDENTIALS.secretAccessKey,
      },
      logFile: join(dataDir, 'worker.log'),
    });
    connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection, namespace: 'default' });
    const recorded = await runScenarios(client, sim);
    mkdirSync(out, { recursive: true });
    for (const [scenario, handle] of recorded) {
      const runs = await runsOf(client, handle.workflowId);
      for (const [i, runId] of runs.entries()) {
        const file = join(out, `${scenario}.${label}.r${i + 1}.json`);
        const history = JSON.parse(historyToJSON(await client.workflow.getHandle(handle.workflowId, runId).fetchHistory())) as unknown;
        // What Worker.runReplayHistories takes: the workflow id matters (the export checks its own).
        writeFileSync(file, `${JSON.stringify({ workflowId: handle.workflowId, runId, label, history })}\n`);
        console.log(`recorded ${file}`);
      }
    }
  } finally {
    await connection?.close();
    await stopAll();
    await sim.stop();
    await database?.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function writeConfig(dataDir: string, temporal: string, s3: string, databaseUrl: string, sim: BirdSimulator): string {
  const config = {
    temporal: { address: temporal, namespace: 'default', taskQueue: TASK_QUEUE },
    storage: {
      endpoint: s3,
      bucket: 'callvault-replay',
      prefix: 'replay',
      accessKeyId: { env: 'S3_KEY' },
      secretAccessKey: { env: 'S3_SECRET' },
    },
    database: { url: databaseUrl },
    connections: {
      [CONNECTION]: {
        provider: 'bird',
        allowPrivateNetwork: true,
        baseUrl: sim.baseUrl,
        workspaceId: sim.workspaceId,
        accessKey: { env: 'BIRD_KEY' },
        mediaHosts: [sim.storageHost],
        batchSize: 4,
        notReadyRetrySeconds: 1,
        retention: { keepDays: 30, leadDays: 2 },
      },
    },
  };
  const path = join(dataDir, 'callvault.config.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

/** Runs every scenario to its end; returns the workflows whose histories to keep. */
async function runScenarios(client: Client, sim: BirdSimulator): Promise<Array<[string, WorkflowHandle]>> {
  const options = { maxInFlight: 2, maxAttempts: 3, maxRetryIntervalSeconds: 1 };
  const main = sim.list().filter((r) => r.createdAt.startsWith(day(DAYS.export).slice(0, 10)));
  for (const r of [main[5]!, main[20]!, main[30]!]) sim.faults.add({ target: 'media', id: r.id, fault: { kind: 'status', status: 503 } });
  sim.faults.add({ target: 'media', id: main[9]!.id, fault: { kind: 'status', status: 503 }, times: Infinity });
  const exported = await startExport(client, TASK_QUEUE, {
    connection: CONNECTION,
    from: day(DAYS.export),
    to: day(DAYS.export + 1),
    trigger: { kind: 'cli', by: 'recorder' },
    options,
  });
  await exported.handle.result();

  const scheduled = await client.workflow.start(SCHEDULED_EXPORT_WORKFLOW_TYPE, {
    taskQueue: TASK_QUEUE,
    workflowId: `replay-scheduled-${Date.now()}`,
    args: [{ connection: CONNECTION, every: '1d', at: day(DAYS.scheduled + 1), options }],
  });
  await scheduled.result();

  const sweepId = `replay-sweep-${Date.now()}`;
  const sweep = await runRetentionSweep(client, TASK_QUEUE, { now: '2026-04-04T00:00:00Z', lookbackDays: 0, options }, sweepId);
  if (sweep.started.length !== 2) throw new Error(`the sweep was to start two exports, it started ${sweep.started.length}`);
  for (const w of sweep.started) await client.workflow.getHandle(w.workflowIds[0]!).result();

  const slow = sim.list().find((r) => r.createdAt.startsWith(day(DAYS.cancelled).slice(0, 10)))!;
  sim.faults.add({ target: 'media', id: slow.id, fault: { kind: 'slow', bytesPerSecond: 256 * 1024 }, times: Infinity });
  const cancelled = await startExport(client, TASK_QUEUE, {
    connection: CONNECTION,
    from: day(DAYS.cancelled),
    to: day(DAYS.cancelled + 1),
    options,
  });
  await waitFor(async () => ((await cancelled.handle.query(progressQuery).catch(() => null))?.inFlight ?? 0) > 0);
  await cancelled.handle.cancel();
  await cancelled.handle.result().catch(() => undefined);

  const erase = await startErase(
    client,
    TASK_QUEUE,
    { connection: CONNECTION, conversationIds: [main[0]!.sourceId], by: 'recorder', reason: 'replay history' },
    `replay-erase-${Date.now()}`,
  );
  await erase.result();

  return [
    ['erase', erase],
    ['export', exported.handle],
    ['scheduled', scheduled],
    ['sweep', client.workflow.getHandle(sweepId)],
    ['cancelled', cancelled.handle],
  ];
}

async function waitFor(probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the cancelled export to start a transfer');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The run ids of a workflow, first to last, following continue-as-new back from the latest run. */
async function runsOf(client: Client, workflowId: string): Promise<string[]> {
  const runs: string[] = [];
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  while (runId) {
    runs.unshift(runId);
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return runs;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
