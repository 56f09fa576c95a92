/**
 * The instants callvault reads from people and workflow inputs. Pure and deterministic: the
 * workflow bundle checks its inputs with it, and the CLI its flags.
 */
import { MINUTE } from './units';

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
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (year < 2000 || year > 2100) return { problem: 'expected a date from 2000-01-01 to 2100-12-31' };
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month))
    return { problem: `${value.slice(0, 10)} is not a date in the calendar` };
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
