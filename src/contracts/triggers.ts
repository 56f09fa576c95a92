import { SCHEDULE_ID, SCHEDULE_ID_HINT } from './names';
import type { ExportResult } from './exportResult';
import { FieldProblems, type Field, boolean, field, instant, list, number, object, optional, string, text } from './fields';
import { MAX_TRIGGER_BY, checkConnectionName, checkExportOptions, checkWindow, exportWorkflowId, type ExportOptions } from './exportInput';
import { InvalidCadence } from './durations';
import { parseCadence, windowForRun, type Cadence } from './cadence';
import { readInstant } from './instants';
import type { Window } from './window';

/**
 * The one JSON argument of the two workflows that start exports on their own: the scheduled
 * export (one window per scheduled run) and the retention sweep. Validated strictly like the
 * export input, each error naming its field, so a schedule edited by hand in the Temporal UI
 * fails at once and says why.
 */

export const SCHEDULED_EXPORT_WORKFLOW_TYPE = 'scheduledExportWorkflow';
export const RETENTION_SWEEP_WORKFLOW_TYPE = 'retentionSweepWorkflow';

export interface ScheduledExportInput {
  connection: string;
  /** Interval such as `15m`, `1h`, `1d` (exactly one of every and cron). */
  every?: string;
  /** Five-field UTC cron expression or shorthand such as `@daily`. */
  cron?: string;
  /** How long after a window ends its export starts (default 0s). */
  delay?: string;
  /** The schedule that runs this, recorded in provenance as the trigger. */
  scheduleId?: string;
  /** Export options passed on to every export this schedule starts. */
  options?: Partial<ExportOptions>;
  /** Only for runs not started by a schedule: the scheduled time to derive the window from. */
  at?: string;
}

export interface ScheduledExportResult {
  /** The window this run exported. */
  window: Window;
  /** The export's deterministic workflow id (`export:<connection>:<from>:<to>`). */
  exportWorkflowId: string;
  /** False when an export of this window was already running (started by an operator, the sweep or a backfill) and this run waited for it. */
  started: boolean;
  /** The scheduled time the window was derived from. */
  scheduledAt: string;
  result: ExportResult;
}

export interface RetentionSweepInput {
  /** Only these connections (each must have a retention policy); default: every connection that has one. */
  connections?: string[];
  /**
   * How many days before the deletion horizon to keep looking, so a window the platform has already
   * deleted without it ever being exported is reported (as at risk) for that long instead of vanishing.
   * Default 7.
   */
  lookbackDays?: number;
  /** Plan and report, start nothing. */
  dryRun?: boolean;
  /** Options for the exports the sweep starts. */
  options?: Partial<ExportOptions>;
  /** The sweep's notion of now; default the scheduled time (or the workflow's start time). For tests and what-ifs. */
  now?: string;
  /** Recorded in provenance as the trigger (the schedule id). */
  by?: string;
}

/** The retention sweep's input with its defaults filled in. */
export type ValidRetentionSweepInput = RetentionSweepInput & { lookbackDays: number; dryRun: boolean };

export class InvalidTriggerInput extends Error {
  override readonly name = 'InvalidTriggerInput';
}

function fail(what: string, problems: FieldProblems): never {
  throw new InvalidTriggerInput(`invalid ${what}: ${problems.summary()}`);
}

const POINT_IN_TIME_HINT = 'expected an ISO-8601 date-time such as 2026-03-01T00:00:00Z (or a date, meaning its midnight UTC)';

/** Cadence strings are short: the longest cron expression callvault reads is 200 characters. */
const MAX_CADENCE_TEXT = 200;

export function parseScheduledExportInput(raw: unknown): ScheduledExportInput {
  const problems = new FieldProblems();
  const fields = object(raw, '', problems, ['connection', 'every', 'cron', 'delay', 'scheduleId', 'options', 'at']);
  if (!fields) fail('scheduled export input', problems);
  const cadenceText = (key: string) => optional(field(fields, '', key), (f) => string(f, problems, { max: MAX_CADENCE_TEXT }));
  // Absent fields stay undefined, which JSON (and so Temporal's payloads) leaves out.
  const input: ScheduledExportInput = {
    connection: checkConnectionName(field(fields, '', 'connection'), problems) ?? '',
    every: cadenceText('every'),
    cron: cadenceText('cron'),
    delay: cadenceText('delay'),
    scheduleId: optional(field(fields, '', 'scheduleId'), (f) => string(f, problems, { pattern: SCHEDULE_ID, hint: SCHEDULE_ID_HINT })),
    options: optional(field(fields, '', 'options'), (f) => checkExportOptions(f, problems)),
    at: optional(field(fields, '', 'at'), (f) => instant(f, problems, POINT_IN_TIME_HINT)),
  };
  const cadence = checkCadence(input, problems);
  if (cadence && input.at !== undefined) {
    // A run placed by hand must still give a window callvault can export.
    const window = cadenceWindow(cadence, Date.parse(input.at), problems, 'at');
    if (window) checkWindow(window.from, window.to, problems, 'at');
  }
  if (!problems.ok) fail('scheduled export input', problems);
  return input;
}

function checkCadence(input: ScheduledExportInput, problems: FieldProblems): Cadence | undefined {
  try {
    return parseCadence(input);
  } catch (err) {
    const message = err instanceof InvalidCadence ? err.message : String(err);
    const key = /^(every|cron|delay)\b/.exec(message)?.[1] ?? 'every';
    problems.add(key, message.replace(/^(every|cron|delay): /, ''));
    return undefined;
  }
}

/** The window a run at `at` exports, or a problem when it falls outside the years callvault accepts. */
function cadenceWindow(cadence: Cadence, at: number, problems: FieldProblems, path: string): Window | undefined {
  try {
    const window = windowForRun(cadence, at);
    const outside = [window.from, window.to].some((t) => 'problem' in readInstant(t));
    return outside ? problems.add(path, `gives the window ${window.from} - ${window.to}, outside 2000-01-01 to 2100-12-31`) : window;
  } catch (err) {
    return problems.add(path, err instanceof Error ? err.message : String(err));
  }
}

export function parseRetentionSweepInput(raw: unknown): ValidRetentionSweepInput {
  const problems = new FieldProblems();
  const fields = object(raw, '', problems, ['connections', 'lookbackDays', 'dryRun', 'options', 'now', 'by']);
  if (!fields) fail('retention sweep input', problems);
  const input: ValidRetentionSweepInput = {
    connections: optional(field(fields, '', 'connections'), (f) => checkConnectionNames(f, problems)),
    lookbackDays: optional(field(fields, '', 'lookbackDays'), (f) => number(f, problems, { min: 0, max: 366, integer: true })) ?? 7,
    dryRun: optional(field(fields, '', 'dryRun'), (f) => boolean(f, problems)) ?? false,
    options: optional(field(fields, '', 'options'), (f) => checkExportOptions(f, problems)),
    now: optional(field(fields, '', 'now'), (f) => instant(f, problems, POINT_IN_TIME_HINT)),
    by: optional(field(fields, '', 'by'), (f) => text(f, problems, MAX_TRIGGER_BY)),
  };
  if (!problems.ok) fail('retention sweep input', problems);
  return input;
}

/** Connections a sweep may name at once: more than any deployment configures. */
const MAX_SWEEP_CONNECTIONS = 1000;

function checkConnectionNames(f: Field, problems: FieldProblems): string[] | undefined {
  const names = list(f, problems, MAX_SWEEP_CONNECTIONS, (item) => checkConnectionName(item, problems));
  names?.forEach((name, i) => {
    if (names.indexOf(name) !== i) problems.add(`${f.path}.${i}`, `'${name}' is listed twice`);
  });
  return names;
}

/** What a scheduled run hands the next when it continues as new while waiting on a long export. */
export interface ScheduledRunState {
  exportWorkflowId: string;
  started: boolean;
  scheduledAt: string;
  pollMs: number;
}

/** Bounds of the pause between two looks at a running export: history stays at ~1,000 events a day. */
export const POLL_BOUNDS = { min: 1000, max: 2 * 60 * 1000 };

/**
 * The second argument of `scheduledExportWorkflow`: only a run that continued as new may carry it
 * (Temporal says so in `continuedFromExecutionRunId`), and then it must describe the very export the
 * input's cadence gives for its scheduled time. Anything else fails at once, naming it: a state
 * forged through the UI could otherwise attach the run to any workflow or sleep for ever.
 */
export function parseScheduledRunState(raw: unknown, continued: boolean, input: ScheduledExportInput): ScheduledRunState | undefined {
  if (raw === undefined) return undefined;
  const problems = new FieldProblems();
  if (!continued) {
    problems.add('carried', 'only a run that continued as new carries state; start the workflow with its input alone');
    fail('scheduled export carried state', problems);
  }
  const fields = object(raw, 'carried', problems, ['exportWorkflowId', 'started', 'scheduledAt', 'pollMs']);
  if (!fields) fail('scheduled export carried state', problems);
  const state = {
    exportWorkflowId: string(field(fields, 'carried', 'exportWorkflowId'), problems, { max: 300 }),
    started: boolean(field(fields, 'carried', 'started'), problems),
    scheduledAt: instant(field(fields, 'carried', 'scheduledAt'), problems, POINT_IN_TIME_HINT),
    pollMs: number(field(fields, 'carried', 'pollMs'), problems, { ...POLL_BOUNDS, integer: true }),
  };
  const cadence = checkCadence(input, problems);
  if (cadence && state.scheduledAt !== undefined && state.exportWorkflowId !== undefined) {
    const window = cadenceWindow(cadence, Date.parse(state.scheduledAt), problems, 'carried.scheduledAt');
    const expected = window && exportWorkflowId({ connection: input.connection, ...window });
    if (expected !== undefined && expected !== state.exportWorkflowId) problems.add('carried.exportWorkflowId', `expected '${expected}', the export of this run's window`);
  }
  if (!problems.ok) fail('scheduled export carried state', problems);
  return state as ScheduledRunState;
}

/** A window of one connection as the retention sweep reports it. */
export interface SweepWindow extends Window {
  connection: string;
  /** When the platform starts deleting this window's data (from + keepDays). */
  deletesAt: string;
  /** The export(s) doing or holding the work: the deterministic id for windows the sweep starts. */
  workflowIds: string[];
}

export type AtRiskReason =
  /** The last export of this window failed (and the sweep started it again, unless it is past deletion). */
  | 'export_failed'
  /** The platform has begun deleting this window; what is left is being exported now. */
  | 'deletion_started'
  /** The platform has deleted this window and it was never exported: data lost (reported for lookbackDays). */
  | 'deleted';

export interface AtRiskWindow extends SweepWindow {
  reasons: AtRiskReason[];
  detail: string;
}

export interface RetentionPolicySummary {
  connection: string;
  keepDays: number;
  leadDays: number;
  /** Data created before this is gone (now - keepDays). */
  deletesBefore: string;
  /** Data created before this will be deleted within leadDays: its windows are due (now - keepDays + leadDays). */
  dueBefore: string;
  /** The days this sweep looked at. */
  checked: Window;
}

export interface RetentionSweepResult {
  now: string;
  dryRun: boolean;
  policies: RetentionPolicySummary[];
  /** Exports this sweep started (in a dry run: would start). */
  started: SweepWindow[];
  /** Windows an export was already running for: the sweep attached to it and started nothing. */
  alreadyRunning: SweepWindow[];
  /** Windows completed exports already cover. */
  covered: SweepWindow[];
  /** Windows that need a person: failing exports, deletion begun or done. May also appear in started. */
  atRisk: AtRiskWindow[];
}

/** What the sweep's planning activity hands the workflow. */
export interface RetentionPlan {
  now: string;
  policies: RetentionPolicySummary[];
  /** Due windows without a completed or running export: start these. */
  toStart: SweepWindow[];
  alreadyRunning: SweepWindow[];
  covered: SweepWindow[];
  atRisk: AtRiskWindow[];
}

/** Schedule ids are per deployment (task queue prefix), so two deployments can share a namespace. */
export function exportScheduleId(taskQueue: string, connection: string): string {
  return `${taskQueue}-export-${connection}`;
}

export function retentionScheduleId(taskQueue: string): string {
  return `${taskQueue}-retention-sweep`;
}
