#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 --heap-growing-percent=50 --expose-gc
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { connectionByName, loadConfig } from '../config/load';
import type { CallvaultConfig } from '../config/schema';
import { connectClient, failureMessage, queryProgress, startExport, watchExport } from '../client/exports';
import { migrate } from '../provenance/migrate';
import { ProvenanceStore } from '../provenance/store';
import { runDemo } from '../demo/demo';
import { repoRoot } from '../devstack/tools';
import { runVerifyCommand, type VerifyCommandOptions } from '../verify/command';
import { runWorkerProcess } from '../worker/main';
import { WORKER_ROLES, type WorkerRole } from '../worker/worker';
import { MAX_TRIGGER_BY, OPTION_RULES, type ExportInput } from '../contracts/exportInput';
import { connectionArg, instantArg, textArg, wholeNumberArg, workflowIdArg } from './args';
import { formatBytes } from '../contracts/units';
import { progressPrinter } from './progress';
import { registerScheduleCommands } from './schedule';
import { errorMessage } from '../contracts/failures';

const program = new Command('callvault')
  .description('Export call recordings and attachments from contact-center platforms into S3, durably, with provenance.')
  .option('-c, --config <file>', 'configuration file (default: $CALLVAULT_CONFIG or ./callvault.config.json)')
  .showHelpAfterError();

function config(): CallvaultConfig {
  return loadConfig({ path: program.opts<{ config?: string }>().config });
}

program
  .command('worker')
  .description('run a worker: workflows, listing and transfers for every configured connection')
  .addOption(new Option('--role <role>', 'what to poll: all, or workflows / transfers to scale them apart').choices(WORKER_ROLES).env('CALLVAULT_WORKER_ROLE'))
  .action(async (opts: { role?: WorkerRole }) => {
    await runWorkerProcess({ configPath: program.opts<{ config?: string }>().config, role: opts.role });
  });

program
  .command('migrate')
  .description('apply the provenance schema migrations to the configured database')
  .action(async () => {
    const provenance = ProvenanceStore.connect(config().database.url, 1);
    try {
      const applied = await migrate(provenance.pool);
      console.log(applied.length ? `applied migrations ${applied.join(', ')}` : 'schema is up to date');
    } finally {
      await provenance.close();
    }
  });

const exportCmd = program.command('export').description('start, watch and inspect exports');

exportCmd
  .command('start')
  .description('export one connection\'s window; attaches to the running export of the same window if there is one')
  .requiredOption('--connection <name>', 'configured connection name', connectionArg)
  .requiredOption('--from <date>', 'window start, ISO-8601 date or date-time (inclusive)', instantArg)
  .requiredOption('--to <date>', 'window end, ISO-8601 date or date-time (exclusive)', instantArg)
  .option('--by <who>', 'who asks for it, kept in provenance (default: $USER)', textArg(MAX_TRIGGER_BY))
  .option('--max-in-flight <n>', 'transfer batches in flight', wholeNumberArg(OPTION_RULES.maxInFlight.min, OPTION_RULES.maxInFlight.max))
  .option(
    '--heartbeat-timeout <seconds>',
    'seconds without heartbeat before a transfer moves to another worker',
    wholeNumberArg(OPTION_RULES.heartbeatTimeoutSeconds.min, OPTION_RULES.heartbeatTimeoutSeconds.max),
  )
  .option('--no-wait', 'return once started instead of following progress')
  .action(async (opts: { connection: string; from: string; to: string; by?: string; maxInFlight?: number; heartbeatTimeout?: number; wait: boolean }) => {
    const cfg = config();
    connectionByName(cfg, opts.connection); // a connection this deployment lacks would only fail in the worker
    opts.by ??= process.env.USER;
    const input: ExportInput = {
      connection: opts.connection,
      from: opts.from,
      to: opts.to,
      trigger: { kind: 'cli', ...(opts.by ? { by: opts.by } : {}) },
      options: {
        ...(opts.maxInFlight ? { maxInFlight: opts.maxInFlight } : {}),
        ...(opts.heartbeatTimeout ? { heartbeatTimeoutSeconds: opts.heartbeatTimeout } : {}),
      },
    };
    const { client, close } = await connectClient(cfg);
    try {
      const started = await startExport(client, cfg.temporal.taskQueue, input);
      console.log(`${started.started ? 'started' : 'attached to running'} export ${started.workflowId} (run ${started.runId})`);
      if (opts.wait) await follow(started.handle);
    } finally {
      await close();
    }
  });

exportCmd
  .command('watch')
  .argument('<workflowId>', 'the export\'s workflow id', workflowIdArg)
  .description('follow an export with a progress bar until it ends')
  .action(async (workflowId: string) => {
    const { client, close } = await connectClient(config());
    try {
      await follow(client.workflow.getHandle(workflowId));
    } finally {
      await close();
    }
  });

exportCmd
  .command('status')
  .argument('<workflowId>', 'the export\'s workflow id', workflowIdArg)
  .description('show an export\'s state, counters and provenance summary')
  .option('--json', 'print JSON')
  .action(async (workflowId: string, opts: { json?: boolean }) => {
    const cfg = config();
    const { client, close } = await connectClient(cfg);
    const provenance = ProvenanceStore.connect(cfg.database.url, 1);
    try {
      const handle = client.workflow.getHandle(workflowId);
      const description = await handle.describe();
      const progress = await queryProgress(handle);
      const files = await provenance.pool.query<{ status: string; failure_code: string | null; n: string; bytes: string | null }>(
        `SELECT status, failure_code, count(*) AS n, sum(size_bytes) AS bytes FROM callvault.files WHERE workflow_id = $1 GROUP BY 1, 2 ORDER BY 1, 2`,
        [workflowId],
      );
      const status = {
        workflowId,
        runId: description.runId,
        temporalStatus: description.status.name,
        progress,
        provenance: files.rows.map((r) => ({ status: r.status, failureCode: r.failure_code, files: Number(r.n), bytes: Number(r.bytes ?? 0) })),
      };
      if (opts.json) console.log(JSON.stringify(status, null, 2));
      else {
        console.log(`export ${workflowId}: ${status.temporalStatus}`);
        if (progress) console.log(`  listed ${progress.listed}, transferred ${progress.transferred}, skipped ${progress.skipped}, failed ${progress.failed}, ${formatBytes(progress.bytes)}`);
        for (const row of status.provenance) console.log(`  provenance: ${row.files} ${row.status}${row.failureCode ? ` (${row.failureCode})` : ''}, ${formatBytes(row.bytes)}`);
      }
    } finally {
      await provenance.close();
      await close();
    }
  });

program
  .command('verify')
  .description('check provenance and the bucket against each other: every stored row against its object (size, SHA-256, metadata, manifest), and every object for a stored row')
  .option('--connection <name>', 'only this connection (default: every configured connection)')
  .option('--export <workflowId>', 'only files of this export: its rows, and objects its manifests or rows name')
  .option('--repair', 'adopt objects without a stored row whose size and SHA-256 match their manifest entry (writes rows, never deletes)')
  .option('--no-content', 'do not re-read objects to hash them: HEAD, metadata and manifests only')
  .option('--no-bucket', 'do not list the bucket for objects without a stored row')
  .option('--json', 'print the full report as one JSON document')
  .addHelpText('after', '\nExit codes: 0 clean, 1 problems remain (after --repair), 2 unknown connection or export, 3 could not finish.')
  .action(async (opts: VerifyCommandOptions) => {
    process.exitCode = await runVerifyCommand(config(), opts);
  });

program
  .command('demo')
  .description('start the embedded stack (Temporal + UI, SeaweedFS, simulators, a worker) and export from all three simulators')
  .option('--data-dir <dir>', 'where the stack keeps its state', join(repoRoot(), '.data', 'demo'))
  .option('--keep-running', 'keep the stack up after the exports until Ctrl-C (default on a terminal)', process.stdout.isTTY)
  .option('--no-keep-running', 'stop the stack as soon as the exports end')
  .option('--database-name <name>', 'provenance database on the DATABASE_URL server (created when missing)', 'callvault_demo')
  .action(async (opts: { dataDir: string; keepRunning: boolean; databaseName: string }) => {
    await runDemo({ dataDir: opts.dataDir, keepRunning: opts.keepRunning, databaseName: opts.databaseName });
  });

async function follow(handle: Parameters<typeof watchExport>[0]): Promise<void> {
  const printer = progressPrinter();
  try {
    const result = await watchExport(handle, (p) => printer.update(p));
    printer.done();
    console.log(
      `export ${result.workflowId} completed: ${result.transferred} transferred (${formatBytes(result.bytes)}), ` +
        `${result.skipped} already stored, ${result.failed} failed, ${result.listed} listed`,
    );
    if (result.failed > 0) console.log(`failed files have rows with reasons: SELECT source_id, failure_code, failure_reason FROM callvault.files WHERE workflow_id = '${result.workflowId}' AND status = 'failed';`);
  } catch (err) {
    printer.done();
    throw new Error(`export ${handle.workflowId} failed: ${failureMessage(err)}`);
  }
}

registerScheduleCommands(program, config);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`callvault: ${errorMessage(err)}`);
  process.exit(1);
});
