import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../config/load';
import { prebuiltWorkflowBundle } from './bundle';
import { buildDeps } from './deps';
import { whenReachable } from './reachable';
import { WORKER_ROLES, type WorkerRole } from './roles';
import { createWorkers, runWorkers } from './worker';
import { errorMessage } from '../contracts/failures';

function workerRoleFromEnv(): WorkerRole {
  const role = process.env.CALLVAULT_WORKER_ROLE ?? 'all';
  if (!(WORKER_ROLES as readonly string[]).includes(role)) {
    throw new Error(`CALLVAULT_WORKER_ROLE: '${role}' is not one of ${WORKER_ROLES.join(', ')}`);
  }
  return role as WorkerRole;
}

/**
 * The worker process: configuration from CALLVAULT_CONFIG (or ./callvault.config.json) and the
 * environment, secrets resolved here and nowhere else. Temporal's runtime turns SIGINT/SIGTERM
 * into a graceful shutdown: running activities get cancelled and resume elsewhere.
 */
export async function runWorkerProcess(options: { configPath?: string; role?: WorkerRole } = {}): Promise<void> {
  const role = options.role ?? workerRoleFromEnv();
  const config = loadConfig({ path: options.configPath });
  const deps = buildDeps(config);
  try {
    await whenReachable('Postgres (database.url)', () => deps.provenance.migrate());
    await whenReachable(`the object store (bucket ${config.storage.bucket})`, () => deps.store.ensureBucket());
    const connection = await whenReachable(`Temporal at ${config.temporal.address}`, () => NativeConnection.connect({ address: config.temporal.address }));
    try {
      const workers = await createWorkers({ deps, connection, role, workflowBundle: role === 'transfers' ? undefined : prebuiltWorkflowBundle() });
      const queues = workers.map((w) => w.options.taskQueue).join(', ');
      console.log(`callvault worker ${process.pid} (${role}) polling ${queues} on ${config.temporal.address}`);
      await runWorkers(workers);
    } finally {
      await connection.close();
    }
  } finally {
    await deps.close();
  }
}

if (require.main === module) {
  runWorkerProcess().catch((err: unknown) => {
    console.error(`callvault worker: ${errorMessage(err)}`);
    process.exit(1);
  });
}
