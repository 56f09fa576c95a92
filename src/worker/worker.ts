import {
  type NativeConnection,
  Runtime,
  Worker,
  type ActivityInterceptorsFactory,
  type WorkerPlugin,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { taskQueues } from '../contracts/names';
import { providerLimits, transferActivitiesPerSecond } from '../providers/registry';
import { leanSourceMaps } from './bundle';
import type { WorkerRole } from './roles';
import { requireSearchAttributes } from './searchAttributes';

export interface CreateWorkersOptions {
  deps: ActivityDeps;
  role?: WorkerRole;
  connection: NativeConnection;
  /** The namespace the connection resolved (TEMPORAL_NAMESPACE, a profile); default the configuration's. */
  namespace?: string;
  /** A prebuilt workflow bundle (fast start); otherwise the workflows are bundled now (with the plugins' workflow interceptors). */
  workflowBundle?: WorkflowBundleOption;
  identity?: string;
  /** Per activity: logs and metrics tags (src/worker/interceptors.ts). */
  activityInterceptors?: ActivityInterceptorsFactory[];
  /** Tracing (src/worker/tracing.ts). */
  plugins?: WorkerPlugin[];
  /** How long running activities get to finish after shutdown is asked for, before they are cancelled. */
  shutdownGraceMs?: number;
}

/** After the grace period, cancelled activities get this long to wind up before the worker gives up on them. */
const FORCE_AFTER_GRACE_MS = 10_000;

/**
 * The workers of one process: one on the main task queue for workflows and bookkeeping, and per
 * connection one for listing and one for transfers. Each connection's queues carry the server-side
 * rate limit derived from the platform's published limit, so any number of worker processes
 * together stay under it.
 */
export async function createWorkers(options: CreateWorkersOptions): Promise<Worker[]> {
  const { deps, connection } = options;
  const { config } = deps;
  const activities = createActivities(deps);
  const grace = options.shutdownGraceMs;
  const common = {
    connection,
    namespace: options.namespace ?? config.temporal.namespace,
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.activityInterceptors ? { interceptors: { activity: options.activityInterceptors } } : {}),
    ...(options.plugins ? { plugins: options.plugins } : {}),
    ...(grace !== undefined ? { shutdownGraceTime: grace, shutdownForceTime: grace + FORCE_AFTER_GRACE_MS } : {}),
  };
  const role = options.role ?? 'all';
  const workers: Worker[] = [];
  if (role !== 'transfers') {
    await requireSearchAttributes(connection, common.namespace, (line) => Runtime.instance().logger.warn(line));
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: config.temporal.taskQueue,
        ...(options.workflowBundle
          ? { workflowBundle: options.workflowBundle }
          : { workflowsPath: require.resolve('../../workflows'), bundlerOptions: { webpackConfigHook: leanSourceMaps } }),
        // A workflow's next task waits this long on the queue of the worker that ran its last one
        // before any worker may take it: with the default 10 s, every export whose worker died
        // stood still 10 s (measured in the crash tests); 3 s still rides out a busy worker.
        stickyQueueScheduleToStartTimeout: '3 seconds',
        activities: {
          describeConnection: activities.describeConnection,
          beginExport: activities.beginExport,
          finishExport: activities.finishExport,
          recordFailures: activities.recordFailures,
          recordFailedStart: activities.recordFailedStart,
          startExports: activities.startExports,
          exportStatus: activities.exportStatus,
          planRetentionSweep: activities.planRetentionSweep,
          planErasure: activities.planErasure,
          eraseFiles: activities.eraseFiles,
        },
      }),
    );
  }
  if (role === 'workflows') return workers;
  for (const conn of Object.values(config.connections)) {
    const queues = taskQueues(config.temporal.taskQueue, conn.name);
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: queues.list,
        activities: { listPage: activities.listPage },
        maxConcurrentActivityTaskExecutions: config.worker.listConcurrency,
        maxTaskQueueActivitiesPerSecond: providerLimits(conn).listRequestsPerSecond,
      }),
      await Worker.create({
        ...common,
        taskQueue: queues.transfer,
        activities: { transferBatch: activities.transferBatch },
        maxConcurrentActivityTaskExecutions: config.worker.transferConcurrency,
        // One activity moves a batch of files, each costing a few requests.
        maxTaskQueueActivitiesPerSecond: transferActivitiesPerSecond(conn),
      }),
    );
  }
  return workers;
}

/** Runs workers until one fails or all are shut down; a failure stops the others. */
export async function runWorkers(workers: Worker[]): Promise<void> {
  try {
    await Promise.all(
      workers.map((w) =>
        w.run().catch((err: unknown) => {
          for (const other of workers) if (other.getState() === 'RUNNING') other.shutdown();
          throw err;
        }),
      ),
    );
  } finally {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  }
}
