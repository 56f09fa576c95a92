/**
 * Durations people give (`every`, `delay`, catch-up windows): `90s`, `15m`, `1h30m`, `1d`. Pure
 * and deterministic (no Node imports, no clock).
 */
import { quoted } from './names';
import { DAY, HOUR, MINUTE, SECOND } from './units';

/**
 * A cadence value (duration, cron expression, cadence) that is not what its field needs; the
 * message starts with the field (`delay: ...`).
 */
export class InvalidCadence extends Error {
  override readonly name = 'InvalidCadence';
}

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
export function parseDuration(
  value: string | number,
  field = 'duration',
  bounds: { min: number; max: number } = { min: 0, max: 366 * DAY },
): number {
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
    throw new InvalidCadence(
      `${field}: expected ${formatDuration(bounds.min)} to ${formatDuration(bounds.max)}, got ${formatDuration(ms)}`,
    );
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
