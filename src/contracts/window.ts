/**
 * The one shape of a time window, `[from, to)`, as it crosses workflow history, and the interval
 * arithmetic the retention sweep does on windows. Pure and deterministic (no Node imports, no clock).
 */
import { DAY } from './units';

export interface Window {
  /** Inclusive start, ISO-8601 UTC (`Date.toISOString()`). */
  from: string;
  /** Exclusive end, ISO-8601 UTC. */
  to: string;
}

/** An instant (ms since the epoch) in the form windows carry. */
export function toIso(ms: number): string {
  return new Date(ms).toISOString();
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
