import { z } from 'zod';
import { TransientError } from '../../errors';

/**
 * The shapes of Kore's answers, as far as callvault reads them. Schemas are loose: Kore sends more
 * fields, and where the documentation is vague (timestamps, key spellings) both readings pass.
 */

export interface KoreSession {
  sessionId: string;
  channel: string;
  /** Session start in epoch milliseconds. */
  startedAt: number;
}

const sessionSchema = z.looseObject({
  sessionId: z.string().min(1).max(200).optional(),
  _id: z.string().min(1).max(200).optional(),
  channel: z.string().max(100).optional(),
  start_time: z.union([z.string(), z.number()]).optional(),
  end_time: z.union([z.string(), z.number()]).nullish(),
});

const sessionsPageSchema = z.looseObject({
  total: z.number().optional(),
  moreAvailable: z.boolean().optional(),
  sessions: z.array(z.unknown()).nullish(),
});

export interface SessionsPage {
  sessions: KoreSession[];
  /** How many sessions the page held (voice or not): `skip` advances by this. */
  received: number;
  moreAvailable: boolean;
}

export function parseSessionsPage(raw: unknown, limit: number, what: string): SessionsPage {
  const page = sessionsPageSchema.safeParse(raw);
  if (!page.success) throw new TransientError(`${what}: unexpected response shape (${page.error.issues[0]?.message})`);
  const list = page.data.sessions ?? [];
  const sessions = list.map((item, index) => {
    const s = sessionSchema.safeParse(item);
    const sessionId = s.success ? (s.data.sessionId ?? s.data._id) : undefined;
    if (!s.success || !sessionId) throw new TransientError(`${what}: sessions[${index}] has no usable sessionId`);
    // start_time dates the object key; end_time stands in when a session lacks it.
    const startedAt = parseKoreTime(s.data.start_time) ?? parseKoreTime(s.data.end_time);
    if (startedAt === null) throw new TransientError(`${what}: session ${sessionId} has no usable start_time`);
    return { sessionId, channel: s.data.channel ?? '', startedAt };
  });
  // Without the flag, a full page is the only hint that more may follow.
  const moreAvailable = page.data.moreAvailable ?? list.length >= limit;
  return { sessions, received: list.length, moreAvailable: moreAvailable && list.length > 0 };
}

/** ISO-8601 strings, or epoch numbers in seconds or milliseconds (the docs show both styles). */
export function parseKoreTime(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined || value === '') return null;
  const numeric = typeof value === 'number' ? value : /^\d+(\.\d+)?$/.test(value) ? Number(value) : null;
  if (numeric !== null) return numeric < 1e11 ? Math.round(numeric * 1000) : Math.round(numeric);
  const parsed = Date.parse(value as string);
  return Number.isNaN(parsed) ? null : parsed;
}

export interface MediaEntry {
  fileName?: string;
  fileUrl?: string;
}

/** A v2 recordings or voicemail answer: a status and the session's files, in Kore's order. */
export interface MediaList {
  status: string | null;
  entries: MediaEntry[];
}

const entrySchema = z.looseObject({ fileName: z.string().max(1000).optional(), fileUrl: z.string().max(8192).optional() });

const mediaListSchema = z.looseObject({
  status: z.string().max(100).optional(),
  recording: z.array(z.unknown()).nullish(),
  // The docs spell the voicemail key both ways.
  'voicemail recording': z.array(z.unknown()).nullish(),
  voicemail_recording: z.array(z.unknown()).nullish(),
});

export function parseMediaList(raw: unknown, kind: 'recording' | 'voicemail', what: string): MediaList {
  const parsed = mediaListSchema.safeParse(raw);
  if (!parsed.success) throw new TransientError(`${what}: unexpected response shape (${parsed.error.issues[0]?.message})`);
  const list = kind === 'recording' ? parsed.data.recording : (parsed.data.voicemail_recording ?? parsed.data['voicemail recording']);
  const entries = (list ?? []).map((item) => {
    // A malformed entry keeps its place (indexes must not shift); its download reports it.
    const entry = entrySchema.safeParse(item);
    return entry.success ? { fileName: entry.data.fileName, fileUrl: entry.data.fileUrl } : {};
  });
  return { status: parsed.data.status ?? null, entries };
}

export type StatusClass = 'ready' | 'not_ready' | 'final' | 'unknown';

const NOT_READY = new Set(['call_in_progress', 'media_in_progress']);
const FINAL = new Set(['failed', 'media_unavailable']);

/** `success` (or no status at all, with files) is ready; the documented waits and ends; anything else unknown. */
export function classifyStatus(status: string | null): StatusClass {
  if (status === null) return 'ready';
  const s = status.toLowerCase();
  if (s === 'success') return 'ready';
  if (NOT_READY.has(s)) return 'not_ready';
  if (FINAL.has(s)) return 'final';
  return 'unknown';
}

/**
 * How long to wait before looking again: a call in progress lasts minutes, media processing less.
 * `mediaSeconds` is the wait for `media_in_progress` (the connection's `notReadyRetrySeconds`,
 * 60 s by default); a call in progress, or a status callvault does not know, waits five times that.
 */
export function retryAfterSeconds(status: string | null, mediaSeconds = 60): number {
  return status?.toLowerCase() === 'media_in_progress' ? mediaSeconds : Math.min(mediaSeconds * 5, 86_400);
}
