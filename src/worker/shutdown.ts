import type { Logger, Worker } from '@temporalio/worker';

const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * A graceful stop. On SIGTERM (or Ctrl-C) the worker stops polling, and running transfers finish
 * the part (or small file) they are on, checkpoint it and hand the rest back (`draining`), so
 * another worker resumes with nothing fetched twice but what sat in socket buffers. Whatever still
 * runs after the grace period is cancelled by the SDK (`shutdownGraceTime`). A second signal
 * stops at once: what was in flight resumes from its last checkpoint, as after a crash.
 */
export class GracefulShutdown {
  private readonly controller = new AbortController();
  private workers: readonly Worker[] = [];
  private readonly onSignal = (signal: NodeJS.Signals) => this.request(signal);

  constructor(
    private readonly log: Logger,
    readonly graceMs: number,
    /** Before any worker runs there is nothing to finish: leave at once. */
    private readonly exitNow: (code: number) => void = (code) => process.exit(code),
  ) {}

  /** Aborted once a stop is asked for: what the activities watch (ActivityDeps.draining). */
  get draining(): AbortSignal {
    return this.controller.signal;
  }

  get requested(): boolean {
    return this.controller.signal.aborted;
  }

  listen(): void {
    for (const s of SIGNALS) process.on(s, this.onSignal);
  }

  /** The workers to stop from now on. */
  serving(workers: readonly Worker[]): void {
    this.workers = workers;
  }

  request(signal: NodeJS.Signals | 'request'): void {
    if (this.requested) {
      this.log.warn(`second ${signal}: stopping now; transfers in flight resume elsewhere from their last checkpoint`);
      this.exitNow(1);
      return;
    }
    this.controller.abort();
    const running = this.workers.filter((w) => w.getState() === 'RUNNING');
    if (running.length === 0) {
      this.log.info(`${signal}: stopping (no worker was running yet)`);
      this.exitNow(0);
      return;
    }
    this.log.info(
      `${signal}: stopping; no new tasks, running transfers finish the part they are on (up to ${this.graceMs / 1000} s), then hand the rest back`,
      {
        graceSeconds: this.graceMs / 1000,
      },
    );
    for (const w of running) w.shutdown();
  }

  close(): void {
    for (const s of SIGNALS) process.off(s, this.onSignal);
  }
}
