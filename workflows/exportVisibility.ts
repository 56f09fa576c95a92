import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { patched, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { exportCurrentDetails } from '../src/contracts/exportDescription';
import type { FailureSummary } from '../src/contracts/exportFailures';
import type { ValidExportInput } from '../src/contracts/exportInput';
import type { ExportProgress } from '../src/contracts/exportResult';
import { EXPORT_SEARCH_ATTRIBUTES as SA, type ExportStateName } from '../src/contracts/searchAttributes';

/**
 * The failed count is upserted at most this often while an export runs (and always at its end):
 * each upsert is a history event, and an export with a failure every second must not fill its
 * history with them. A count that waits is shown by the next change after its interval (a batch
 * settling, a timer of a waiting file), not by a timer of its own, which would add events too.
 */
export const FAILED_COUNT_INTERVAL_MS = 60_000;

/**
 * What the Temporal UI shows of a running export: its search attributes (connection, provider,
 * trigger, window start, state, failed count; the workflow list filters on them) and its current
 * details. Attributes change only when their value does, the failed count at a bounded frequency;
 * current details are workflow state answered by a query, not history.
 */
export class ExportVisibility {
  private readonly on: boolean;
  private lastUpsertAt = Number.NEGATIVE_INFINITY;
  private failedShown: number | undefined;

  constructor(input: ValidExportInput, provider: string, failed: number) {
    // The patch that brought search attributes (README, "Changing workflow code"): histories
    // recorded before it have no upsert commands, and replay without them.
    this.on = patched('export-search-attributes');
    if (!this.on) return;
    this.failedShown = failed;
    this.upsert([
      { key: SA.connection, value: input.connection },
      { key: SA.provider, value: provider },
      { key: SA.trigger, value: input.trigger.kind },
      { key: SA.windowStart, value: new Date(input.from) },
      { key: SA.state, value: 'running' },
      { key: SA.failedCount, value: failed },
    ]);
  }

  /** Called as the export goes: the failed count when its interval allows, and the current details. */
  update(
    state: ExportStateName | 'starting',
    progress: Omit<ExportProgress, 'state' | 'connection' | 'window'>,
    failures: FailureSummary,
  ): void {
    setCurrentDetails(exportCurrentDetails(state, progress, failures));
    if (this.on && progress.failed !== this.failedShown && Date.now() - this.lastUpsertAt >= FAILED_COUNT_INTERVAL_MS)
      this.showFailed(progress.failed);
  }

  /** The export ended: its last state and failed count, whatever the interval. */
  finish(state: ExportStateName, progress: Omit<ExportProgress, 'state' | 'connection' | 'window'>, failures: FailureSummary): void {
    setCurrentDetails(exportCurrentDetails(state, progress, failures));
    if (!this.on) return;
    this.failedShown = progress.failed;
    this.upsert([
      { key: SA.state, value: state },
      { key: SA.failedCount, value: progress.failed },
    ]);
  }

  private showFailed(failed: number): void {
    this.failedShown = failed;
    this.upsert([{ key: SA.failedCount, value: failed }]);
  }

  /** Upserts what differs from the run's attributes (a run that continued as new inherits them). */
  private upsert(pairs: SearchAttributeUpdatePair[]): void {
    const current = workflowInfo().typedSearchAttributes;
    const changed = pairs.filter((p) => !same(current.get(p.key), p.value));
    this.lastUpsertAt = Date.now();
    if (changed.length > 0) upsertSearchAttributes(changed);
  }
}

function same(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return a === b;
}
