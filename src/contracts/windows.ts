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
import { quoted } from './names';

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

/** A value that is not what its field needs; the message starts with the field (`delay: ...`). */
export class InvalidCadence extends Error {
  override readonly name = 'InvalidCadence';
}

// --- instants ----------------------------------------------------------------------------------

/**
 * The instants callvault accepts: 2000-01-01 to 2100-12-31 (UTC). No platform it exports from held
 * calls before 2000, and beyond the range lie the values that wedged exports (`0000-01-01` is out of
 * Postgres' range and Date's two-digit years roll into the 1900s); a century ahead is room enough.
 */
export const EARLIEST_INSTANT = Date.UTC(2000, 0, 1);
export const LATEST_INSTANT = Date.UTC(2101, 0, 1) - 1;
export const INSTANT_HINT = 'expected an ISO-8601 date (2026-01-31) or date-time (2026-01-31T00:00:00Z)';

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
/** Real UTC offsets run from -12:00 to +14:00. */
const MAX_OFFSET_MINUTES = 14 * 60;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * The instant a date or date-time means (midnight UTC for a date; UTC unless an offset is given),
 * or why it is none. Calendar-checked: `2026-02-31` is refused, never rolled over into March.
 */
export function readInstant(value: unknown): { ms: number } | { problem: string } {
  if (typeof value !== 'string') return { problem: INSTANT_HINT };
  const m = INSTANT.exec(value);
  if (!m) return { problem: INSTANT_HINT };
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => Number(x ?? 0)) as [number, number, number, number, number, number];
  if (year < 2000 || year > 2100) return { problem: 'expected a date from 2000-01-01 to 2100-12-31' };
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return { problem: `${value.slice(0, 10)} is not a date in the calendar` };
  if (hour > 23 || minute > 59 || second > 59) return { problem: `${value.slice(11, 19)} is not a time of day (00:00:00 to 23:59:59)` };
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const digits = zone.replace(':', '');
    const [hh, mm] = [Number(digits.slice(1, 3)), Number(digits.slice(3, 5))];
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (hh * 60 + mm);
    if (mm > 59 || Math.abs(offsetMinutes) > MAX_OFFSET_MINUTES) return { problem: `${zone} is not a UTC offset (-12:00 to +14:00)` };
  }
  const millis = Number((m[7] ?? '').padEnd(3, '0'));
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, millis) - offsetMinutes * MINUTE;
  if (ms < EARLIEST_INSTANT || ms > LATEST_INSTANT) return { problem: 'expected a date from 2000-01-01 to 2100-12-31' };
  return { ms };
}

// --- durations ---------------------------------------------------------------------------------

/**
 * Bounds of the durations people give, and why:
 * - `every`: at least 10 s (each run starts an export workflow; shorter windows export nothing
 *   useful and flood the namespace), at most 366 days (a window a year; more is a typo such as
 *   `100000d`, whose first window would start before any data exists).
 * - `delay`: at most 30 days. It gives late calls time to arrive, which takes hours; a longer delay
 *   exports windows that platforms keeping 30-90 days may have deleted before their turn comes.
 * - catch-up window: 10 s (Temporal's minimum) to 366 days.
 */
export const EVERY_BOUNDS = { min: 10 * SECOND, max: 366 * DAY };
export const DELAY_BOUNDS = { min: 0, max: 30 * DAY };
export const CATCHUP_BOUNDS = { min: 10 * SECOND, max: 366 * DAY };

const UNITS: Record<string, number> = { d: DAY, h: HOUR, m: MINUTE, s: SECOND };
/** Units in this order, each at most once: `1d2h`, never `2h1d` or `1h1h`. Digit counts keep every value exact. */
const DURATION = /^(?:(\d{1,6})d)?(?:(\d{1,7})h)?(?:(\d{1,9})m)?(?:(\d{1,10})s)?$/;

/**
 * `90s`, `15m`, `1h30m`, `1d`, or a number of seconds, to milliseconds (whole seconds only),
 * within `bounds` (default: 0 to 366 days).
 */
export function parseDuration(value: string | number, field = 'duration', bounds: { min: number; max: number } = { min: 0, max: 366 * DAY }): number {
  let ms: number;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new InvalidCadence(`${field}: expected a whole number of seconds, got ${value}`);
    ms = value * SECOND;
  } else if (/^\d{1,10}$/.test(value)) {
    ms = Number(value) * SECOND;
  } else {
    const m = typeof value === 'string' && value !== '' ? DURATION.exec(value) : null;
    if (!m) throw new InvalidCadence(`${field}: ${quoted(String(value))} is not a duration such as 30s, 15m, 1h, 1h30m or 1d`);
    ms = ['d', 'h', 'm', 's'].reduce((sum, unit, i) => sum + Number(m[i + 1] ?? 0) * UNITS[unit]!, 0);
  }
  if (ms < bounds.min || ms > bounds.max) {
    throw new InvalidCadence(`${field}: expected ${formatDuration(bounds.min)} to ${formatDuration(bounds.max)}, got ${formatDuration(ms)}`);
  }
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

/** Cron expressions are short; the longest sensible one lists every minute of an hour (170 characters). */
const MAX_CRON_LENGTH = 200;

function parseField(text: string, name: string, min: number, max: number, names?: string[], nameBase = 0): Set<number> {
  const values = new Set<number>();
  const value = (token: string): number => {
    const lower = token.toLowerCase();
    if (names && /^[a-z]{3}$/.test(lower)) {
      const named = names.indexOf(lower);
      if (named < 0) throw new InvalidCadence(`cron ${name}: unknown name ${quoted(token)}`);
      return named + nameBase;
    }
    if (!/^\d{1,2}$/.test(token)) throw new InvalidCadence(`cron ${name}: ${quoted(token)} is not a number${names ? ' or a three-letter name' : ''}`);
    const n = Number(token);
    if (n < min || n > max) throw new InvalidCadence(`cron ${name}: ${n} is outside ${min}-${max}`);
    return n;
  };
  for (const part of text.split(',')) {
    const m = /^(\*|[a-z0-9]+|[a-z0-9]+-[a-z0-9]+)(?:\/(\d{1,2}))?$/i.exec(part);
    if (!m) throw new InvalidCadence(`cron ${name}: cannot read ${quoted(part)}`);
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1 || step > max) throw new InvalidCadence(`cron ${name}: a step must be from 1 to ${max}`);
    let lo: number;
    let hi: number;
    const range = m[1]!;
    if (range === '*') [lo, hi] = [min, max];
    else if (range.includes('-')) {
      const [a, b] = range.split('-') as [string, string];
      [lo, hi] = [value(a), value(b)];
      if (hi < lo) throw new InvalidCadence(`cron ${name}: range ${quoted(range)} ends before it starts`);
    } else {
      lo = value(range);
      hi = m[2] === undefined ? lo : max;
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return values;
}

export function parseCron(expression: string): Cron {
  if (typeof expression !== 'string' || expression.length > MAX_CRON_LENGTH || !/^[\x20-\x7e]*$/.test(expression)) {
    throw new InvalidCadence(`cron: expected an expression of at most ${MAX_CRON_LENGTH} printable ASCII characters`);
  }
  const trimmed = expression.trim();
  if (/^(CRON_)?TZ=/i.test(trimmed)) throw new InvalidCadence('cron: time zones are not supported; write the expression in UTC');
  if (/^@every/i.test(trimmed)) throw new InvalidCadence('cron: use `every` for intervals instead of @every');
  const shorthand = trimmed.toLowerCase();
  const text = Object.hasOwn(SHORTHANDS, shorthand) ? SHORTHANDS[shorthand]! : trimmed;
  const fields = text.split(/ +/);
  if (fields.length !== 5 || !/^[A-Za-z0-9*/, -]+$/.test(text)) {
    throw new InvalidCadence(`cron: expected 5 fields (minute hour day-of-month month day-of-week) separated by spaces, or a shorthand like @daily, got ${quoted(expression, 60)}`);
  }
  const weekdays = parseField(fields[4]!, 'day-of-week', 0, 7, DAY_NAMES);
  if (weekdays.delete(7)) weekdays.add(0);
  const cron: Cron = {
    expression: trimmed,
    minutes: parseField(fields[0]!, 'minute', 0, 59),
    hours: parseField(fields[1]!, 'hour', 0, 23),
    days: parseField(fields[2]!, 'day-of-month', 1, 31),
    months: parseField(fields[3]!, 'month', 1, 12, MONTH_NAMES, 1),
    weekdays,
  };
  if (!firesEveryYear(cron)) {
    throw new InvalidCadence(`cron: ${quoted(trimmed, 60)} does not fire in every year (a day such as 31 February, or a date and weekday that seldom meet)`);
  }
  return cron;
}

/**
 * True when the expression fires in every calendar year from 2000 to 2100, so no window is longer
 * than two years: `0 3 31 2 *` (31 February) and `0 0 29 2 *` (leap years only) are refused, Friday
 * the 13th (every year, up to 14 months apart) is not. Any day 1-28 of any month on any weekday
 * fires every year; otherwise the days of the century are checked (some 37,000, a few milliseconds).
 */
function firesEveryYear(cron: Cron): boolean {
  if (cron.weekdays.size === 7 && [...cron.days].some((d) => d <= 28)) return true;
  let year = 2000;
  for (let t = EARLIEST_INSTANT; t <= LATEST_INSTANT; t += DAY) {
    const d = new Date(t);
    if (d.getUTCFullYear() > year) return false; // a whole year went by without a fire
    if (dayMatches(cron, d)) t = Date.UTC(++year, 0, 1) - DAY; // on to the next year
  }
  return year > 2100;
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
  const delayMs = spec.delay === undefined ? 0 : parseDuration(spec.delay, 'delay', DELAY_BOUNDS);
  if (spec.every !== undefined) return { kind: 'every', everyMs: parseDuration(spec.every, 'every', EVERY_BOUNDS), delayMs, spec };
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
