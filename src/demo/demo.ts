import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { connectClient, startExport, watchExport } from '../client/exports';
import { progressLine } from '../client/progress';
import { runRetentionSweep } from '../client/retention';
import { parseConfig, splitDatabasePassword } from '../config/load';
import type { CallvaultConfig } from '../config/schema';
import type { ExportProgress, ExportResult } from '../contracts/exportResult';
import { DAY } from '../contracts/units';
import { stopAll, stopAllOnSignals } from '../devstack/process';
import { checkPostgres, defaultDatabaseUrl, ensureDatabase } from '../devstack/postgres';
import { DEV_S3_CREDENTIALS, startSeaweed } from '../devstack/seaweed';
import { startTemporal } from '../devstack/temporal';
import { WorkerProcess } from '../devstack/worker';
import type { SecretRef } from '../secrets';
import { CONFIG_OVERRIDES, printResults, type DemoStack } from './report';
import { startDemoSimulators } from './simulators';

export interface DemoOptions {
  /** Where the dev stack keeps its state between runs (git-ignored). */
  dataDir: string;
  /** Keep the stack up after the exports, for the UI and queries, until Ctrl-C. */
  keepRunning: boolean;
  /** The provenance database, created on the DATABASE_URL server when missing. */
  databaseName: string;
}

/** The simulators' conversations fall in these eight days; the same window every run. */
const WINDOW = { from: '2026-01-05T00:00:00.000Z', to: '2026-01-13T00:00:00.000Z' };
const BUCKET = 'callvault-demo';
const CONNECTIONS = ['bird-demo', 'dixa-demo', 'kore-demo'];
/** The demo's retention policy: the platforms "keep" data until just after the demo window, and exports are due 3 days before. */
const LEAD_DAYS = 3;

function step(message: string): void {
  console.log(`demo: ${message}`);
}

/**
 * The whole product on one machine: Temporal with its Web UI, SeaweedFS, Postgres, the three
 * platform simulators and a worker process, then an export per platform, followed to the end,
 * and a dry run of the retention sweep. A second run finds everything stored and transfers
 * nothing: that is the exactly-once promise.
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
    const sweep = await runRetentionSweep(client, stack.config.temporal.taskQueue, { dryRun: true });
    printResults(results, sweep, stack, options);
    if (options.keepRunning) await new Promise<never>(() => undefined);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => console.error(`demo: cleanup: ${String(err)}`));
    await stopAll();
    removeSignalHandlers();
  }
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
    startTemporal({
      dataDir: join(dataDir, 'temporal'),
      dbFile: join(dataDir, 'temporal.db'),
      headless: false,
      logFile: join(dataDir, 'temporal.log'),
    }),
    startSeaweed({ dataDir: join(dataDir, 'seaweed'), logFile: join(dataDir, 'seaweed.log') }),
  ]);
  cleanups.push(
    () => temporal.stop(),
    () => seaweed.stop(),
  );

  step('starting the Bird, Dixa and Kore.ai simulators');
  const secretsDir = join(dataDir, 'secrets');
  const secretRef = (name: string): SecretRef => ({ file: join(secretsDir, name) });
  const sims = await startDemoSimulators(WINDOW, secretRef);
  cleanups.push(() => sims.stop());

  // Secrets as files the configuration names: the worker and every CLI command printed below find them.
  const database = splitDatabasePassword(databaseUrl);
  const pgpass = database.env.PGPASSWORD === undefined ? undefined : writePgpass(secretsDir, databaseUrl);
  writeSecrets(secretsDir, {
    ...sims.secrets,
    DEMO_S3_ACCESS_KEY: DEV_S3_CREDENTIALS.accessKeyId,
    DEMO_S3_SECRET_KEY: DEV_S3_CREDENTIALS.secretAccessKey,
  });
  const configPath = join(dataDir, 'callvault.config.json');
  const raw = {
    temporal: { address: temporal.address, namespace: 'default', taskQueue: 'callvault' },
    storage: {
      endpoint: seaweed.endpoint,
      bucket: BUCKET,
      prefix: 'exports',
      accessKeyId: secretRef('DEMO_S3_ACCESS_KEY'),
      secretAccessKey: secretRef('DEMO_S3_SECRET_KEY'),
    },
    database: { url: database.url },
    connections: withRetention(sims.connections, Date.now()),
  };
  writeFileSync(configPath, `${JSON.stringify(raw, null, 2)}\n`);
  const config = parseConfig(raw, configPath);

  step('starting a worker process');
  const worker = await WorkerProcess.start({
    configPath,
    env: { ...demoWorkerEnvironment(process.env), ...database.env },
    logFile: join(dataDir, 'worker.log'),
  });
  cleanups.push(() => worker.stop());
  return { temporal, seaweed, databaseUrl, configPath, config, pgpass, bucket: BUCKET, window: WINDOW, connections: CONNECTIONS };
}

function writeSecrets(dir: string, secrets: Record<string, string>): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (const [name, value] of Object.entries(secrets)) writeFileSync(join(dir, name), `${value}\n`, { mode: 0o600 });
}

/** A password-file for Postgres clients (psql and the CLI), when DATABASE_URL carries a password. */
function writePgpass(dir: string, url: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const u = new URL(url);
  const escapeField = (s: string) => decodeURIComponent(s).replace(/[\\:]/g, '\\$&');
  const path = join(dir, 'pgpass');
  writeFileSync(path, `${escapeField(u.hostname)}:${u.port || '5432'}:*:${escapeField(u.username)}:${escapeField(u.password)}\n`, {
    mode: 0o600,
  });
  return path;
}

/**
 * A retention policy on every demo connection, so `retention sweep --dry-run` has something to
 * say: the platforms keep data until just after the demo window (so the window's days are due,
 * and covered by the demo's exports), and the three days after it are due and would be started.
 */
function withRetention(connections: Record<string, unknown>, now: number): Record<string, unknown> {
  const keepDays = Math.floor((now - Date.parse(WINDOW.to) + DAY) / DAY);
  return Object.fromEntries(
    Object.entries(connections).map(([name, conn]) => [name, { ...(conn as object), retention: { keepDays, leadDays: LEAD_DAYS } }]),
  );
}

/** An export of the demo window per connection, all at once, with a progress line per connection every two seconds. */
async function exportEveryConnection(client: Client, config: CallvaultConfig): Promise<ExportResult[]> {
  step(`exporting ${WINDOW.from.slice(0, 10)} .. ${WINDOW.to.slice(0, 10)} from ${CONNECTIONS.join(', ')}`);
  const started = await Promise.all(
    CONNECTIONS.map((connection) =>
      startExport(client, config.temporal.taskQueue, { connection, ...WINDOW, trigger: { kind: 'cli', by: 'demo' } }),
    ),
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

/**
 * The caller's environment minus the variables that would override the demo's configuration
 * (a DATABASE_URL meant for the Postgres server must not redirect the worker's provenance).
 */
function demoWorkerEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean = { ...env };
  for (const name of CONFIG_OVERRIDES) delete clean[name];
  return clean;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
