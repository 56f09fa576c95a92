/**
 * Schedule cadences and the windows their runs export, shared by the schedule workflow, the client
 * and the CLI. Pure
 * and deterministic (no Node imports, no clock): the workflow bundle runs it to derive the window
 * of a scheduled run from its scheduled time, and the client runs the same code to say in advance
 * which windows a schedule or a backfill will export.
 *
 * The rule for schedules: a run fired at time T exports the window between the previous fire time
 * and T, shifted back by the schedule's `delay`: [prev(T) - delay, T - delay). Consecutive fire
 * times therefore give windows that touch: no gap, no overlap, whatever the cadence.
 */
import { cronFireAfter, cronFireAtOrBefore, parseCron, type Cron } from './cron';
import { DELAY_BOUNDS, EVERY_BOUNDS, InvalidCadence, parseDuration } from './durations';
import { toIso, type Window } from './window';

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
