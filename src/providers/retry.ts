import { setTimeout as sleep } from 'node:timers/promises';
import { TransientError } from '../errors';

/**
 * How a caller wants one platform call retried in place: a listing page that makes dozens of
 * calls (Kore: one per session) must not start over from its cursor because one of them drew a
 * 429 from a quota other integrations share. `onWait` runs before and during every wait, so the
 * activity can heartbeat through a long Retry-After.
 */
export interface InPlaceRetry {
  /** Tries per call, the first included. */
  tries: number;
  /** Longest wait between two tries; a longer Retry-After is cut to this. */
  maxWaitMs: number;
  onWait?: (waitMs: number, reason: string) => void;
  signal?: AbortSignal;
}

const FIRST_BACKOFF_MS = 1_000;
/** A wait is cut into slices of this, each announced through onWait (the heartbeat). */
const WAIT_SLICE_MS = 5_000;

/**
 * Runs `call`, and again after a TransientError (honouring its Retry-After, else backing off
 * 1 s, 2 s, 4 s ...) until it succeeds or `policy.tries` are spent; the last error is thrown.
 * Without a policy the call runs once: callers that retry elsewhere keep their own semantics.
 */
export async function retryTransient<T>(call: () => Promise<T>, policy: InPlaceRetry | undefined): Promise<T> {
  const tries = Math.max(1, policy?.tries ?? 1);
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof TransientError) || attempt >= tries || !policy) throw err;
      const backoff = FIRST_BACKOFF_MS * 2 ** (attempt - 1);
      const waitMs = Math.min(policy.maxWaitMs, err.retryAfterMs ?? backoff);
      await waitAnnounced(waitMs, err.message, policy);
    }
  }
}

async function waitAnnounced(waitMs: number, reason: string, policy: InPlaceRetry): Promise<void> {
  for (let left = waitMs; left > 0; left -= WAIT_SLICE_MS) {
    policy.onWait?.(left, reason);
    await sleep(Math.min(left, WAIT_SLICE_MS), undefined, { signal: policy.signal });
  }
}
