import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Spaces the API calls one provider makes in this process. Platforms count requests (Kore per bot,
 * 60/minute and 1,800/hour; Bird per workspace, 50 GET/s), while the server-side task queue limit
 * counts activities, and one activity makes many calls: a Kore listing one per session, a Bird
 * transfer batch one per file. Without spacing, an activity spends the budget in a burst and draws
 * 429s, and every file that draws one goes back to the workflow to wait its turn again.
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
