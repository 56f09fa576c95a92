import type { Command } from 'commander';
import { connectClient } from '../client/exports';
import { formatSweep, runRetentionSweep, startRetentionSweep } from '../client/retention';
import { connectionByName } from '../config/load';
import type { RetentionSweepInput } from '../contracts/retentionSweep';
import { connectionListArg, instantArg } from './args';
import { lookbackDaysArg, type ConfigSource } from './context';

interface SweepOptions {
  dryRun?: boolean;
  connection?: string[];
  lookbackDays?: number;
  now?: string;
  wait: boolean;
  json?: boolean;
}

/** `callvault retention sweep`: a sweep now, through src/client/retention.ts (exit status 2 when something is at risk). */
export function registerRetentionCommands(program: Command, config: ConfigSource): void {
  program
    .command('retention')
    .description('retention policies: export what the platforms are about to delete')
    .command('sweep')
    .description('run a retention sweep now and print what it started, what is covered and what is at risk')
    .option('--dry-run', 'start nothing, only report')
    .option('--connection <name>', 'only this connection (repeatable)', connectionListArg)
    .option('--lookback-days <n>', 'report days deleted unexported for this many days, 0-366 (default 7)', lookbackDaysArg)
    .option('--now <date-time>', 'sweep as if it were this time (what-if)', instantArg)
    .option('--no-wait', 'return once started')
    .option('--json', 'print JSON')
    .action((opts: SweepOptions) => sweep(config, opts));
}

async function sweep(config: ConfigSource, opts: SweepOptions): Promise<void> {
  const cfg = config();
  for (const name of opts.connection ?? []) connectionByName(cfg, name); // fail here, naming it, before a sweep starts
  const input: RetentionSweepInput = {
    ...(opts.dryRun ? { dryRun: true } : {}),
    ...(opts.connection ? { connections: opts.connection } : {}),
    ...(opts.lookbackDays !== undefined ? { lookbackDays: opts.lookbackDays } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  };
  const { client, close } = await connectClient(cfg);
  try {
    if (!opts.wait) {
      const handle = await startRetentionSweep(client, cfg.temporal.taskQueue, input);
      return void console.log(`started retention sweep ${handle.workflowId}`);
    }
    const result = await runRetentionSweep(client, cfg.temporal.taskQueue, input);
    console.log(opts.json ? JSON.stringify(result, null, 2) : formatSweep(result));
    if (result.atRisk.length > 0) process.exitCode = 2;
  } finally {
    await close();
  }
}
