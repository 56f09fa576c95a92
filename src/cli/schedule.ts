import type { Command } from 'commander';
import { connectClient } from '../client/exports';
import { formatSweep, runRetentionSweep, startRetentionSweep } from '../client/retention';
import { CallvaultSchedules, describeCadence, type ScheduleInfo } from '../client/schedules';
import { connectionByName } from '../config/load';
import type { CallvaultConfig } from '../config/schema';
import { OPTION_RULES } from '../contracts/exportInput';
import type { RetentionSweepInput } from '../contracts/retentionSweep';
import { CATCHUP_BOUNDS, DELAY_BOUNDS, EVERY_BOUNDS } from '../contracts/durations';
import { connectionArg, connectionListArg, cronArg, durationArg, instantArg, scheduleIdArg, textArg, wholeNumberArg } from './args';
import type { Window } from '../contracts/window';

const maxInFlightArg = wholeNumberArg(OPTION_RULES.maxInFlight.min, OPTION_RULES.maxInFlight.max);
const lookbackDaysArg = wholeNumberArg(0, 366);
const noteArg = textArg(500);

/**
 * `callvault schedule ...` (data-platform schedules and the retention sweep's schedule) and
 * `callvault retention sweep` (a sweep now). Everything goes through src/client/schedules.ts and
 * src/client/retention.ts, the same API data-platform tooling uses from code.
 */
export function registerScheduleCommands(program: Command, config: () => CallvaultConfig): void {
  async function withSchedules<T>(fn: (schedules: CallvaultSchedules, cfg: CallvaultConfig) => Promise<T>): Promise<T> {
    const cfg = config();
    const { client, close } = await connectClient(cfg);
    try {
      return await fn(new CallvaultSchedules(client, cfg.temporal.taskQueue), cfg);
    } finally {
      await close();
    }
  }

  const schedule = program
    .command('schedule')
    .description('schedules that export each connection window by window (no gaps, no overlaps), and the retention sweep\'s schedule');

  schedule
    .command('create')
    .description('create an export schedule for a connection, or (--retention-sweep) the retention sweep\'s schedule')
    .option('--connection <name>', 'the connection to export on a schedule', connectionArg)
    .option('--retention-sweep', 'schedule the retention sweep instead (every connection with a retention policy)')
    .option('--every <duration>', 'interval from 10s to 366d, e.g. 15m, 1h, 1d; windows are aligned to it (whole hours, whole UTC days)', durationArg(EVERY_BOUNDS))
    .option('--cron <expression>', 'five-field cron expression in UTC that fires every year, or @hourly/@daily/@weekly/@monthly', cronArg)
    .option('--delay <duration>', 'how long after a window ends its export starts, up to 30d, e.g. 10m (default 0s)', durationArg(DELAY_BOUNDS))
    .option('--id <scheduleId>', 'schedule id (default <taskQueue>-export-<connection> / <taskQueue>-retention-sweep)', scheduleIdArg)
    .option('--catchup-window <duration>', 'how late a run missed during an outage is still taken, 10s to 366d (default 30d; 1d for the sweep)', durationArg(CATCHUP_BOUNDS))
    .option('--max-in-flight <n>', 'transfer batches in flight per export', maxInFlightArg)
    .option('--lookback-days <n>', 'sweep: report days deleted unexported for this many days, 0-366 (default 7)', lookbackDaysArg)
    .option('--paused', 'create it paused')
    .option('--note <text>', 'a note shown with the schedule', noteArg)
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Each run exports the window between the previous run's time and its own, moved back by --delay:
  --every 1h --delay 10m   runs at 01:10 and exports 00:00-01:00, at 02:10 exports 01:00-02:00, ...
  --cron '30 2 * * *'      runs at 02:30 UTC and exports the 24 hours since the previous 02:30`,
    )
    .action(
      async (opts: {
        connection?: string;
        retentionSweep?: boolean;
        every?: string;
        cron?: string;
        delay?: string;
        id?: string;
        catchupWindow?: string;
        maxInFlight?: number;
        lookbackDays?: number;
        paused?: boolean;
        note?: string;
        json?: boolean;
      }) => {
        if (Boolean(opts.connection) === Boolean(opts.retentionSweep)) throw new Error('give either --connection <name> or --retention-sweep');
        if ((opts.every === undefined) === (opts.cron === undefined)) throw new Error('give either --every <duration> or --cron <expression>');
        const cadence = { ...(opts.every ? { every: opts.every } : {}), ...(opts.cron ? { cron: opts.cron } : {}), ...(opts.delay ? { delay: opts.delay } : {}) };
        const common = {
          ...(opts.id ? { scheduleId: opts.id } : {}),
          ...(opts.catchupWindow ? { catchupWindow: opts.catchupWindow } : {}),
          ...(opts.paused ? { paused: true } : {}),
          ...(opts.note ? { note: opts.note } : {}),
        };
        const info = await withSchedules(async (schedules, cfg) => {
          if (opts.connection) {
            connectionByName(cfg, opts.connection);
            return schedules.createExport({
              connection: opts.connection,
              ...cadence,
              ...common,
              ...(opts.maxInFlight ? { options: { maxInFlight: opts.maxInFlight } } : {}),
            });
          }
          return schedules.createRetentionSweep({
            ...cadence,
            ...common,
            sweep: { ...(opts.lookbackDays !== undefined ? { lookbackDays: opts.lookbackDays } : {}), ...(opts.maxInFlight ? { options: { maxInFlight: opts.maxInFlight } } : {}) },
          });
        });
        if (opts.json) console.log(JSON.stringify(info, null, 2));
        else {
          console.log(`created schedule ${info.scheduleId}`);
          printSchedule(info);
        }
      },
    );

  schedule
    .command('list')
    .description('list this deployment\'s schedules')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const list = await withSchedules((s) => s.list());
      if (opts.json) return void console.log(JSON.stringify(list, null, 2));
      if (list.length === 0) return void console.log('no schedules (Temporal lists new schedules after a few seconds)');
      for (const info of list) {
        const what = info.kind === 'export' ? `export ${info.connection}` : 'retention sweep';
        const next = info.next[0];
        console.log(
          `${info.scheduleId}  ${what}, ${describeCadence(info.cadence)}${info.paused ? '  PAUSED' : ''}` +
            (next ? `  next ${next.at}${next.window ? ` (${next.window.from} - ${next.window.to})` : ''}` : ''),
        );
      }
    });

  schedule
    .command('describe')
    .argument('<schedule>', 'schedule id, connection name, or "retention"', scheduleIdArg)
    .description('show a schedule: cadence, policies, recent and next runs with their windows (schedule id, connection name, or "retention")')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const info = await withSchedules((s) => s.describe(id));
      if (opts.json) console.log(JSON.stringify(info, null, 2));
      else printSchedule(info);
    });

  schedule
    .command('pause')
    .argument('<schedule>', 'schedule id, connection name, or "retention"', scheduleIdArg)
    .description('pause a schedule: runs that fall due while paused are skipped, not queued (backfill them after unpausing)')
    .option('--note <text>', 'why', noteArg)
    .action(async (id: string, opts: { note?: string }) => {
      await withSchedules((s) => s.pause(id, opts.note));
      console.log(`paused ${id}`);
    });

  schedule
    .command('unpause')
    .argument('<schedule>', 'schedule id, connection name, or "retention"', scheduleIdArg)
    .description('unpause a schedule')
    .option('--note <text>', 'why', noteArg)
    .action(async (id: string, opts: { note?: string }) => {
      await withSchedules((s) => s.unpause(id, opts.note));
      console.log(`unpaused ${id}; to export the windows that fell due while it was paused: callvault schedule backfill ${id} --from <paused at> --to <now>`);
    });

  schedule
    .command('delete')
    .argument('<schedule>', 'schedule id, connection name, or "retention"', scheduleIdArg)
    .description('delete a schedule (exports it started go on)')
    .action(async (id: string) => {
      await withSchedules((s) => s.delete(id));
      console.log(`deleted ${id}`);
    });

  schedule
    .command('trigger')
    .argument('<schedule>', 'schedule id, connection name, or "retention"', scheduleIdArg)
    .description('run a schedule now: an export schedule exports the last window that has ended')
    .action(async (id: string) => {
      await withSchedules((s) => s.trigger(id));
      console.log(`triggered ${id}`);
    });

  schedule
    .command('backfill')
    .argument('<schedule>', 'schedule id, connection name, or "retention"', scheduleIdArg)
    .description('export every window of an export schedule that overlaps [--from, --to), through the schedule')
    .requiredOption('--from <date>', 'range start, ISO-8601 date or date-time (inclusive)', instantArg)
    .requiredOption('--to <date>', 'range end, ISO-8601 date or date-time (exclusive)', instantArg)
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { from: string; to: string; json?: boolean }) => {
      const result = await withSchedules((s) => s.backfill(id, { from: opts.from, to: opts.to }));
      if (opts.json) return void console.log(JSON.stringify(result, null, 2));
      console.log(`backfill of ${result.scheduleId}: ${result.windows.length} windows`);
      for (const w of result.windows) console.log(`  ${w.from} - ${w.to}`);
      if (result.windows.length === 0 || Date.parse(result.windows[result.windows.length - 1]!.to) < Date.parse(result.asked.to)) {
        console.log(`windows ending after ${result.until} are not due yet; the schedule exports them when they are`);
      }
    });

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
    .action(async (opts: { dryRun?: boolean; connection?: string[]; lookbackDays?: number; now?: string; wait: boolean; json?: boolean }) => {
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
    });
}

function printSchedule(info: ScheduleInfo): void {
  const what = info.kind === 'export' ? `exports connection ${info.connection}` : 'runs the retention sweep';
  console.log(`${info.scheduleId}: ${what}, ${describeCadence(info.cadence)}${info.paused ? ', PAUSED' : ''}${info.note ? ` (${info.note})` : ''}`);
  console.log(`  overlap ${info.overlap}, catch-up window ${info.catchupWindow}, pause on failure ${info.pauseOnFailure ? 'on' : 'off'}; ${info.actionsTaken} runs so far`);
  const window = (w?: Window) => (w ? `  window ${w.from} - ${w.to}` : '');
  for (const r of info.recent) console.log(`  ran   ${r.at}${window(r.window)}  ${r.workflowId}${info.running.includes(r.workflowId) ? ' (running)' : ''}`);
  for (const n of info.next) console.log(`  next  ${n.at}${window(n.window)}`);
}
