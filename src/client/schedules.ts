import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  type Client,
  type ScheduleDescription,
  type ScheduleHandle,
  type ScheduleOptions,
  type ScheduleSpec,
} from '@temporalio/client';
import { CONNECTION_NAME, SCHEDULE_ID, SCHEDULE_ID_HINT, quoted, textProblem } from '../contracts/names';
import type { ExportOptions } from '../contracts/exportInput';
import {
  RETENTION_SWEEP_WORKFLOW_TYPE,
  parseRetentionSweepInput,
  retentionScheduleId,
  type RetentionSweepInput,
} from '../contracts/retentionSweep';
import {
  SCHEDULED_EXPORT_WORKFLOW_TYPE,
  exportScheduleId,
  parseScheduledExportInput,
  type ScheduledExportInput,
} from '../contracts/scheduledExport';
import { CATCHUP_BOUNDS, DELAY_BOUNDS, formatDuration, parseDuration } from '../contracts/durations';
import { DAY } from '../contracts/units';
import {
  fireAtOrBefore,
  intervalOffsetMs,
  parseCadence,
  planBackfill,
  windowForRun,
  type Cadence,
  type CadenceSpec,
} from '../contracts/cadence';
import { readInstant } from '../contracts/instants';
import type { Window } from '../contracts/window';
import { errorMessage } from '../contracts/failures';

/**
 * Data-platform schedules, from code: one Temporal schedule per connection runs
 * `scheduledExportWorkflow` on an interval or a cron expression, and each run exports the window
 * since the previous run (see src/contracts/cadence.ts for the arithmetic), so the windows of a
 * schedule are contiguous: no gaps, no overlaps. A second kind of schedule runs the retention sweep.
 *
 * Policies, chosen on purpose (README.md, "Data-platform schedules", explains them to operators):
 * - Export schedules use overlap ALLOW_ALL. Every run exports a different window under its own
 *   deterministic export id, so runs that overlap in time never overlap in data, while SKIP would
 *   drop a window (a gap) whenever an export runs longer than the interval, and BUFFER_* would
 *   queue windows behind one slow export (and BUFFER_ONE would drop all but one). The providers'
 *   rate limits live on the server's task queues, so parallel windows cannot exceed them.
 * - Catch-up window 30 days by default: after a Temporal outage every missed window still runs.
 *   Longer outages, and time spent paused (pausing skips runs, it does not queue them), are filled
 *   in with `backfill`.
 * - pauseOnFailure off: one failing window must not stop the following ones; failed windows show
 *   in the schedule's recent runs and the retention sweep reports them as at risk.
 * - The retention sweep's schedule uses overlap SKIP and a 1-day catch-up window: a sweep is
 *   idempotent and looks at every due day each time, so a skipped or missed one loses nothing.
 */

export const EXPORT_SCHEDULE_POLICIES = { overlap: 'ALLOW_ALL', catchupWindow: '30d', pauseOnFailure: false } as const;
export const RETENTION_SCHEDULE_POLICIES = { overlap: 'SKIP', catchupWindow: '1d', pauseOnFailure: false } as const;

export type ScheduleKind = 'export' | 'retention';

/** Kept in the schedule's memo, so `list` can tell callvault's schedules (of this deployment) apart. */
interface CallvaultMemo {
  kind: ScheduleKind;
  taskQueue: string;
  connection?: string;
}

export interface CreateExportScheduleOptions extends CadenceSpec {
  connection: string;
  /** Default `<taskQueue>-export-<connection>`. */
  scheduleId?: string;
  /** Export options for every export the schedule starts. */
  options?: Partial<ExportOptions>;
  /** Create it paused. */
  paused?: boolean;
  note?: string;
  /** How late a missed run may still be taken after an outage, e.g. `30d` (the default). */
  catchupWindow?: string;
}

export interface CreateRetentionScheduleOptions extends CadenceSpec {
  /** Default `<taskQueue>-retention-sweep`. */
  scheduleId?: string;
  /** Passed to every sweep (connections, lookbackDays, options; dryRun for a report-only schedule). */
  sweep?: Omit<RetentionSweepInput, 'now' | 'by'>;
  paused?: boolean;
  note?: string;
  catchupWindow?: string;
}

export interface ScheduledRun {
  /** The scheduled (nominal) time. */
  at: string;
  /** The window that run exports (export schedules only). */
  window?: Window;
}

export interface ScheduleInfo {
  scheduleId: string;
  kind: ScheduleKind;
  connection?: string;
  cadence: CadenceSpec;
  paused: boolean;
  note?: string;
  overlap: string;
  catchupWindow: string;
  pauseOnFailure: boolean;
  /** The workflow input each run gets. */
  input: ScheduledExportInput | RetentionSweepInput;
  /** Latest runs first is not Temporal's order; these are oldest first, as Temporal keeps them. */
  recent: Array<ScheduledRun & { takenAt: string; workflowId: string }>;
  next: ScheduledRun[];
  /** Workflow ids of runs in progress. */
  running: string[];
  actionsTaken: number;
  missedCatchupWindow: number;
}

export interface BackfillResult {
  scheduleId: string;
  /** The windows the backfill runs export, oldest first: contiguous, covering the asked range. */
  windows: Window[];
  /** Runs after this time have not come due yet; the schedule itself exports those windows. */
  until: string;
  /** The range asked for, as UTC instants. */
  asked: Window;
}

export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';
}

/**
 * callvault's schedules of one deployment (one task queue prefix) in one namespace.
 *
 * ```ts
 * const schedules = new CallvaultSchedules(client, config.temporal.taskQueue);
 * await schedules.createExport({ connection: 'bird-eu', every: '1h', delay: '10m' });
 * await schedules.backfill('bird-eu', { from: '2026-03-01', to: '2026-03-11' });
 * ```
 */
export class CallvaultSchedules {
  constructor(
    readonly client: Client,
    readonly taskQueue: string,
  ) {}

  /**
   * The schedule ids an argument may mean, most likely first: `retention` is the sweep's schedule,
   * a connection name its export schedule (`<taskQueue>-export-<connection>`), anything else an id.
   */
  candidateIds(idOrConnection: string): string[] {
    if (typeof idOrConnection !== 'string' || !SCHEDULE_ID.test(idOrConnection)) throw new ScheduleError(`schedule: ${SCHEDULE_ID_HINT}`);
    if (idOrConnection === 'retention') return [retentionScheduleId(this.taskQueue)];
    const derived = exportScheduleId(this.taskQueue, idOrConnection);
    return CONNECTION_NAME.test(idOrConnection) && !idOrConnection.startsWith(`${this.taskQueue}-`)
      ? [derived, idOrConnection]
      : [idOrConnection];
  }

  /** Runs an operation on the schedule an argument names, saying which ids were tried when there is none. */
  private async on<T>(idOrConnection: string, op: (handle: ScheduleHandle) => Promise<T>): Promise<T> {
    const ids = this.candidateIds(idOrConnection);
    for (const id of ids) {
      try {
        return await op(this.client.schedule.getHandle(id));
      } catch (err) {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      }
    }
    throw new ScheduleError(`no schedule ${ids.join(' or ')} in this namespace (\`callvault schedule list\` shows this deployment's)`);
  }

  async createExport(opts: CreateExportScheduleOptions): Promise<ScheduleInfo> {
    const scheduleId = opts.scheduleId ?? exportScheduleId(this.taskQueue, opts.connection);
    checkScheduleOptions(scheduleId, opts);
    const cadence = cadenceSpec(opts);
    const input: ScheduledExportInput = {
      connection: opts.connection,
      ...cadence,
      scheduleId,
      ...(opts.options && Object.keys(opts.options).length > 0 ? { options: opts.options } : {}),
    };
    parseOrThrow(() => parseScheduledExportInput(input));
    await this.create({
      scheduleId,
      spec: temporalSpec(parseCadence(cadence)),
      action: {
        type: 'startWorkflow',
        workflowType: SCHEDULED_EXPORT_WORKFLOW_TYPE,
        taskQueue: this.taskQueue,
        workflowId: scheduleId,
        args: [input],
      },
      policies: { ...EXPORT_SCHEDULE_POLICIES, catchupWindow: catchup(opts.catchupWindow ?? EXPORT_SCHEDULE_POLICIES.catchupWindow) },
      memo: { callvault: { kind: 'export', taskQueue: this.taskQueue, connection: opts.connection } satisfies CallvaultMemo },
      state: { paused: opts.paused ?? false, ...(opts.note ? { note: opts.note } : {}) },
    });
    return this.describe(scheduleId);
  }

  async createRetentionSweep(opts: CreateRetentionScheduleOptions): Promise<ScheduleInfo> {
    const scheduleId = opts.scheduleId ?? retentionScheduleId(this.taskQueue);
    checkScheduleOptions(scheduleId, opts);
    const cadence = cadenceSpec(opts);
    const input: RetentionSweepInput = { ...opts.sweep, by: scheduleId };
    parseOrThrow(() => parseRetentionSweepInput(input));
    await this.create({
      scheduleId,
      spec: temporalSpec(parseCadence(cadence)),
      action: {
        type: 'startWorkflow',
        workflowType: RETENTION_SWEEP_WORKFLOW_TYPE,
        taskQueue: this.taskQueue,
        workflowId: scheduleId,
        args: [input],
      },
      policies: { ...RETENTION_SCHEDULE_POLICIES, catchupWindow: catchup(opts.catchupWindow ?? RETENTION_SCHEDULE_POLICIES.catchupWindow) },
      // The sweep's input carries no cadence; the memo keeps it for describe.
      memo: { callvault: { kind: 'retention', taskQueue: this.taskQueue } satisfies CallvaultMemo, cadence },
      state: { paused: opts.paused ?? false, ...(opts.note ? { note: opts.note } : {}) },
    });
    return this.describe(scheduleId);
  }

  /** callvault's schedules of this deployment. Temporal's schedule list is eventually consistent: a new one may take a moment to show. */
  async list(): Promise<ScheduleInfo[]> {
    const out: ScheduleInfo[] = [];
    for await (const summary of this.client.schedule.list()) {
      const memo = summary.memo?.callvault as CallvaultMemo | undefined;
      if (!memo || memo.taskQueue !== this.taskQueue) continue;
      try {
        out.push(scheduleInfo(await this.client.schedule.getHandle(summary.scheduleId).describe()));
      } catch (err) {
        if (!(err instanceof ScheduleNotFoundError)) throw err; // deleted meanwhile
      }
    }
    return out.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
  }

  async describe(idOrConnection: string): Promise<ScheduleInfo> {
    return scheduleInfo(await this.on(idOrConnection, (h) => h.describe()));
  }

  async pause(idOrConnection: string, note?: string): Promise<void> {
    checkScheduleOptions(idOrConnection, { note });
    await this.on(idOrConnection, (h) => h.pause(note ?? 'paused with callvault'));
  }

  async unpause(idOrConnection: string, note?: string): Promise<void> {
    checkScheduleOptions(idOrConnection, { note });
    await this.on(idOrConnection, (h) => h.unpause(note ?? 'unpaused with callvault'));
  }

  async delete(idOrConnection: string): Promise<void> {
    await this.on(idOrConnection, (h) => h.delete());
  }

  /** Runs the schedule's action now (an export schedule then exports the last window that has ended). */
  async trigger(idOrConnection: string): Promise<void> {
    await this.on(idOrConnection, (h) => h.trigger());
  }

  /**
   * Exports every window of the schedule that overlaps [from, to), through the schedule itself
   * (Temporal's backfill), so the runs, their windows and their ids are exactly those the schedule
   * would have made at the time. Windows not yet due are left to the schedule. Runs that would
   * repeat a window already exported attach to or rerun its export (which then transfers nothing).
   */
  async backfill(
    idOrConnection: string,
    range: { from: string | Date; to: string | Date },
    now: Date = new Date(),
  ): Promise<BackfillResult> {
    const from = instant(range.from, 'from');
    const to = instant(range.to, 'to');
    const info = await this.describe(idOrConnection);
    const handle = this.client.schedule.getHandle(info.scheduleId);
    if (info.kind !== 'export')
      throw new ScheduleError(`${info.scheduleId} runs the retention sweep; only export schedules have windows to backfill`);
    const cadence = parseCadence(info.cadence);
    const plan = planBackfill(cadence, from, to);
    const lastDue = Math.min(plan.lastFire, fireAtOrBefore(cadence, now.getTime()));
    const windows = plan.windows.filter((w) => Date.parse(w.to) + cadence.delayMs <= lastDue);
    if (windows.length > 0) {
      // Fire times are whole seconds: half a second either side makes the range include exactly
      // the first and last run, whether Temporal reads its ends as inclusive or exclusive.
      await handle.backfill({ start: new Date(plan.firstFire - 500), end: new Date(lastDue + 500), overlap: 'ALLOW_ALL' });
    }
    return {
      scheduleId: info.scheduleId,
      windows,
      until: new Date(lastDue).toISOString(),
      asked: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
    };
  }

  private async create(options: ScheduleOptions): Promise<void> {
    try {
      await this.client.schedule.create(options);
    } catch (err) {
      if (err instanceof ScheduleAlreadyRunning) {
        throw new ScheduleError(
          `schedule ${options.scheduleId} exists already. To change it, delete it and create it again, then backfill the span since its last run ` +
            `(\`callvault schedule describe ${options.scheduleId}\` shows it) so the cadence change leaves no gap.`,
        );
      }
      throw err;
    }
  }
}

function cadenceSpec(opts: CadenceSpec): CadenceSpec {
  return {
    ...(opts.every !== undefined ? { every: opts.every } : {}),
    ...(opts.cron !== undefined ? { cron: opts.cron } : {}),
    ...(opts.delay !== undefined ? { delay: opts.delay } : {}),
  };
}

function parseOrThrow(parse: () => unknown): void {
  try {
    parse();
  } catch (err) {
    throw new ScheduleError(errorMessage(err));
  }
}

function catchup(value: string): number {
  return parseDuration(value, 'catchupWindow', CATCHUP_BOUNDS);
}

/** What a schedule carries besides its cadence, checked before anything reaches Temporal. */
function checkScheduleOptions(scheduleId: string, opts: { note?: string }): void {
  if (typeof scheduleId !== 'string' || !SCHEDULE_ID.test(scheduleId)) throw new ScheduleError(`scheduleId: ${SCHEDULE_ID_HINT}`);
  const noteProblem = opts.note === undefined ? undefined : textProblem(String(opts.note), MAX_NOTE);
  if (noteProblem) throw new ScheduleError(`note: ${noteProblem}`);
}

/** Notes are shown beside the schedule: a sentence or two. */
const MAX_NOTE = 500;

function instant(value: string | Date, field: string): number {
  const text = value instanceof Date ? (Number.isNaN(value.getTime()) ? 'an invalid Date' : value.toISOString()) : value;
  const read = readInstant(text);
  if ('problem' in read) throw new ScheduleError(`${field}: ${read.problem}`);
  return read.ms;
}

/** The Temporal spec of a cadence, in UTC, with no jitter (jitter would not move windows, but it delays exports for nothing). */
export function temporalSpec(cadence: Cadence): ScheduleSpec {
  if (cadence.kind === 'every') return { intervals: [{ every: cadence.everyMs, offset: intervalOffsetMs(cadence) }] };
  return { cronExpressions: [cadence.cron.expression] };
}

function scheduleInfo(d: ScheduleDescription): ScheduleInfo {
  const memo = d.memo?.callvault as CallvaultMemo | undefined;
  const input = (d.action.args?.[0] ?? {}) as ScheduledExportInput & RetentionSweepInput;
  const kind: ScheduleKind = memo?.kind ?? (d.action.workflowType === RETENTION_SWEEP_WORKFLOW_TYPE ? 'retention' : 'export');
  const cadence: CadenceSpec = kind === 'export' ? cadenceSpec(input) : ((d.memo?.cadence as CadenceSpec | undefined) ?? specCadence(d));
  let parsed: Cadence | undefined;
  try {
    parsed = parseCadence(cadence);
  } catch {
    parsed = undefined; // edited by hand into something we cannot read: show it without windows
  }
  const windowAt = (at: Date): ScheduledRun => ({
    at: at.toISOString(),
    ...(kind === 'export' && parsed ? { window: windowForRun(parsed, at.getTime()) } : {}),
  });
  return {
    scheduleId: d.scheduleId,
    kind,
    ...(input.connection ? { connection: input.connection } : {}),
    cadence,
    paused: d.state.paused,
    ...(d.state.note ? { note: d.state.note } : {}),
    overlap: String(d.policies.overlap),
    catchupWindow: formatDuration(d.policies.catchupWindow),
    pauseOnFailure: d.policies.pauseOnFailure,
    input,
    recent: d.info.recentActions.map((a) => ({
      ...windowAt(a.scheduledAt),
      takenAt: a.takenAt.toISOString(),
      workflowId: a.action.workflow.workflowId,
    })),
    next: d.info.nextActionTimes.map(windowAt),
    running: d.info.runningActions.map((a) => a.workflow.workflowId),
    actionsTaken: d.info.numActionsTaken,
    missedCatchupWindow: d.info.numActionsMissedCatchupWindow,
  };
}

/** For a sweep schedule created elsewhere: read the cadence back from Temporal's spec. */
function specCadence(d: ScheduleDescription): CadenceSpec {
  const interval = d.spec.intervals?.[0];
  if (interval) return { every: formatDuration(interval.every), ...(interval.offset ? { delay: formatDuration(interval.offset) } : {}) };
  return { every: formatDuration(DAY) };
}

/** A duration such as `1h` for people, e.g. in the CLI's table. */
export function describeCadence(c: CadenceSpec): string {
  const base = c.every !== undefined ? `every ${c.every}` : `cron '${c.cron}' (UTC)`;
  let delayMs = 0;
  try {
    delayMs = c.delay === undefined ? 0 : parseDuration(c.delay, 'delay', DELAY_BOUNDS);
  } catch {
    return `${base}, delay ${quoted(String(c.delay))} (not a delay callvault reads)`; // edited by hand in the UI
  }
  return delayMs > 0 ? `${base}, ${c.delay} after each window ends` : base;
}
