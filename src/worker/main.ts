import { format } from 'node:util';
import { Client } from '@temporalio/client';
import { NativeConnection, Runtime, type Logger } from '@temporalio/worker';
import {
  connectionFailure,
  isTemporalRefusal,
  resolveTemporalTarget,
  withHandshakeProblem,
  type TemporalTarget,
} from '../client/temporalConnection';
import { loadConfig } from '../config/load';
import type { CallvaultConfig } from '../config/schema';
import { errorMessage } from '../contracts/failures';
import { prebuiltWorkflowBundle } from './bundle';
import { buildDeps, type WorkerDeps } from './deps';
import { observingActivities } from './interceptors';
import { createLogger, logSettingsFromEnv } from './logging';
import { WORKER_METRICS } from './metrics';
import { sampleOpenExports } from './openExports';
import { startOpsServer, type OpsServer } from './opsServer';
import { Readiness } from './readiness';
import { isUnreachable, whenReachable } from './reachable';
import { WORKER_ROLES, type WorkerRole } from './roles';
import { GracefulShutdown } from './shutdown';
import { installRuntime } from './telemetry';
import { createTracing, tracingEndpoint, type Tracing } from './tracing';
import { createWorkers, runWorkers } from './worker';

/** How often the worker re-checks readiness for its gauge, and counts open exports. */
const READY_EVERY_MS = 5_000;
const OPEN_EXPORTS_EVERY_MS = 30_000;

function workerRoleFromEnv(): WorkerRole {
  const role = process.env.CALLVAULT_WORKER_ROLE ?? 'all';
  if (!(WORKER_ROLES as readonly string[]).includes(role)) {
    throw new Error(`CALLVAULT_WORKER_ROLE: '${role}' is not one of ${WORKER_ROLES.join(', ')}`);
  }
  return role as WorkerRole;
}

/** What a running worker process holds, and lets go of when it ends. */
interface Process {
  config: CallvaultConfig;
  role: WorkerRole;
  log: Logger;
  target: TemporalTarget;
  readiness: Readiness;
  shutdown: GracefulShutdown;
  deps: WorkerDeps;
  ops: OpsServer | null;
  tracing: Tracing | null;
}

/**
 * The worker process: configuration from CALLVAULT_CONFIG (or ./callvault.config.json) and the
 * environment, secrets resolved here and nowhere else; logs as JSON lines on stdout; metrics and
 * health on one listener when configured; a graceful stop on SIGTERM (src/worker/shutdown.ts).
 */
export async function runWorkerProcess(options: { configPath?: string; role?: WorkerRole } = {}): Promise<void> {
  const log = createLogger(logSettingsFromEnv());
  routeConsoleTo(log);
  const proc = await prepare(log, options);
  try {
    proc.readiness.starting('Postgres');
    await whenReachable(
      'Postgres (database.url)',
      () => proc.deps.provenance.migrate(),
      (l) => log.warn(l),
    );
    proc.readiness.starting('the object store');
    await whenReachable(
      `the object store (bucket ${proc.config.storage.bucket})`,
      () => proc.deps.store.ensureBucket(),
      (l) => log.warn(l),
    );
    proc.readiness.starting('Temporal');
    log.info(`connecting to Temporal: ${proc.target.description}`);
    const connection = await connectWorker(proc.target, log);
    try {
      await serve(proc, connection);
    } finally {
      await connection.close();
    }
  } finally {
    proc.shutdown.close();
    await proc.deps.close();
    await proc.ops?.close();
    await proc.tracing?.shutdown();
  }
}

/** Everything before the first server is needed: settings checked, runtime, listener, signals. */
async function prepare(log: Logger, options: { configPath?: string; role?: WorkerRole }): Promise<Process> {
  const role = options.role ?? workerRoleFromEnv();
  const config = loadConfig({ path: options.configPath });
  const target = resolveTemporalTarget(config); // a bad TLS setting fails now, not after Postgres answers
  const metricsAddress = config.worker.metrics?.address;
  const { coreMetricsUrl } = await installRuntime({ logger: log, metrics: metricsAddress !== undefined });
  const readiness = new Readiness();
  let ops: OpsServer | null = null;
  if (metricsAddress && coreMetricsUrl) {
    const source = process.env.CALLVAULT_METRICS_ADDRESS ? 'CALLVAULT_METRICS_ADDRESS' : 'worker.metrics.address';
    ops = await startOpsServer({ address: metricsAddress, source, coreMetricsUrl, readiness });
    readiness.watch(
      Runtime.instance().metricMeter.createGauge(WORKER_METRICS.ready.name, 'int', '', WORKER_METRICS.ready.help),
      READY_EVERY_MS,
    );
    log.info(`metrics, /healthz and /readyz on ${ops.url}`);
  }
  const endpoint = tracingEndpoint(config);
  const tracing = endpoint ? createTracing({ serviceName: `callvault-worker-${role}`, url: endpoint.url }) : null;
  if (endpoint) log.info(`tracing to the OTLP endpoint from ${endpoint.from}`);
  const shutdown = new GracefulShutdown(log, config.worker.shutdownGraceSeconds * 1000);
  shutdown.listen();
  const deps = buildDeps(config, process.env, { draining: shutdown.draining, warn: (m) => log.warn(m) });
  return { config, role, log, target, readiness, shutdown, deps, ops, tracing };
}

/** The worker's connection: waits for a server that is away; a refusal (TLS, credentials) fails at once, saying what was tried. */
function connectWorker(target: TemporalTarget, log: Logger): Promise<NativeConnection> {
  return whenReachable(
    `Temporal at ${target.address}`,
    async () => {
      try {
        return await NativeConnection.connect(target.connectionOptions);
      } catch (err) {
        const explained = await withHandshakeProblem(target, err);
        if (isTemporalRefusal(explained) || !isUnreachable(explained)) throw connectionFailure(target, explained);
        throw err;
      }
    },
    (line) => log.warn(line),
  );
}

async function serve(proc: Process, connection: NativeConnection): Promise<void> {
  const { config, role, log } = proc;
  const tracingWorkflows = proc.tracing !== null && role !== 'transfers';
  if (tracingWorkflows) log.info('bundling the workflows with the tracing interceptors (tracing is on)');
  const workers = await createWorkers({
    deps: proc.deps,
    connection,
    namespace: proc.target.namespace,
    role,
    // A prebuilt bundle cannot take the tracing plugin's workflow interceptors: bundle them now.
    workflowBundle: role === 'transfers' || tracingWorkflows ? undefined : prebuiltWorkflowBundle(),
    activityInterceptors: [observingActivities(config)],
    ...(proc.tracing ? { plugins: [proc.tracing.plugin] } : {}),
    shutdownGraceMs: proc.shutdown.graceMs,
  });
  const stopSampling = proc.ops && role !== 'transfers' ? sampleOpenExportsOf(proc, connection) : () => undefined;
  proc.shutdown.serving(workers);
  proc.readiness.running(connection, workers);
  const queues = workers.map((w) => w.options.taskQueue).join(', ');
  log.info(`callvault worker ${process.pid} (${role}) polling ${queues} on ${proc.target.address}`, {
    pid: process.pid,
    role,
    namespace: proc.target.namespace,
  });
  try {
    if (!proc.shutdown.requested) await runWorkers(workers);
    log.info(`callvault worker ${process.pid} stopped`);
  } finally {
    proc.readiness.stopping();
    stopSampling();
  }
}

function sampleOpenExportsOf(proc: Process, connection: NativeConnection): () => void {
  const meter = Runtime.instance().metricMeter;
  return sampleOpenExports({
    client: new Client({ connection, namespace: proc.target.namespace }),
    taskQueue: proc.config.temporal.taskQueue,
    connections: Object.keys(proc.config.connections),
    gauge: meter.createGauge(WORKER_METRICS.openExports.name, 'int', '', WORKER_METRICS.openExports.help),
    intervalMs: OPEN_EXPORTS_EVERY_MS,
    log: proc.log,
  });
}

/** Whatever still writes to the console (a library, a stray line) comes out as a log line too. */
function routeConsoleTo(log: Logger): void {
  console.log = (...args: unknown[]) => log.info(format(...args));
  console.info = console.log;
  console.warn = (...args: unknown[]) => log.warn(format(...args));
  console.error = (...args: unknown[]) => log.error(format(...args));
  console.debug = (...args: unknown[]) => log.debug(format(...args));
}

if (require.main === module) {
  runWorkerProcess().catch((err: unknown) => {
    console.error(`callvault worker: ${errorMessage(err)}`);
    process.exit(1);
  });
}
