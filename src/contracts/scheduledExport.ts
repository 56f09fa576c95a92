import { parseCadence, windowForRun, type Cadence } from './cadence';
import { InvalidCadence } from './durations';
import { checkConnectionName, checkExportOptions, checkWindow, exportWorkflowId, type ExportOptions } from './exportInput';
import type { ExportResult } from './exportResult';
import { FieldProblems, boolean, field, instant, number, object, optional, string } from './fields';
import { readInstant } from './instants';
import { SCHEDULE_ID, SCHEDULE_ID_HINT } from './names';
import { POINT_IN_TIME_HINT, failTriggerInput as fail } from './triggerInput';
import type { Window } from './window';
import { errorMessage } from './failures';

/**
 * The one JSON argument of the scheduled export (one window per scheduled run), validated strictly
 * like the export input, each error naming its field, so a schedule edited by hand in the Temporal
 * UI fails at once and says why; and the state a run carries when it continues as new.
 */

export const SCHEDULED_EXPORT_WORKFLOW_TYPE = 'scheduledExportWorkflow';

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
    return problems.add(path, errorMessage(err));
  }
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
    if (expected !== undefined && expected !== state.exportWorkflowId)
      problems.add('carried.exportWorkflowId', `expected '${expected}', the export of this run's window`);
  }
  if (!problems.ok) fail('scheduled export carried state', problems);
  return state as ScheduledRunState;
}

/** Schedule ids are per deployment (task queue prefix), so two deployments can share a namespace. */
export function exportScheduleId(taskQueue: string, connection: string): string {
  return `${taskQueue}-export-${connection}`;
}
