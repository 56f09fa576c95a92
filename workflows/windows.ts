/**
 * Window arithmetic shared by the schedule and retention workflows, the client and the CLI. Pure
 * and deterministic (no Node imports, no clock): the workflow bundle runs it to derive the window
 * of a scheduled run from its scheduled time, and the client runs the same code to say in advance
 * which windows a schedule or a backfill will export.
 *
 * The rule for schedules: a run fired at time T exports the window between the previous fire time
 * and T, shifted back by the schedule's `delay`: [prev(T) - delay, T - delay). Consecutive fire
 * times therefore give windows that touch: no gap, no overlap, whatever the cadence.
 */

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export interface Window {
  /** Inclusive start, ISO-8601 UTC (`Date.toISOString()`). */
  from: string;
  /** Exclusive end, ISO-8601 UTC. */
  to: string;
}

export class InvalidCadence extends Error {
  override readonly name = 'InvalidCadence';
}

const UNITS: Record<string, number> = { d: DAY, h: HOUR, m: MINUTE, s: SECOND };

/** `90s`, `15m`, `1h30m`, `1d`, or a number of seconds, to milliseconds (whole seconds only). */
export function parseDuration(value: string | number, field = 'duration'): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw new InvalidCadence(`${field}: expected a whole number of seconds, got ${value}`);
    return value * SECOND;
  }
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * SECOND;
  if (!/^(\d+[dhms])+$/.test(text)) throw new InvalidCadence(`${field}: '${value}' is not a duration such as 30s, 15m, 1h, 1h30m or 1d`);
  let ms = 0;
  for (const m of text.matchAll(/(\d+)([dhms])/g)) ms += Number(m[1]) * UNITS[m[2]!]!;
  return ms;
}

/** 90000 -> "1m30s"; 86400000 -> "1d". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms / SECOND) * SECOND;
  let out = '';
  for (const [unit, size] of Object.entries(UNITS)) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

// --- cron --------------------------------------------------------------------------------------

/**
 * A five-field cron expression (minute hour day-of-month month day-of-week), in UTC, read the way
 * Temporal reads it: ranges `a-b`, steps `* /n` and `a-b/n`, lists, month and weekday names, 7 or
 * 0 for Sunday, and the shorthands @yearly @monthly @weekly @daily @hourly. As in Temporal (and
 * unlike classic cron), day-of-month and day-of-week must both match when both are restricted.
 * Time zones and the 6- and 7-field forms are refused, so the windows are the same everywhere.
 */
export interface Cron {
  readonly expression: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly weekdays: ReadonlySet<number>;
}

const SHORTHANDS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function parseField(text: string, name: string, min: number, max: number, names?: string[], nameBase = 0): Set<number> {
  const values = new Set<number>();
  const value = (token: string): number => {
    const lower = token.toLowerCase();
    const named = names ? names.indexOf(lower.slice(0, 3)) : -1;
    if (names && /^[a-z]+$/.test(lower)) {
      if (named < 0) throw new InvalidCadence(`cron ${name}: unknown name '${token}'`);
      return named + nameBase;
    }
    if (!/^\d+$/.test(token)) throw new InvalidCadence(`cron ${name}: '${token}' is not a number`);
    const n = Number(token);
    if (n < min || n > max) throw new InvalidCadence(`cron ${name}: ${n} is outside ${min}-${max}`);
    return n;
  };
  for (const part of text.split(',')) {
    const m = /^([^/]+)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new InvalidCadence(`cron ${name}: cannot read '${part}'`);
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1) throw new InvalidCadence(`cron ${name}: a step must be at least 1`);
    let lo: number;
    let hi: number;
    if (m[1] === '*') [lo, hi] = [min, max];
    else if (m[1]!.includes('-')) {
      const [a, b] = m[1]!.split('-');
      [lo, hi] = [value(a ?? ''), value(b ?? '')];
      if (hi < lo) throw new InvalidCadence(`cron ${name}: range '${m[1]}' ends before it starts`);
    } else {
      lo = value(m[1]!);
      hi = m[2] === undefined ? lo : max;
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return values;
}

export function parseCron(expression: string): Cron {
  const trimmed = expression.trim();
  if (/^(CRON_)?TZ=/i.test(trimmed)) throw new InvalidCadence('cron: time zones are not supported; write the expression in UTC');
  if (/^@every/i.test(trimmed)) throw new InvalidCadence('cron: use `every` for intervals instead of @every');
  const text = SHORTHANDS[trimmed.toLowerCase()] ?? trimmed;
  const fields = text.split(/\s+/);
  if (fields.length !== 5) {
    throw new InvalidCadence(`cron: expected 5 fields (minute hour day-of-month month day-of-week) or a shorthand like @daily, got '${expression}'`);
  }
  const weekdays = parseField(fields[4]!, 'day-of-week', 0, 7, DAY_NAMES);
  if (weekdays.delete(7)) weekdays.add(0);
  return {
    expression: trimmed,
    minutes: parseField(fields[0]!, 'minute', 0, 59),
    hours: parseField(fields[1]!, 'hour', 0, 23),
    days: parseField(fields[2]!, 'day-of-month', 1, 31),
    months: parseField(fields[3]!, 'month', 1, 12, MONTH_NAMES, 1),
    weekdays,
  };
}

/** How far either way a search for a fire time may go before the expression is called impossible (e.g. 30 Feb). */
const SEARCH_LIMIT_MS = 5 * 366 * DAY;

function dayMatches(cron: Cron, d: Date): boolean {
  return cron.months.has(d.getUTCMonth() + 1) && cron.days.has(d.getUTCDate()) && cron.weekdays.has(d.getUTCDay());
}

/** The latest fire time at or before `t` (ms since the epoch). */
export function cronFireAtOrBefore(cron: Cron, t: number): number {
  let x = Math.floor(t / MINUTE) * MINUTE;
  const limit = t - SEARCH_LIMIT_MS;
  while (x >= limit) {
    const d = new Date(x);
    if (!dayMatches(cron, d)) {
      x = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - MINUTE; // last minute of the day before
    } else if (!cron.hours.has(d.getUTCHours())) {
      x = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours()) - MINUTE;
    } else if (!cron.minutes.has(d.getUTCMinutes())) {
      x -= MINUTE;
    } else return x;
  }
  throw new InvalidCadence(`cron: '${cron.expression}' never fires`);
}

/** The earliest fire time strictly after `t`. */
export function cronFireAfter(cron: Cron, t: number): number {
  let x = Math.floor(t / MINUTE) * MINUTE + MINUTE;
  const limit = t + SEARCH_LIMIT_MS;
  while (x <= limit) {
    const d = new Date(x);
    if (!dayMatches(cron, d)) {
      x = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
    } else if (!cron.hours.has(d.getUTCHours())) {
      x = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1);
    } else if (!cron.minutes.has(d.getUTCMinutes())) {
      x += MINUTE;
    } else return x;
  }
  throw new InvalidCadence(`cron: '${cron.expression}' never fires`);
}

// --- cadences ----------------------------------------------------------------------------------

/** What a schedule runs on, as given by people (CLI, config, code). Exactly one of every and cron. */
export interface CadenceSpec {
  /** An interval such as `15m`, `1h` or `1d`: runs at every multiple of it since the epoch (plus `delay`). */
  every?: string;
  /** A five-field UTC cron expression or shorthand (`@daily`). */
  cron?: string;
  /**
   * How long after a window ends its export starts, so that late calls and recordings still being
   * processed are in it. Default 0. With `every`, windows stay aligned (`every: 1h, delay: 10m` runs at
   * 01:10 and exports 00:00-01:00); with `cron` the windows are the spans between fire times, moved back
   * by `delay` (`cron: '10 * * * *', delay: 10m` exports the same hours).
   */
  delay?: string;
}

export type Cadence =
  | { kind: 'every'; everyMs: number; delayMs: number; spec: CadenceSpec }
  | { kind: 'cron'; cron: Cron; delayMs: number; spec: CadenceSpec };

export function parseCadence(spec: CadenceSpec): Cadence {
  if ((spec.every === undefined) === (spec.cron === undefined)) throw new InvalidCadence('give exactly one of `every` and `cron`');
  const delayMs = spec.delay === undefined ? 0 : parseDuration(spec.delay, 'delay');
  if (spec.every !== undefined) {
    const everyMs = parseDuration(spec.every, 'every');
    if (everyMs < SECOND) throw new InvalidCadence('every: must be at least 1s');
    return { kind: 'every', everyMs, delayMs, spec };
  }
  return { kind: 'cron', cron: parseCron(spec.cron!), delayMs, spec };
}

/** The Temporal interval offset that makes `every` fire `delay` after each aligned window ends. */
export function intervalOffsetMs(cadence: Extract<Cadence, { kind: 'every' }>): number {
  return cadence.delayMs % cadence.everyMs;
}

/** The latest fire time at or before `t`. */
export function fireAtOrBefore(cadence: Cadence, t: number): number {
  if (cadence.kind === 'cron') return cronFireAtOrBefore(cadence.cron, t);
  const offset = intervalOffsetMs(cadence);
  return Math.floor((t - offset) / cadence.everyMs) * cadence.everyMs + offset;
}

/** The earliest fire time strictly after `t`. */
export function fireAfter(cadence: Cadence, t: number): number {
  if (cadence.kind === 'cron') return cronFireAfter(cadence.cron, t);
  return fireAtOrBefore(cadence, t) + cadence.everyMs;
}

/** The earliest fire time at or after `t`. */
export function fireAtOrAfter(cadence: Cadence, t: number): number {
  const before = fireAtOrBefore(cadence, t);
  return before === t ? t : fireAfter(cadence, t);
}

function toIso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The window a run scheduled at `t` exports: from the previous fire time to the latest fire time
 * at or before `t`, moved back by `delay`. For a run the schedule fired, `t` is a fire time; a run
 * triggered by hand at any moment exports the last window that has ended.
 */
export function windowForRun(cadence: Cadence, t: number): Window {
  const fire = fireAtOrBefore(cadence, t);
  const previous = fireAtOrBefore(cadence, fire - 1);
  return { from: toIso(previous - cadence.delayMs), to: toIso(fire - cadence.delayMs) };
}

export interface BackfillPlan {
  /** First and last fire time whose windows together cover the asked range. */
  firstFire: number;
  lastFire: number;
  /** The windows those runs export, in order, contiguous; they cover [from, to) and may stick out at the ends. */
  windows: Window[];
}

/** At most this many windows in one backfill: more is a mistake (a 1-minute schedule over a year). */
export const MAX_BACKFILL_WINDOWS = 5000;

/**
 * The runs that export every window overlapping [from, to): the first fire time after
 * `from + delay`, up to the first fire time at or after `to + delay`.
 */
export function planBackfill(cadence: Cadence, from: number, to: number): BackfillPlan {
  if (!(from < to)) throw new InvalidCadence('backfill: `to` must be later than `from`');
  const firstFire = fireAfter(cadence, from + cadence.delayMs);
  const lastFire = fireAtOrAfter(cadence, to + cadence.delayMs);
  const windows: Window[] = [];
  for (let fire = firstFire; fire <= lastFire; fire = fireAfter(cadence, fire)) {
    windows.push(windowForRun(cadence, fire));
    if (windows.length > MAX_BACKFILL_WINDOWS) {
      throw new InvalidCadence(`backfill: more than ${MAX_BACKFILL_WINDOWS} windows; backfill a shorter range or use a longer cadence`);
    }
  }
  return { firstFire, lastFire, windows };
}

/** Whole UTC days [from, to) that overlap [start, end), oldest first. */
export function dayWindows(start: number, end: number): Window[] {
  const out: Window[] = [];
  for (let d = Math.floor(start / DAY) * DAY; d < end; d += DAY) out.push({ from: toIso(d), to: toIso(d + DAY) });
  return out;
}

/** Merges [from, to) intervals (ms) into disjoint, sorted ones. */
export function mergeIntervals(intervals: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const sorted = [...intervals].filter(([a, b]) => a < b).sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** True when the merged intervals cover [from, to) entirely. */
export function covers(merged: ReadonlyArray<readonly [number, number]>, from: number, to: number): boolean {
  return merged.some(([a, b]) => a <= from && b >= to);
}
