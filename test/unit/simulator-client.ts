import { createHash } from 'node:crypto';
import { request } from 'undici';

/** One HTTP answer as a client sees it; `broken` when the connection failed or the body ended short. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  broken: boolean;
}

export async function send(
  url: string,
  init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  let status = 0;
  let headers: Answer['headers'] = {};
  try {
    const res = await request(url, { method: init.method ?? 'GET', headers: init.headers, body: init.body });
    status = res.statusCode;
    headers = res.headers;
    return { status, headers, body: Buffer.from(await res.body.arrayBuffer()), broken: false };
  } catch {
    return { status, headers, body: Buffer.alloc(0), broken: true };
  }
}

/**
 * What a client makes of an answer: 'ok', '429' (with Retry-After: 1), '500', '503', 'expired'
 * (403 from a signed URL), 'malformed-json' (when JSON was expected) or 'broken' (a reset or a
 * body shorter than its Content-Length: a client cannot tell them apart).
 */
export function outcome(a: Answer, json = false): string {
  if (a.broken) return 'broken';
  if (a.status === 429) return a.headers['retry-after'] === '1' ? '429' : '429 without Retry-After: 1';
  if (a.status >= 500) return String(a.status);
  if (a.status === 403) return 'expired';
  if (json && parsed(a) === undefined) return 'malformed-json';
  return 'ok';
}

export function parsed(a: Answer): unknown {
  try {
    return JSON.parse(a.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Tries `attempt` until it returns a value, at most `max` times (no waiting: the simulators need none). */
export async function retrying<T>(max: number, attempt: () => Promise<T | undefined>): Promise<{ value: T; tries: number }> {
  for (let tries = 1; tries <= max; tries++) {
    const value = await attempt();
    if (value !== undefined) return { value, tries };
  }
  throw new Error(`no success in ${max} tries`);
}
