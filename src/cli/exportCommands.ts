import { Option, type Command } from 'commander';
import { connectClient, failureMessage, startExport, watchExport } from '../client/exports';
import { connectionByName } from '../config/load';
import { FAILURE_CODE_MEANING } from '../contracts/exportFailures';
import { MAX_TRIGGER_BY, OPTION_RULES, type ExportInput } from '../contracts/exportInput';
import type { ExportResult } from '../contracts/exportResult';
import { formatBytes } from '../contracts/units';
import { connectionArg, instantArg, textArg, wholeNumberArg, workflowIdArg } from './args';
import type { ConfigSource } from './context';
import { EXIT_CODES_HELP, exitCodeFor } from './exitCodes';
import { cancelCommand, retryCommand } from './exportControl';
import { failuresCommand, listCommand, statusCommand } from './exportInspect';
import { exportTarget, withTarget, type TargetOptions } from './exportTarget';
import { progressPrinter } from './progress';

interface StartOptions {
  connection: string;
  from: string;
  to: string;
  by?: string;
  maxInFlight?: number;
  maxAttempts?: number;
  heartbeatTimeout?: number;
  wait: boolean;
}

const maxAttemptsArg = wholeNumberArg(OPTION_RULES.maxAttempts.min, OPTION_RULES.maxAttempts.max);

/** `callvault export start|watch|retry|status|list|failures|cancel`. */
export function registerExportCommands(program: Command, config: ConfigSource): void {
  const exportCmd = program.command('export').description('start, watch and inspect exports');
  registerRunCommands(exportCmd, config);
  registerInspectCommands(exportCmd, config);
}

/** The verbs that start or follow an export: start, watch, retry. */
function registerRunCommands(exportCmd: Command, config: ConfigSource): void {
  exportCmd
    .command('start')
    .description("export one connection's window; attaches to the running export of the same window if there is one")
    .requiredOption('--connection <name>', 'configured connection name', connectionArg)
    .requiredOption('--from <date>', 'window start, ISO-8601 date or date-time (inclusive)', instantArg)
    .requiredOption('--to <date>', 'window end, ISO-8601 date or date-time (exclusive)', instantArg)
    .option('--by <who>', 'who asks for it, kept in provenance (default: $USER)', textArg(MAX_TRIGGER_BY))
    .option('--max-in-flight <n>', 'transfer batches in flight', wholeNumberArg(OPTION_RULES.maxInFlight.min, OPTION_RULES.maxInFlight.max))
    .option('--max-attempts <n>', `tries per file before it is given up (default ${OPTION_RULES.maxAttempts.default})`, maxAttemptsArg)
    .option(
      '--heartbeat-timeout <seconds>',
      'seconds without heartbeat before a transfer moves to another worker',
      wholeNumberArg(OPTION_RULES.heartbeatTimeoutSeconds.min, OPTION_RULES.heartbeatTimeoutSeconds.max),
    )
    .option('--no-wait', 'return once started instead of following progress')
    .addHelpText('after', EXIT_CODES_HELP)
    .action((opts: StartOptions) => startCommand(config, opts));

  exportCmd
    .command('watch')
    .argument('<workflowId>', "the export's workflow id", workflowIdArg)
    .description('follow an export with a progress bar until it ends')
    .action(async (workflowId: string) => {
      const { client, close } = await connectClient(config());
      try {
        await follow(client.workflow.getHandle(workflowId));
      } finally {
        await close();
      }
    });

  withTarget(exportCmd.command('retry'), 'every export of the connection whose window overlaps it')
    .description('run the exports with failed files again: stored files are skipped, so only the failed ones are fetched')
    .option('--by <who>', 'who asks for it, kept in provenance (default: $USER)', textArg(MAX_TRIGGER_BY))
    .option('--max-in-flight <n>', 'transfer batches in flight', wholeNumberArg(OPTION_RULES.maxInFlight.min, OPTION_RULES.maxInFlight.max))
    .option('--max-attempts <n>', `tries per file before it is given up (default ${OPTION_RULES.maxAttempts.default})`, maxAttemptsArg)
    .option('--no-wait', 'return once started')
    .addHelpText('after', EXIT_CODES_HELP)
    .action((id: string | undefined, opts: TargetOptions & { by?: string; maxInFlight?: number; maxAttempts?: number; wait: boolean }) =>
      retryCommand(config, exportTarget(id, opts), opts),
    );
}

/** The verbs that read or stop an export: status, list, failures, cancel. */
function registerInspectCommands(exportCmd: Command, config: ConfigSource): void {
  withTarget(exportCmd.command('status'), 'the export of exactly that window')
    .description("show an export's state, its window's totals across every run (provenance), and its latest run's counters")
    .option('--json', 'print JSON')
    .addHelpText('after', EXIT_CODES_HELP)
    .action((id: string | undefined, opts: TargetOptions & { json?: boolean }) => statusCommand(config, exportTarget(id, opts), opts));

  exportCmd
    .command('list')
    .description(
      'list exports from provenance, newest windows first, with their stored and failed files (running ones checked against Temporal)',
    )
    .option('--connection <name>', 'only this connection', connectionArg)
    .addOption(new Option('--status <status>', 'only exports in this state').choices(['running', 'completed', 'failed', 'cancelled']))
    .option('--from <date>', 'only exports whose window ends after this', instantArg)
    .option('--to <date>', 'only exports whose window starts before this', instantArg)
    .option('--limit <n>', 'at most this many (default 50)', wholeNumberArg(1, 10_000), 50)
    .option('--json', 'print JSON')
    .action((opts: Parameters<typeof listCommand>[1]) => listCommand(config, opts));

  withTarget(exportCmd.command('cancel'), 'the export of exactly that window')
    .description('cancel a running export; files it stored stay stored, and its row says failed: cancelled')
    .option('--wait <seconds>', 'how long to wait for it to end (default 60)', wholeNumberArg(0, 3600), 60)
    .addHelpText(
      'after',
      '\nExit codes: 0 cancelled (or cancelled already), 1 it had ended otherwise, 2 no such export, 5 asked, not ended yet.',
    )
    .action((id: string | undefined, opts: TargetOptions & { wait: number }) =>
      cancelCommand(config, exportTarget(id, opts), { waitSeconds: opts.wait }),
    );

  withTarget(exportCmd.command('failures'), 'every export of the connection whose window overlaps it')
    .description('list the failed files of an export (or of a window), each with its failure code and reason, from provenance')
    .option('--json', 'print one JSON document: {"totals": ..., "files": [...]}')
    .addHelpText('after', EXIT_CODES_HELP)
    .action((id: string | undefined, opts: TargetOptions & { json?: boolean }) => failuresCommand(config, exportTarget(id, opts), opts));
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
      ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}),
      ...(opts.heartbeatTimeout ? { heartbeatTimeoutSeconds: opts.heartbeatTimeout } : {}),
    },
  };
  const { client, close } = await connectClient(cfg);
  try {
    const started = await startExport(client, cfg.temporal.taskQueue, input);
    console.log(`${started.started ? 'started' : 'attached to running'} export ${started.workflowId} (run ${started.runId})`);
    if (opts.wait) process.exitCode = exitCodeFor(outcome(await follow(started.handle)));
  } finally {
    await close();
  }
}

async function follow(handle: Parameters<typeof watchExport>[0]): Promise<ExportResult> {
  const printer = progressPrinter();
  let result: ExportResult;
  try {
    result = await watchExport(handle, (p) => printer.update(p));
  } catch (err) {
    printer.done();
    throw new Error(`export ${handle.workflowId} failed: ${failureMessage(err)}`);
  }
  printer.done();
  console.log(
    `export ${result.workflowId} completed: ${result.transferred} transferred (${formatBytes(result.bytes)}), ` +
      `${result.skipped} already stored, ${result.failed} failed, ${result.listed} listed`,
  );
  for (const g of result.failures?.groups ?? []) console.log(`  ${g.count} ${g.code}: ${FAILURE_CODE_MEANING[g.code]}`);
  if (result.failed > 0) console.log(`failed files with reasons: callvault export failures ${result.workflowId}`);
  return result;
}

/** An export that ended before results carried their outcome reads as final failures at worst. */
function outcome(result: ExportResult): NonNullable<ExportResult['outcome']> {
  return result.outcome ?? (result.failed > 0 ? 'completed_with_final_failures' : 'completed');
}
