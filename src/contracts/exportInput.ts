import { CONNECTION_NAME, CONNECTION_NAME_HINT } from './names';
import { FieldProblems, type Field, field, instant, number, object, oneOf, optional, string, text } from './fields';
import { DAY } from './units';

/**
 * The export workflow's one JSON argument. It is what an operator pastes into the Temporal UI,
 * what a schedule sends and what the CLI builds, so it is validated strictly and every error
 * names its field. It names a connection; credentials never travel in it.
 */
export interface ExportOptions {
  /** Transfer activities in flight at once for this export (well under Temporal's 2,000 pending limit). */
  maxInFlight: number;
  /** How long a transfer may go without a heartbeat before Temporal hands it to another worker. */
  heartbeatTimeoutSeconds: number;
  /** Attempts per transfer before its files are recorded as failed (a rerun tries them again). */
  maxAttempts: number;
  /** Longest retry delay for transfers, in seconds. */
  maxRetryIntervalSeconds: number;
  /** How long to keep waiting for a file the platform says is not ready yet. */
  notReadyMaxWaitHours: number;
}

export const TRIGGER_KINDS = ['operator', 'cli', 'schedule', 'retention', 'api'] as const;

export interface Trigger {
  kind: (typeof TRIGGER_KINDS)[number];
  /** Who or what: a user name, schedule id or policy name. Free text, kept in provenance. */
  by?: string;
}

/** What callers send: dates or date-times, trigger and options optional. */
export interface ExportInput {
  connection: string;
  from: string;
  to: string;
  trigger?: Trigger;
  options?: Partial<ExportOptions>;
}

/** What the workflow works with: UTC instants, every option filled in. */
export interface ValidExportInput {
  connection: string;
  from: string;
  to: string;
  trigger: Trigger;
  options: ExportOptions;
}

/** Each option's bounds and default. */
export const OPTION_RULES: { [K in keyof ExportOptions]: { min: number; max: number; integer: boolean; default: number } } = {
  maxInFlight: { min: 1, max: 500, integer: true, default: 8 },
  heartbeatTimeoutSeconds: { min: 2, max: 3600, integer: true, default: 60 },
  maxAttempts: { min: 1, max: 1000, integer: true, default: 10 },
  maxRetryIntervalSeconds: { min: 1, max: 3600, integer: true, default: 120 },
  notReadyMaxWaitHours: { min: 0, max: 24 * 30, integer: false, default: 72 },
};
const OPTION_NAMES = Object.keys(OPTION_RULES) as Array<keyof ExportOptions>;

export class InvalidExportInput extends Error {
  override readonly name = 'InvalidExportInput';
}

/**
 * Export options as given (none required): the ones present, checked. Schedules and the retention
 * sweep pass such a partial set on to the exports they start.
 */
export function checkExportOptions(f: Field, problems: FieldProblems): Partial<ExportOptions> {
  const { path } = f;
  const fields = object(f.value, path, problems, OPTION_NAMES);
  const options: Partial<ExportOptions> = {};
  if (!fields) return options;
  for (const name of OPTION_NAMES) {
    const value = optional(field(fields, path, name), (f) => number(f, problems, OPTION_RULES[name]));
    if (value !== undefined) options[name] = value;
  }
  return options;
}

/** An instant as a date (2026-01-31) or a date-time with or without its offset (UTC if none), calendar-checked. */
export function checkInstant(f: Field, problems: FieldProblems): string | undefined {
  return instant(f, problems);
}

/**
 * The longest window one export takes: about ten years. Longer is a typo (2062 for 2026), not an
 * export; a longer history is exported as several windows, which also keeps each window's lock short.
 */
export const MAX_WINDOW_DAYS = 3660;

/** Free text such as `trigger.by` is kept in provenance: this long at most. */
export const MAX_TRIGGER_BY = 200;

export function checkConnectionName(f: Field, problems: FieldProblems): string | undefined {
  return string(f, problems, { pattern: CONNECTION_NAME, hint: CONNECTION_NAME_HINT });
}

function checkTrigger(f: Field, problems: FieldProblems): Trigger | undefined {
  const fields = object(f.value, f.path, problems, ['kind', 'by']);
  if (!fields) return undefined;
  const kind = oneOf(field(fields, f.path, 'kind'), problems, TRIGGER_KINDS);
  const by = optional(field(fields, f.path, 'by'), (b) => text(b, problems, MAX_TRIGGER_BY));
  return kind === undefined ? undefined : { kind, ...(by !== undefined ? { by } : {}) };
}

/** Validates an export input; the error message lists every bad field as `field: problem`. */
export function parseExportInput(raw: unknown): ValidExportInput {
  const problems = new FieldProblems();
  const fields = object(raw, '', problems, ['connection', 'from', 'to', 'trigger', 'options']);
  if (fields) {
    const connection = checkConnectionName(field(fields, '', 'connection'), problems);
    const from = checkInstant(field(fields, '', 'from'), problems);
    const to = checkInstant(field(fields, '', 'to'), problems);
    const trigger = optional(field(fields, '', 'trigger'), (t) => checkTrigger(t, problems)) ?? { kind: 'operator' as const };
    const given = optional(field(fields, '', 'options'), (o) => checkExportOptions(o, problems)) ?? {};
    if (from !== undefined && to !== undefined) checkWindow(from, to, problems);
    if (problems.ok && connection !== undefined && from !== undefined && to !== undefined) {
      return { connection, from, to, trigger, options: withDefaults(given) };
    }
  }
  throw new InvalidExportInput(`invalid export input: ${problems.summary()}`);
}

/** A window `[from, to)` must have a length, and at most MAX_WINDOW_DAYS of it. */
export function checkWindow(from: string, to: string, problems: FieldProblems, path = 'to'): void {
  const length = Date.parse(to) - Date.parse(from);
  if (length <= 0) problems.add(path, 'must be later than from');
  else if (length > MAX_WINDOW_DAYS * DAY)
    problems.add(path, `a window is at most ${MAX_WINDOW_DAYS} days (about ten years); export a longer history as several windows`);
}

/** Every option, the given ones and the defaults for the rest. */
function withDefaults(given: Partial<ExportOptions>): ExportOptions {
  const options = {} as ExportOptions;
  for (const name of OPTION_NAMES) options[name] = given[name] ?? OPTION_RULES[name].default;
  return options;
}

/**
 * One export per connection and window: the same window asked for twice (by a schedule, the
 * retention sweep and an operator) maps onto the same workflow id, so it runs once.
 */
export function exportWorkflowId(input: Pick<ValidExportInput, 'connection' | 'from' | 'to'>): string {
  return `export:${input.connection}:${input.from}:${input.to}`;
}
