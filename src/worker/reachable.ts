import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../contracts/failures';
import { ConfigurationError } from '../errors';

/** Network failures that mean "not there yet" (a restart, a deploy), as opposed to a wrong setting. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EPIPE',
  '57P03',
]);
const UNREACHABLE_TEXT =
  /ECONNREFUSED|ECONNRESET|connection refused|transport error|Connection terminated|the database system is (starting up|shutting down)|timeout expired|socket hang up/i;

/** Whether `err` says the server is away (worth waiting for) rather than that we asked it wrong. */
export function isUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; $metadata?: { httpStatusCode?: number }; message?: unknown; cause?: unknown } | null;
  if (!e) return false;
  // A wrong setting, whatever words its message quotes (a refused TLS handshake is a "transport error" too).
  if (err instanceof ConfigurationError) return false;
  if (typeof e.code === 'string' && (UNREACHABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  if ((e.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  if (typeof e.message === 'string' && UNREACHABLE_TEXT.test(e.message)) return true;
  if (err instanceof AggregateError) return err.errors.some(isUnreachable);
  return e.cause !== undefined && e.cause !== err ? isUnreachable(e.cause) : false;
}

const FIRST_WAIT_MS = 500;
const MAX_WAIT_MS = 10_000;
const REMIND_EVERY_MS = 5 * 60_000;

/**
 * Runs `attempt` until the server it needs answers: a worker started while Postgres, the store or
 * Temporal is down waits for it, says so once (and every five minutes after), and serves once it
 * is back. An error that is not about reachability (bad credentials, a wrong bucket) is thrown.
 */
export async function whenReachable<T>(what: string, attempt: () => Promise<T>, say: (line: string) => void): Promise<T> {
  let waitMs = FIRST_WAIT_MS;
  let toldAt: number | null = null;
  for (;;) {
    try {
      const value = await attempt();
      if (toldAt !== null) say(`callvault worker: ${what} is back`);
      return value;
    } catch (err) {
      if (!isUnreachable(err)) throw err;
      if (toldAt === null || Date.now() - toldAt >= REMIND_EVERY_MS) {
        say(`callvault worker: waiting for ${what} (${errorMessage(err)}); the worker starts serving once it answers`);
        toldAt = Date.now();
      }
      await sleep(waitMs);
      waitMs = Math.min(MAX_WAIT_MS, waitMs * 2);
    }
  }
}
