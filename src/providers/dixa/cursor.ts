import { ConfigurationError } from '../../errors';

/**
 * Slices and cursors for Dixa's exports API, which has no paging: one request returns every
 * record of a window of at most 31 days as one array.
 *
 * A window is cut into slices of `windowDays`. Within a slice, pages are taken in the order of
 * the record key (created_at, id), not in the order of the array: each page re-requests the
 * slice from the cursor's time on, reads the whole answer as a stream, and keeps the ~300
 * smallest keys after the cursor. The cursor is therefore "slice + the key of the last record
 * emitted (+ how many of its files, when one record's files span pages)".
 *
 * Trade-off (chosen over "skip the first N records of the re-requested slice"): every page reads
 * the rest of the slice, so a slice with F files in N records costs ceil(F/300) requests (at ~10
 * per minute) and about N*F/600 records parsed; `windowDays` (default 1) keeps N small. In
 * return the cursor does not depend on the API returning the array in the same order twice
 * (unconfirmed), and a record added to the slice between pages can neither shift others out of
 * the listing nor be missed, unless it is older than the cursor. Records without files never
 * count towards a page. Keeping a parsed slice in the worker between pages would avoid the
 * re-reads, but is neither durable nor shared between workers.
 */

export const DAY_MS = 86_400_000;
/** The API's limit on a query's span. */
export const MAX_QUERY_SPAN_MS = 31 * DAY_MS;

export interface RecordKey {
  /** created_at, ms. */
  t: number;
  id: string;
}

export interface SliceCursor {
  /** Slice start (inclusive) and end (exclusive), ms. */
  s: number;
  e: number;
  /** The last record emitted from this slice, and how many of its items were emitted. */
  after?: RecordKey & { items: number };
}

const PREFIX = 'dx1.';

export function compareKeys(a: RecordKey, b: RecordKey): number {
  return a.t - b.t || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * Slice length in ms. The query asks from 1 ms before the slice (see `sliceQuery`), so a slice is
 * at most 31 days minus 1 ms and the query span never exceeds the API's 31 days.
 */
export function sliceLengthMs(windowDays: number): number {
  return Math.min(Math.max(1, Math.floor(windowDays)) * DAY_MS, MAX_QUERY_SPAN_MS - 1);
}

export function firstSlice(from: number, to: number, sliceMs: number): SliceCursor {
  return { s: from, e: Math.min(from + sliceMs, to) };
}

/** The slice after `cursor`'s, or null at the end of the window. */
export function nextSlice(cursor: SliceCursor, to: number, sliceMs: number): SliceCursor | null {
  return cursor.e >= to ? null : firstSlice(cursor.e, to, sliceMs);
}

/**
 * created_after/created_before for a page. Whether the API's bounds are inclusive is
 * unconfirmed, so the query covers [start - 1, end] and the caller keeps only [start, end):
 * correct under any reading, and a record on a slice boundary is listed exactly once.
 */
export function sliceQuery(cursor: SliceCursor): { createdAfter: number; createdBefore: number } {
  const start = Math.max(cursor.s, cursor.after?.t ?? cursor.s);
  return { createdAfter: start - 1, createdBefore: cursor.e };
}

export function encodeCursor(cursor: SliceCursor): string {
  const body: Record<string, unknown> = { s: cursor.s, e: cursor.e };
  if (cursor.after) body.a = [cursor.after.t, cursor.after.id, cursor.after.items];
  return PREFIX + Buffer.from(JSON.stringify(body)).toString('base64url');
}

/** Decodes a cursor and checks it belongs to this window; a foreign or damaged cursor is a caller bug. */
export function decodeCursor(text: string, from: number, to: number): SliceCursor {
  const bad = (why: string) => new ConfigurationError(`Dixa cursor is not valid for the window: ${why}`);
  if (!text.startsWith(PREFIX)) throw bad('unknown format');
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(text.slice(PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    throw bad('not decodable');
  }
  if (typeof body !== 'object' || body === null) throw bad('not decodable');
  const { s, e, a } = body as { s?: unknown; e?: unknown; a?: unknown };
  if (!isMs(s) || !isMs(e) || s < from || e > to || s >= e || e - s >= MAX_QUERY_SPAN_MS) throw bad('slice outside the window');
  if (a === undefined) return { s, e };
  if (!Array.isArray(a) || a.length !== 3) throw bad('damaged position');
  const [t, id, items] = a as unknown[];
  if (!isMs(t) || t < s || t >= e || typeof id !== 'string' || !isMs(items)) throw bad('damaged position');
  return { s, e, after: { t, id, items } };
}

function isMs(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
