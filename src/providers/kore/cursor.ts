import { ConfigurationError } from '../../errors';
import type { Window } from '../../contracts/window';

/**
 * How a listing walks a window: Kore's getSessions refuses a date range of 7 days or more, so the
 * window is cut into ranges, each paged with `skip`; the cursor says where the next page starts.
 */

const HOUR_MS = 3600 * 1000;
/** Each range owns 6 days of session start times. */
export const RANGE_MS = 6 * 24 * HOUR_MS;
/**
 * Each query reaches one hour beyond its range on both sides (6 d 2 h, still under 7 days), and the
 * listing keeps only the sessions whose start time the range owns. Which timestamp getSessions
 * filters on, and whether its bounds are inclusive, is not documented; the margin means a session
 * is found whichever it is (for calls under an hour), and ownership means it is listed once.
 */
export const QUERY_MARGIN_MS = HOUR_MS;

export interface SessionRange {
  /** Owned start times: [from, to) in epoch milliseconds. */
  from: number;
  to: number;
}

export function sessionRanges(window: Window): SessionRange[] {
  const from = Date.parse(window.from);
  const to = Date.parse(window.to);
  if (Number.isNaN(from) || Number.isNaN(to)) throw new ConfigurationError(`invalid export window ${window.from} .. ${window.to}`);
  const ranges: SessionRange[] = [];
  for (let start = from; start < to; start += RANGE_MS) ranges.push({ from: start, to: Math.min(to, start + RANGE_MS) });
  return ranges;
}

/** The getSessions dates for a range: the range widened by the margin. */
export function queryDates(range: SessionRange): { dateFrom: string; dateTo: string } {
  return { dateFrom: new Date(range.from - QUERY_MARGIN_MS).toISOString(), dateTo: new Date(range.to + QUERY_MARGIN_MS).toISOString() };
}

/** Where the next listing call starts: which range, which getSessions page, which session on it. */
export interface KoreCursor {
  range: number;
  skip: number;
  /** Index of the next session to look at within the page fetched at `skip`. */
  position: number;
}

const PREFIX = 'kore1.';

export function encodeCursor(cursor: KoreCursor): string {
  return PREFIX + Buffer.from(`${cursor.range}.${cursor.skip}.${cursor.position}`).toString('base64url');
}

export function decodeCursor(value: string | null): KoreCursor {
  if (value === null) return { range: 0, skip: 0, position: 0 };
  const parts = value.startsWith(PREFIX)
    ? /^(\d{1,6})\.(\d{1,9})\.(\d{1,4})$/.exec(Buffer.from(value.slice(PREFIX.length), 'base64url').toString())
    : null;
  if (!parts) throw new ConfigurationError(`not a Kore listing cursor: ${value.slice(0, 40)}`);
  return { range: Number(parts[1]), skip: Number(parts[2]), position: Number(parts[3]) };
}
