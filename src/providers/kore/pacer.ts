import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Spaces the Kore API calls one provider makes in this process. Kore counts requests per bot
 * (60/minute, 1,800/hour), while the server-side task queue limit counts activities, and one
 * listing activity makes dozens of calls (one per session): without spacing, a single page would
 * spend a minute's budget in a burst and draw 429s.
 */
export class RequestPacer {
  private nextAt = 0;

  constructor(private readonly intervalMs: number) {}

  /** Resolves when the caller may send its request; callers are served in arrival order. */
  async wait(signal?: AbortSignal): Promise<void> {
    if (this.intervalMs <= 0) return;
    const now = Date.now();
    const at = Math.max(now, this.nextAt);
    this.nextAt = at + this.intervalMs;
    if (at > now) await sleep(at - now, undefined, { signal });
  }
}
