import { quoted } from './names';
import { InvalidCadence } from './durations';
import { EARLIEST_INSTANT, LATEST_INSTANT } from './instants';
import { DAY, MINUTE } from './units';

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
    if (!/^\d{1,2}$/.test(token))
      throw new InvalidCadence(`cron ${name}: ${quoted(token)} is not a number${names ? ' or a three-letter name' : ''}`);
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
    throw new InvalidCadence(
      `cron: expected 5 fields (minute hour day-of-month month day-of-week) separated by spaces, or a shorthand like @daily, got ${quoted(expression, 60)}`,
    );
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
    throw new InvalidCadence(
      `cron: ${quoted(trimmed, 60)} does not fire in every year (a day such as 31 February, or a date and weekday that seldom meet)`,
    );
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
