import type { Command } from 'commander';
import { connectClient } from '../client/exports';
import { CallvaultSchedules, describeCadence, type ScheduleInfo } from '../client/schedules';
import { connectionByName } from '../config/load';
import type { CallvaultConfig } from '../config/schema';
import { CATCHUP_BOUNDS, DELAY_BOUNDS, EVERY_BOUNDS } from '../contracts/durations';
import type { Window } from '../contracts/window';
import { connectionArg, cronArg, durationArg, instantArg, scheduleIdArg } from './args';
import { lookbackDaysArg, maxInFlightArg, noteArg, type ConfigSource } from './context';

/** Runs `fn` with this deployment's schedules, connected for the call. */
type WithSchedules = <T>(fn: (schedules: CallvaultSchedules, cfg: CallvaultConfig) => Promise<T>) => Promise<T>;

const SCHEDULE_ARG = ['<schedule>', 'schedule id, connection name, or "retention"'] as const;

/**
 * `callvault schedule ...`: data-platform schedules and the retention sweep's schedule. Everything
 * goes through src/client/schedules.ts, the same API data-platform tooling uses from code.
 */
export function registerScheduleCommands(program: Command, config: ConfigSource): void {
  const withSchedules: WithSchedules = async (fn) => {
    const cfg = config();
    const { client, close } = await connectClient(cfg);
    try {
      return await fn(new CallvaultSchedules(client, cfg.temporal.taskQueue), cfg);
    } finally {
      await close();
    }
  };
  const schedule = program
    .command('schedule')
    .description("schedules that export each connection window by window (no gaps, no overlaps), and the retention sweep's schedule");
  addCreate(schedule, withSchedules);
  addList(schedule, withSchedules);
  addDescribe(schedule, withSchedules);
  addStateChanges(schedule, withSchedules);
  addBackfill(schedule, withSchedules);
}

interface CreateOptions {
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
}

function addCreate(schedule: Command, withSchedules: WithSchedules): void {
  schedule
    .command('create')
    .description("create an export schedule for a connection, or (--retention-sweep) the retention sweep's schedule")
    .option('--connection <name>', 'the connection to export on a schedule', connectionArg)
    .option('--retention-sweep', 'schedule the retention sweep instead (every connection with a retention policy)')
    .option(
      '--every <duration>',
      'interval from 10s to 366d, e.g. 15m, 1h, 1d; windows are aligned to it (whole hours, whole UTC days)',
      durationArg(EVERY_BOUNDS),
    )
    .option('--cron <expression>', 'five-field cron expression in UTC that fires every year, or @hourly/@daily/@weekly/@monthly', cronArg)
    .option(
      '--delay <duration>',
      'how long after a window ends its export starts, up to 30d, e.g. 10m (default 0s)',
      durationArg(DELAY_BOUNDS),
    )
    .option('--id <scheduleId>', 'schedule id (default <taskQueue>-export-<connection> / <taskQueue>-retention-sweep)', scheduleIdArg)
    .option(
      '--catchup-window <duration>',
      'how late a run missed during an outage is still taken, 10s to 366d (default 30d; 1d for the sweep)',
      durationArg(CATCHUP_BOUNDS),
    )
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
    .action(async (opts: CreateOptions) => {
      const info = await withSchedules((schedules, cfg) => createSchedule(schedules, cfg, opts));
      if (opts.json) console.log(JSON.stringify(info, null, 2));
      else {
        console.log(`created schedule ${info.scheduleId}`);
        printSchedule(info);
      }
    });
}

/** An export schedule (--connection) or the retention sweep's (--retention-sweep), from the flags. */
async function createSchedule(schedules: CallvaultSchedules, cfg: CallvaultConfig, opts: CreateOptions): Promise<ScheduleInfo> {
  if (Boolean(opts.connection) === Boolean(opts.retentionSweep)) throw new Error('give either --connection <name> or --retention-sweep');
  if ((opts.every === undefined) === (opts.cron === undefined)) throw new Error('give either --every <duration> or --cron <expression>');
  const cadence = {
    ...(opts.every ? { every: opts.every } : {}),
    ...(opts.cron ? { cron: opts.cron } : {}),
    ...(opts.delay ? { delay: opts.delay } : {}),
  };
  const common = {
    ...(opts.id ? { scheduleId: opts.id } : {}),
    ...(opts.catchupWindow ? { catchupWindow: opts.catchupWindow } : {}),
    ...(opts.paused ? { paused: true } : {}),
    ...(opts.note ? { note: opts.note } : {}),
  };
  const options = opts.maxInFlight ? { options: { maxInFlight: opts.maxInFlight } } : {};
  if (opts.connection) {
    connectionByName(cfg, opts.connection);
    return schedules.createExport({ connection: opts.connection, ...cadence, ...common, ...options });
  }
  return schedules.createRetentionSweep({
    ...cadence,
    ...common,
    sweep: { ...(opts.lookbackDays !== undefined ? { lookbackDays: opts.lookbackDays } : {}), ...options },
  });
}

function addList(schedule: Command, withSchedules: WithSchedules): void {
  schedule
    .command('list')
    .description("list this deployment's schedules")
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
}

function addDescribe(schedule: Command, withSchedules: WithSchedules): void {
  schedule
    .command('describe')
    .argument(...SCHEDULE_ARG, scheduleIdArg)
    .description(
      'show a schedule: cadence, policies, recent and next runs with their windows (schedule id, connection name, or "retention")',
    )
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const info = await withSchedules((s) => s.describe(id));
      if (opts.json) console.log(JSON.stringify(info, null, 2));
      else printSchedule(info);
    });
}

/** pause, unpause, delete and trigger: one call on the schedule, and a line saying it was done. */
const STATE_CHANGES: ReadonlyArray<{
  command: string;
  description: string;
  /** Takes --note (shown with the schedule). */
  note: boolean;
  change(schedules: CallvaultSchedules, id: string, note: string | undefined): Promise<void>;
  done(id: string): string;
}> = [
  {
    command: 'pause',
    description: 'pause a schedule: runs that fall due while paused are skipped, not queued (backfill them after unpausing)',
    note: true,
    change: (s, id, note) => s.pause(id, note),
    done: (id) => `paused ${id}`,
  },
  {
    command: 'unpause',
    description: 'unpause a schedule',
    note: true,
    change: (s, id, note) => s.unpause(id, note),
    done: (id) =>
      `unpaused ${id}; to export the windows that fell due while it was paused: callvault schedule backfill ${id} --from <paused at> --to <now>`,
  },
  {
    command: 'delete',
    description: 'delete a schedule (exports it started go on)',
    note: false,
    change: (s, id) => s.delete(id),
    done: (id) => `deleted ${id}`,
  },
  {
    command: 'trigger',
    description: 'run a schedule now: an export schedule exports the last window that has ended',
    note: false,
    change: (s, id) => s.trigger(id),
    done: (id) => `triggered ${id}`,
  },
];

function addStateChanges(schedule: Command, withSchedules: WithSchedules): void {
  for (const c of STATE_CHANGES) {
    const command = schedule
      .command(c.command)
      .argument(...SCHEDULE_ARG, scheduleIdArg)
      .description(c.description);
    if (c.note) command.option('--note <text>', 'why', noteArg);
    command.action(async (id: string, opts: { note?: string }) => {
      await withSchedules((s) => c.change(s, id, opts.note));
      console.log(c.done(id));
    });
  }
}

function addBackfill(schedule: Command, withSchedules: WithSchedules): void {
  schedule
    .command('backfill')
    .argument(...SCHEDULE_ARG, scheduleIdArg)
    .description('export every window of an export schedule that overlaps [--from, --to), through the schedule')
    .requiredOption('--from <date>', 'range start, ISO-8601 date or date-time (inclusive)', instantArg)
    .requiredOption('--to <date>', 'range end, ISO-8601 date or date-time (exclusive)', instantArg)
    .option('--json', 'print JSON')
    .action(async (id: string, opts: Window & { json?: boolean }) => {
      const result = await withSchedules((s) => s.backfill(id, { from: opts.from, to: opts.to }));
      if (opts.json) return void console.log(JSON.stringify(result, null, 2));
      console.log(`backfill of ${result.scheduleId}: ${result.windows.length} windows`);
      for (const w of result.windows) console.log(`  ${w.from} - ${w.to}`);
      if (result.windows.length === 0 || Date.parse(result.windows[result.windows.length - 1]!.to) < Date.parse(result.asked.to)) {
        console.log(`windows ending after ${result.until} are not due yet; the schedule exports them when they are`);
      }
    });
}

function printSchedule(info: ScheduleInfo): void {
  const what = info.kind === 'export' ? `exports connection ${info.connection}` : 'runs the retention sweep';
  console.log(
    `${info.scheduleId}: ${what}, ${describeCadence(info.cadence)}${info.paused ? ', PAUSED' : ''}${info.note ? ` (${info.note})` : ''}`,
  );
  console.log(
    `  overlap ${info.overlap}, catch-up window ${info.catchupWindow}, pause on failure ${info.pauseOnFailure ? 'on' : 'off'}; ${info.actionsTaken} runs so far`,
  );
  const window = (w?: Window) => (w ? `  window ${w.from} - ${w.to}` : '');
  for (const r of info.recent)
    console.log(`  ran   ${r.at}${window(r.window)}  ${r.workflowId}${info.running.includes(r.workflowId) ? ' (running)' : ''}`);
  for (const n of info.next) console.log(`  next  ${n.at}${window(n.window)}`);
}
