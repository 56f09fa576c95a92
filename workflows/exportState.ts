import { RECENTLY_LISTED, type ExportSnapshot, type FileTask, type WaitingTask } from '../src/contracts/carried';
import type { ExportCounters } from '../src/contracts/exportResult';
import { FailureSample, type FailureSummary } from '../src/contracts/exportFailures';
import type { ListPageResult } from '../src/contracts/listing';
import type { SourceItem } from '../src/contracts/sourceItem';
import type { GivenUp, GivenUpRecorded, ItemResult } from '../src/contracts/transfer';

export interface RetryRules {
  /** Tries per file; then it is given up with its own last error. */
  maxTries: number;
  firstRetryMs: number;
  maxRetryMs: number;
  /** How long a file may stay "not ready" before it is given up. */
  notReadyMaxWaitMs: number;
}

/** The longest a file waits between two tries, whatever a Retry-After asks. */
const MAX_RETRY_DELAY_MS = 60 * 60 * 1000;
/** Files waiting for the platform ("not ready") the export holds at most before it stops listing ahead. */
export const MAX_NOT_READY_HELD = 2_000;

/**
 * The export's bookkeeping of files, as a pure state machine the workflow loop drives: what to
 * list and transfer next, and what each result or failure means for each file. A file's fate is
 * its own: a batch is a throughput device, each file keeps its own tries, backoff and last error,
 * and is given up only when its own tries are spent. Time comes in as arguments (workflow time),
 * so the class runs the same in the workflow sandbox and in unit tests.
 */
export class ExportState {
  readonly counters: ExportCounters;
  cursor: string | null;
  listingDone: boolean;
  pagesListed: number;
  readonly generation: number;
  private readonly queue: FileTask[];
  private readonly waiting: WaitingTask[];
  private readonly recent: string[];
  /** The failed files per code, with a bounded sample of each: what the result and the `failures` query show. */
  private readonly failed: FailureSample;
  /** Files queued, waiting or in flight: a listing that names one again does not queue it twice. */
  private readonly active = new Set<string>();
  private batchesInFlight = 0;

  constructor(
    private readonly rules: RetryRules,
    snapshot?: ExportSnapshot,
  ) {
    this.counters = snapshot ? { ...snapshot.counters } : { listed: 0, transferred: 0, skipped: 0, failed: 0, bytes: 0 };
    this.cursor = snapshot?.cursor ?? null;
    this.listingDone = snapshot?.listingDone ?? false;
    this.pagesListed = snapshot?.pagesListed ?? 0;
    this.generation = snapshot ? snapshot.generation + 1 : 0;
    this.queue = snapshot ? [...snapshot.queue] : [];
    this.waiting = snapshot ? [...snapshot.waiting] : [];
    this.recent = snapshot ? [...snapshot.recentlyListed] : [];
    this.failed = new FailureSample(snapshot?.failures);
    for (const t of [...this.queue, ...this.waiting.map((w) => w.task)]) this.active.add(t.item.sourceId);
  }

  get inFlight(): number {
    return this.batchesInFlight;
  }

  get waitingCount(): { notReady: number; retrying: number } {
    const notReady = this.waiting.filter((w) => w.why === 'not_ready').length;
    return { notReady, retrying: this.waiting.length - notReady };
  }

  get done(): boolean {
    return this.listingDone && this.queue.length === 0 && this.waiting.length === 0 && this.batchesInFlight === 0;
  }

  /**
   * Whether to list another page: more to list, fewer than `lookAhead` files queued or waiting for
   * a retry, and not too many waiting for the platform (they ride in continue-as-new's payload; past
   * MAX_NOT_READY_HELD the listing pauses until some are ready or given up).
   */
  wantsPage(lookAhead: number): boolean {
    const { notReady, retrying } = this.waitingCount;
    return !this.listingDone && this.queue.length + retrying < lookAhead && notReady < MAX_NOT_READY_HELD;
  }

  pageListed(page: ListPageResult): void {
    this.pagesListed++;
    for (const id of page.alreadyStored) {
      if (!this.remember(id)) continue;
      this.counters.listed++;
      this.counters.skipped++;
    }
    for (const item of page.items) if (this.remember(item.sourceId)) this.admit(item);
    this.cursor = page.nextCursor;
    this.listingDone = page.nextCursor === null;
  }

  /**
   * The next batch: a file that must run alone by itself, else up to `perBatch` files, fewer when
   * the queue is short so it spreads over the free slots (four 1 GiB files make four transfers).
   *
   * With `fullWhileListing` (the transfer queue's rate limit counts activity starts, and they are
   * what bounds the files per second), a short queue is not spread while the listing will add to
   * it: a batch waits to be full, unless nothing is in flight. Spread, the first page's files went
   * out in batches of 13 at 1.25 starts a second: 16 files/s for the first 10 s against a pace of 40.
   */
  nextBatch(perBatch: number, freeSlots: number, fullWhileListing = false): FileTask[] | null {
    const first = this.queue[0];
    if (!first || freeSlots <= 0) return null;
    let size = 1;
    if (!first.alone) {
      const filling = fullWhileListing && !this.listingDone;
      const want = filling ? perBatch : Math.max(1, Math.min(perBatch, Math.ceil(this.queue.length / freeSlots)));
      while (size < want && size < this.queue.length && !this.queue[size]!.alone) size++;
      if (filling && size < want && size === this.queue.length && this.batchesInFlight > 0) return null;
    }
    this.batchesInFlight++;
    return this.queue.splice(0, size);
  }

  /** A batch's results, file by file. Returns the files to give up (their tries are spent). */
  batchSettled(batch: readonly FileTask[], results: readonly ItemResult[], now: number): GivenUp[] {
    this.batchesInFlight--;
    const bySource = new Map(results.map((r) => [r.sourceId, r]));
    const givenUp: GivenUp[] = [];
    for (const task of batch) {
      const result = bySource.get(task.item.sourceId) ?? {
        sourceId: task.item.sourceId,
        outcome: 'retry' as const,
        reason: 'the transfer returned no result for this file',
      };
      const gaveUp = this.settle(task, result, now);
      if (gaveUp) givenUp.push(gaveUp);
    }
    return givenUp;
  }

  /**
   * A batch that failed as a whole, after its activity's own retries. Nobody's try is charged:
   * its files run again, each alone. A file that failed alone failed for its own reasons.
   */
  batchFailed(batch: readonly FileTask[], message: string, now: number): GivenUp[] {
    this.batchesInFlight--;
    if (batch.length > 1) {
      this.queue.unshift(...batch.map((t) => ({ ...t, alone: true })));
      return [];
    }
    const gaveUp = this.failedTry(batch[0]!, `transfer failed: ${message}`, undefined, now);
    return gaveUp ? [gaveUp] : [];
  }

  /** Moves the files whose time has come back to the queue; gives up those not ready for too long. */
  dueNow(now: number): GivenUp[] {
    const givenUp: GivenUp[] = [];
    for (let i = 0; i < this.waiting.length; ) {
      const w = this.waiting[i]!;
      if (w.readyAt > now) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      const waitedMs = w.task.notReadySince === undefined ? 0 : now - w.task.notReadySince;
      if (w.why === 'not_ready' && waitedMs >= this.rules.notReadyMaxWaitMs) {
        this.release(w.task);
        givenUp.push({
          item: w.task.item,
          code: 'not_ready_timeout',
          reason: `still not ready after ${hours(this.rules.notReadyMaxWaitMs)} h: ${w.reason}`,
        });
      } else this.queue.push(w.task);
    }
    return givenUp;
  }

  /** When the next waiting file is due (workflow time), if any waits. */
  nextWakeAt(): number | undefined {
    return this.waiting.length === 0 ? undefined : Math.min(...this.waiting.map((w) => w.readyAt));
  }

  /**
   * What recording the given-up files found: most were failed, a few had been stored after all.
   * `sent` stands in for the list of failed files when the activity's answer has none (older workers).
   */
  givenUpRecorded(res: GivenUpRecorded, sent: readonly GivenUp[]): void {
    this.counters.failed += res.recorded;
    this.counters.transferred += res.storedByThisExport;
    this.counters.bytes += res.bytes;
    const failed = res.failed ?? sent.slice(0, res.recorded).map((g) => ({ sourceId: g.item.sourceId, code: g.code, reason: g.reason }));
    for (const f of failed) this.failed.add(f.code, f.sourceId, f.reason);
  }

  /** The failed files so far: counts per code and a sample of each, with their reasons. */
  get failures(): FailureSummary {
    return this.failed.summary();
  }

  snapshot(): ExportSnapshot {
    return {
      counters: { ...this.counters },
      cursor: this.cursor,
      listingDone: this.listingDone,
      pagesListed: this.pagesListed,
      generation: this.generation,
      queue: [...this.queue],
      waiting: [...this.waiting],
      recentlyListed: [...this.recent],
      failures: this.failed.summary(),
    };
  }

  private settle(task: FileTask, result: ItemResult, now: number): GivenUp | undefined {
    switch (result.outcome) {
      case 'stored':
        this.counters.transferred++;
        this.counters.bytes += result.bytes;
        this.release(task);
        for (const item of result.discovered ?? []) if (this.remember(item.sourceId)) this.admit(item);
        this.counters.listed += result.discoveredStored ?? 0;
        this.counters.skipped += result.discoveredStored ?? 0;
        return undefined;
      case 'already_stored':
        this.counters.skipped++;
        this.release(task);
        return undefined;
      case 'unavailable':
        this.counters.failed++;
        this.failed.add(result.code ?? 'unavailable', task.item.sourceId, result.reason);
        this.release(task);
        return undefined;
      case 'not_ready':
        task.notReadySince ??= now;
        this.waiting.push({ task, why: 'not_ready', reason: result.reason, readyAt: now + Math.max(1, result.retryAfterSeconds) * 1000 });
        return undefined;
      case 'retry':
        return this.failedTry(task, result.reason, result.retryAfterSeconds, now);
    }
  }

  /** One failed try of one file: wait (Retry-After, else exponential backoff), or give it up. */
  private failedTry(task: FileTask, reason: string, retryAfterSeconds: number | undefined, now: number): GivenUp | undefined {
    task.tries++;
    task.lastError = reason;
    if (task.tries >= this.rules.maxTries) {
      this.release(task);
      return { item: task.item, code: 'gave_up', reason: `gave up after ${task.tries} tries: ${reason}` };
    }
    const backoff = Math.min(this.rules.maxRetryMs, this.rules.firstRetryMs * 2 ** (task.tries - 1));
    const delay = Math.min(MAX_RETRY_DELAY_MS, Math.max(backoff, (retryAfterSeconds ?? 0) * 1000));
    this.waiting.push({ task, why: 'retry', reason, readyAt: now + delay });
    return undefined;
  }

  private admit(item: SourceItem): void {
    if (this.active.has(item.sourceId)) return;
    this.active.add(item.sourceId);
    this.queue.push({ item, tries: 0 });
    this.counters.listed++;
  }

  private release(task: FileTask): void {
    this.active.delete(task.item.sourceId);
  }

  /** Notes a listed id; false when a recent page listed it already (it is counted). */
  private remember(sourceId: string): boolean {
    if (this.recent.includes(sourceId)) return false;
    this.recent.push(sourceId);
    if (this.recent.length > RECENTLY_LISTED) this.recent.splice(0, this.recent.length - RECENTLY_LISTED);
    return true;
  }
}

function hours(ms: number): number {
  return Math.round((ms / 3_600_000) * 100) / 100;
}
