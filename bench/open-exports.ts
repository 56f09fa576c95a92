import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowIdReusePolicy } from '@temporalio/client';
import { splitDatabasePassword } from '../src/config/load';
import { exportWorkflowId, type ExportInput } from '../src/contracts/exportInput';
import { startStack } from './stack';
import { DEV_S3_CREDENTIALS } from '../src/devstack/seaweed';
import { spawnWorker } from './workers';

/**
 * What an open export costs the `workflows` worker: starts that worker alone, then N exports whose
 * listing can never run (no `transfers` worker polls their queue), so each stays open in the
 * worker's workflow cache, and prints the worker's resident memory before and after. The baseline
 * is the same worker with no export open.
 *
 *   node dist/bench/open-exports.js [--exports 100] [--worker-repo ../other-build]
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const exports = Number(arg('--exports') ?? 100);
  if (!Number.isInteger(exports) || exports < 1 || exports > 1000) throw new Error('--exports: a whole number from 1 to 1000');
  const workerRepo = arg('--worker-repo');

  const stack = await startStack({ keep: false });
  try {
    const name = 'open-exports';
    const connection = 'bird-open';
    const configPath = join(stack.dataDir, 'open-exports.config.json');
    const database = splitDatabasePassword(stack.database.url);
    writeFileSync(
      configPath,
      JSON.stringify({
        temporal: { address: stack.temporal.address, namespace: 'default', taskQueue: name },
        storage: { endpoint: stack.seaweed.endpoint, bucket: name, accessKeyId: { env: 'S3_KEY' }, secretAccessKey: { env: 'S3_SECRET' } },
        database: { url: database.url },
        connections: {
          [connection]: {
            provider: 'bird',
            allowPrivateNetwork: true,
            baseUrl: 'http://127.0.0.1:9',
            workspaceId: 'w',
            accessKey: { env: 'BIRD_KEY' },
          },
        },
      }),
    );
    const { worker, readyRss } = await spawnWorker({
      configPath,
      role: 'workflows',
      env: {
        ...process.env,
        S3_KEY: DEV_S3_CREDENTIALS.accessKeyId,
        S3_SECRET: DEV_S3_CREDENTIALS.secretAccessKey,
        BIRD_KEY: 'b',
        ...database.env,
      },
      logFile: join(stack.dataDir, 'open-exports.workflows.log'),
      ...(workerRepo ? { repo: workerRepo } : {}),
    });
    try {
      const before = worker.rssBytes();
      for (let i = 0; i < exports; i++) {
        const day = new Date(Date.UTC(2026, 0, 1) + i * 86_400_000);
        const input: ExportInput = { connection, from: day.toISOString(), to: new Date(day.getTime() + 86_400_000).toISOString() };
        await stack.client.workflow.start('exportWorkflow', {
          taskQueue: name,
          workflowId: exportWorkflowId({ connection, from: input.from, to: input.to }),
          args: [input],
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        });
        process.stderr.write(`\ropen exports: ${i + 1}/${exports}`);
      }
      // Every export has run its first workflow task once it has asked to list.
      const deadline = Date.now() + 120_000;
      for (;;) {
        const waiting = await pendingListings(stack, name);
        if (waiting >= exports) break;
        if (Date.now() > deadline) throw new Error(`only ${waiting} of ${exports} exports got as far as listing`);
        await new Promise((r) => setTimeout(r, 500));
      }
      await new Promise((r) => setTimeout(r, 2000));
      const after = worker.rssBytes();
      const peak = worker.peakRssBytes();
      process.stderr.write('\n');
      const mb = (b: number) => (b / 1e6).toFixed(0);
      console.log(
        `workflows worker with ${exports} open exports: ${mb(after)} MB resident (peak ${mb(peak)} MB); with none: ${mb(before)} MB (at start-up ${mb(readyRss)} MB)`,
      );
      console.log(
        `per open export: ${((after - before) / 1e6 / exports).toFixed(2)} MB; ratio with/without: ${(after / before).toFixed(2)}`,
      );
    } finally {
      await worker.stop();
    }
  } finally {
    await stack.stop();
  }
}

/** Exports whose first listing activity is scheduled and waiting for a worker. */
async function pendingListings(stack: Awaited<ReturnType<typeof startStack>>, taskQueue: string): Promise<number> {
  let waiting = 0;
  for await (const wf of stack.client.workflow.list({ query: `TaskQueue = "${taskQueue}" AND ExecutionStatus = "Running"` })) {
    const described = await stack.client.workflow.getHandle(wf.workflowId).describe();
    if ((described.raw.pendingActivities ?? []).length > 0) waiting++;
  }
  return waiting;
}

main().catch((err: unknown) => {
  console.error(`open-exports: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
