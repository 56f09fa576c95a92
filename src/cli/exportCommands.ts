import type { Command } from 'commander';
import { connectClient, failureMessage, queryProgress, startExport, watchExport } from '../client/exports';
import { connectionByName } from '../config/load';
import { MAX_TRIGGER_BY, OPTION_RULES, type ExportInput } from '../contracts/exportInput';
import { formatBytes } from '../contracts/units';
import { ProvenanceStore } from '../provenance/store';
import { connectionArg, instantArg, textArg, wholeNumberArg, workflowIdArg } from './args';
import type { ConfigSource } from './context';
import { progressPrinter } from './progress';

interface StartOptions {
  connection: string;
  from: string;
  to: string;
  by?: string;
  maxInFlight?: number;
  heartbeatTimeout?: number;
  wait: boolean;
}

/** `callvault export start|watch|status`. */
export function registerExportCommands(program: Command, config: ConfigSource): void {
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
    .action((opts: StartOptions) => startCommand(config, opts));

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
    .action((workflowId: string, opts: { json?: boolean }) => statusCommand(config, workflowId, opts));
}

async function startCommand(config: ConfigSource, opts: StartOptions): Promise<void> {
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
}

async function statusCommand(config: ConfigSource, workflowId: string, opts: { json?: boolean }): Promise<void> {
  const cfg = config();
  const { client, close } = await connectClient(cfg);
  const provenance = ProvenanceStore.connect(cfg.database.url, 1);
  try {
    const handle = client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    const progress = await queryProgress(handle);
    const status = {
      workflowId,
      runId: description.runId,
      temporalStatus: description.status.name,
      progress,
      provenance: await provenance.exportFileSummary(workflowId),
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
}

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
