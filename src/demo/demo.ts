import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Client } from '@temporalio/client';
import { connectClient, startExport, watchExport } from '../client/exports';
import { progressLine } from '../client/progress';
import { parseConfig, splitDatabasePassword } from '../config/load';
import type { CallvaultConfig } from '../config/schema';
import type { ExportProgress, ExportResult } from '../contracts/exportResult';
import { formatBytes } from '../contracts/units';
import { stopAll, stopAllOnSignals } from '../devstack/process';
import { checkPostgres, defaultDatabaseUrl, ensureDatabase } from '../devstack/postgres';
import { DEV_S3_CREDENTIALS, startSeaweed, type SeaweedServer } from '../devstack/seaweed';
import { startTemporal, type TemporalServer } from '../devstack/temporal';
import { WorkerProcess } from '../devstack/worker';
import { startDemoSimulators } from './simulators';

export interface DemoOptions {
  /** Where the dev stack keeps its state between runs (git-ignored). */
  dataDir: string;
  /** Keep the stack up after the exports, for the UI and queries, until Ctrl-C. */
  keepRunning: boolean;
  /** The provenance database, created on the DATABASE_URL server when missing. */
  databaseName: string;
}

/** The simulators' conversations fall in this week; the same window every run. */
const WINDOW = { from: '2026-01-05T00:00:00.000Z', to: '2026-01-12T00:00:00.000Z' };
const BUCKET = 'callvault-demo';
const CONNECTIONS = ['bird-demo', 'dixa-demo', 'kore-demo'];

function step(message: string): void {
  console.log(`demo: ${message}`);
}

/**
 * The whole product on one machine: Temporal with its Web UI, SeaweedFS, Postgres, the three
 * platform simulators and a worker process, then an export per platform, followed to the end.
 * A second run finds everything stored and transfers nothing: that is the exactly-once promise.
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const removeSignalHandlers = stopAllOnSignals();
  mkdirSync(options.dataDir, { recursive: true });
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const stack = await startStack(options, cleanups);
    const { client, close } = await connectClient(stack.config);
    cleanups.push(close);
    const results = await exportEveryConnection(client, stack.config);
    printResults(results, stack, options.dataDir);
    if (options.keepRunning) {
      console.log('\nThe stack keeps running for you to look around. Press Ctrl-C to stop it.');
      await new Promise<never>(() => undefined);
    }
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => console.error(`demo: cleanup: ${String(err)}`));
    await stopAll();
    removeSignalHandlers();
  }
}

interface DemoStack {
  temporal: TemporalServer;
  seaweed: SeaweedServer;
  databaseUrl: string;
  configPath: string;
  config: CallvaultConfig;
}

/** Postgres checked, Temporal, SeaweedFS, the simulators and a worker started (each stopped by `cleanups`), and the configuration they share. */
async function startStack(options: DemoOptions, cleanups: Array<() => Promise<void>>): Promise<DemoStack> {
  const dataDir = options.dataDir;
  const serverUrl = defaultDatabaseUrl();
  step('checking Postgres');
  await checkPostgres(serverUrl);
  const databaseUrl = withDatabase(serverUrl, options.databaseName);
  await ensureDatabase(databaseUrl);

  step('starting the Temporal dev server (state kept in the data folder) and SeaweedFS');
  const [temporal, seaweed] = await Promise.all([
    startTemporal({ dataDir: join(dataDir, 'temporal'), dbFile: join(dataDir, 'temporal.db'), headless: false, logFile: join(dataDir, 'temporal.log') }),
    startSeaweed({ dataDir: join(dataDir, 'seaweed'), logFile: join(dataDir, 'seaweed.log') }),
  ]);
  cleanups.push(() => temporal.stop(), () => seaweed.stop());

  step('starting the Bird, Dixa and Kore.ai simulators');
  const sims = await startDemoSimulators(WINDOW);
  cleanups.push(() => sims.stop());

  const configPath = join(dataDir, 'callvault.config.json');
  const database = splitDatabasePassword(databaseUrl);
  const raw = {
    temporal: { address: temporal.address, namespace: 'default', taskQueue: 'callvault' },
    storage: { endpoint: seaweed.endpoint, bucket: BUCKET, prefix: 'exports', accessKeyId: { env: 'DEMO_S3_ACCESS_KEY' }, secretAccessKey: { env: 'DEMO_S3_SECRET_KEY' } },
    database: { url: database.url },
    connections: sims.connections,
  };
  writeFileSync(configPath, `${JSON.stringify(raw, null, 2)}\n`);
  const config = parseConfig(raw, configPath);
  const secrets = { ...sims.secrets, ...database.env, DEMO_S3_ACCESS_KEY: DEV_S3_CREDENTIALS.accessKeyId, DEMO_S3_SECRET_KEY: DEV_S3_CREDENTIALS.secretAccessKey };

  step('starting a worker process');
  const worker = await WorkerProcess.start({
    configPath,
    env: { ...demoWorkerEnvironment(process.env), ...secrets },
    logFile: join(dataDir, 'worker.log'),
  });
  cleanups.push(() => worker.stop());
  return { temporal, seaweed, databaseUrl, configPath, config };
}

/** An export of the demo window per connection, all at once, with a progress line per connection every two seconds. */
async function exportEveryConnection(client: Client, config: CallvaultConfig): Promise<ExportResult[]> {
  step(`exporting ${WINDOW.from.slice(0, 10)} .. ${WINDOW.to.slice(0, 10)} from ${CONNECTIONS.join(', ')}`);
  const started = await Promise.all(
    CONNECTIONS.map((connection) => startExport(client, config.temporal.taskQueue, { connection, ...WINDOW, trigger: { kind: 'cli', by: 'demo' } })),
  );
  const latest = new Map<string, ExportProgress>();
  const printed = new Map<string, string>();
  const ticker = setInterval(() => {
    for (const [connection, p] of latest) {
      const line = `  ${connection.padEnd(10)} ${progressLine(p, 0).replace(/ at [^|]*\/s/, '')}`;
      if (printed.get(connection) !== line) console.log(line);
      printed.set(connection, line);
    }
  }, 2000);
  try {
    return await Promise.all(started.map((s, i) => watchExport(s.handle, (p) => latest.set(CONNECTIONS[i]!, p))));
  } finally {
    clearInterval(ticker);
  }
}

function printResults(results: ExportResult[], stack: DemoStack, dataDir: string): void {
  console.log('\ncallvault demo: done');
  for (const r of results) {
    console.log(
      `  ${r.connection.padEnd(10)} ${r.transferred} transferred (${formatBytes(r.bytes)}), ${r.skipped} already stored, ${r.failed} failed (with reasons), ${r.listed} listed`,
    );
  }
  const rel = relative(process.cwd(), stack.configPath) || stack.configPath;
  const { databaseUrl } = stack;
  console.log(`
Where to look:
  Temporal Web UI     ${stack.temporal.uiUrl ?? '(headless)'}   (workflows named export:<connection>:<window>)
  S3 endpoint/bucket  ${stack.seaweed.endpoint}  bucket ${BUCKET}, keys under exports/<provider>/<connection>/yyyy/mm/dd/
  Provenance          psql ${redact(databaseUrl)} -c "SELECT connection, status, count(*), sum(size_bytes) FROM callvault.files GROUP BY 1, 2 ORDER BY 1, 2"
  Failures            psql ${redact(databaseUrl)} -c "SELECT connection, source_id, failure_code, failure_reason FROM callvault.files WHERE status = 'failed'"
  Verify every object node dist/src/cli/main.js --config ${rel} verify   (needs the stack running: use --keep-running)
  Logs                ${relative(process.cwd(), dataDir) || dataDir}/{temporal,seaweed,worker}.log
Run \`npm run demo\` again: every file is found in provenance and nothing is transferred twice.`);
}

/**
 * The caller's environment minus the variables that would override the demo's configuration
 * (a DATABASE_URL meant for the Postgres server must not redirect the worker's provenance).
 */
function demoWorkerEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean = { ...env };
  for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'CALLVAULT_TASK_QUEUE', 'S3_ENDPOINT', 'S3_BUCKET', 'S3_REGION']) {
    delete clean[name];
  }
  return clean;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return `"${u.toString()}"`;
}
