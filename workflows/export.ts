import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, ItemResult, ListPageResult } from '../activities';
import type { SourceItem } from '../src/providers/types';
import { FATAL_FAILURE_TYPES, progressQuery, type CarriedState, type DeferredItem, type ExportCounters, type ExportProgress, type ExportResult } from './contracts';
import { InvalidExportInput, exportWorkflowId, parseExportInput, type ExportInput } from './input';

const control = proxyActivities<Pick<Activities, 'describeConnection' | 'beginExport' | 'finishExport' | 'recordFailures'>>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: FATAL_FAILURE_TYPES },
});

/**
 * Exports every file of one connection's window. The workflow only orchestrates: it pages through
 * the listing, keeps a bounded number of transfer batches in flight, waits durably for files that
 * are not ready, and continues as new when the history grows, carrying only a cursor and counters.
 * It never learns which platform it drives: the connection's task queues route the work.
 */
export async function exportWorkflow(rawInput: ExportInput, carried?: CarriedState): Promise<ExportResult> {
  let input: ReturnType<typeof parseExportInput>;
  try {
    input = parseExportInput(rawInput);
  } catch (err) {
    if (err instanceof InvalidExportInput) throw ApplicationFailure.nonRetryable(err.message, 'InvalidInput');
    throw err;
  }
  const { connection, options } = input;
  const window = { from: input.from, to: input.to };
  // The id is the lock that makes duplicate triggers (UI, schedule, sweep) attach to one export.
  const canonicalId = exportWorkflowId(input);
  if (workflowInfo().workflowId !== canonicalId) {
    throw ApplicationFailure.nonRetryable(
      `workflow id: use '${canonicalId}' for this connection and window (got '${workflowInfo().workflowId}'), so that every trigger of the same window attaches to one export`,
      'InvalidInput',
    );
  }

  const counters: ExportCounters = carried?.counters ?? { listed: 0, transferred: 0, skipped: 0, failed: 0, bytes: 0 };
  const queue: SourceItem[] = carried?.queue ?? [];
  const deferred: DeferredItem[] = carried?.deferred ?? [];
  /** When each waiting file was first reported not ready, so the wait is bounded across retries. */
  const notReadySince: Record<string, number> = carried?.notReadySince ?? {};
  let cursor = carried?.cursor ?? null;
  let listingDone = carried?.listingDone ?? false;
  let pagesListed = carried?.pagesListed ?? 0;
  const generation = carried?.generation ?? 0;
  let state: ExportProgress['state'] = 'starting';
  let inFlight = 0;
  let listing = false;
  let fatal: Error | undefined;
  let changes = 0;

  setHandler(progressQuery, () => ({
    ...counters,
    state,
    connection,
    window,
    waiting: deferred.length,
    inFlight,
    pagesListed,
    listingDone,
    generation,
  }));

  const plan = await control.describeConnection({ connection }).catch((err: unknown) => {
    // The worker's message already names the field ("connection: unknown connection ...").
    throw ApplicationFailure.nonRetryable(causeMessage(err), 'InvalidInput');
  });
  if (!carried) await control.beginExport({ connection, provider: plan.provider, window, trigger: input.trigger });
  state = 'running';

  const lister = proxyActivities<Pick<Activities, 'listPage'>>({
    taskQueue: plan.listTaskQueue,
    startToCloseTimeout: '10 minutes',
    retry: { initialInterval: '2 seconds', maximumInterval: '5 minutes', maximumAttempts: 20, nonRetryableErrorTypes: FATAL_FAILURE_TYPES },
  });
  const transferrer = proxyActivities<Pick<Activities, 'transferBatch'>>({
    taskQueue: plan.transferTaskQueue,
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: options.heartbeatTimeoutSeconds * 1000,
    // Eager dispatch would bypass the task queue's server-side rate limit.
    allowEagerDispatch: false,
    retry: {
      initialInterval: '2 seconds',
      maximumInterval: options.maxRetryIntervalSeconds * 1000,
      maximumAttempts: options.maxAttempts,
      nonRetryableErrorTypes: FATAL_FAILURE_TYPES,
    },
  });

  const changed = () => changes++;

  function applyResults(items: SourceItem[], results: ItemResult[]): void {
    const bySource = new Map(items.map((i) => [i.sourceId, i]));
    for (const r of results) {
      if (r.outcome !== 'not_ready') delete notReadySince[r.sourceId];
      if (r.outcome === 'stored') {
        counters.transferred++;
        counters.bytes += r.bytes;
        if (r.discovered) {
          counters.listed += r.discovered.length;
          queue.push(...r.discovered);
        }
      } else if (r.outcome === 'already_stored') counters.skipped++;
      else if (r.outcome === 'unavailable') counters.failed++;
      else {
        const item = bySource.get(r.sourceId);
        if (item) defer(item, r.reason, r.retryAfterSeconds);
      }
    }
  }

  function defer(item: SourceItem, reason: string, retryAfterSeconds: number): void {
    const now = Date.now();
    const firstSeenAt = (notReadySince[item.sourceId] ??= now);
    deferred.push({ item, reason, firstSeenAt, readyAt: now + Math.max(1, retryAfterSeconds) * 1000 });
  }

  async function giveUp(items: SourceItem[], code: 'gave_up' | 'not_ready_timeout', reason: string): Promise<void> {
    const res = await control.recordFailures({ connection, items, code, reason });
    counters.failed += res.recorded;
    counters.transferred += res.storedByThisExport;
    counters.bytes += res.bytes;
  }

  function launchBatch(items: SourceItem[]): void {
    inFlight++;
    transferrer
      .transferBatch({ connection, items })
      .then((results) => applyResults(items, results))
      .catch(async (err: unknown) => {
        if (isFatal(err)) fatal ??= asError(err);
        else await giveUp(items, 'gave_up', `gave up after ${options.maxAttempts} attempts: ${causeMessage(err)}`);
      })
      .catch((err: unknown) => (fatal ??= asError(err)))
      .finally(() => {
        inFlight--;
        changed();
      });
  }

  function launchListing(): void {
    listing = true;
    lister
      .listPage({ connection, window, cursor })
      .then((page: ListPageResult) => {
        pagesListed++;
        counters.listed += page.items.length + page.alreadyStored;
        counters.skipped += page.alreadyStored;
        queue.push(...page.items);
        cursor = page.nextCursor;
        listingDone = page.nextCursor === null;
      })
      .catch((err: unknown) => (fatal ??= asError(err)))
      .finally(() => {
        listing = false;
        changed();
      });
  }

  async function promoteDeferred(): Promise<void> {
    const now = Date.now();
    const maxWaitMs = options.notReadyMaxWaitHours * 3600 * 1000;
    const due = deferred.filter((d) => d.readyAt <= now);
    if (due.length === 0) return;
    for (const d of due) deferred.splice(deferred.indexOf(d), 1);
    const expired = due.filter((d) => now - d.firstSeenAt >= maxWaitMs);
    for (const d of due) if (!expired.includes(d)) queue.push(d.item);
    if (expired.length > 0) {
      for (const d of expired) delete notReadySince[d.item.sourceId];
      await giveUp(
        expired.map((d) => d.item),
        'not_ready_timeout',
        `still not ready after ${options.notReadyMaxWaitHours} h: ${expired[0]!.reason}`,
      );
    }
  }

  const perBatch = plan.batchSize;
  for (;;) {
    if (fatal) break;
    await promoteDeferred();
    const draining = workflowInfo().continueAsNewSuggested;
    if (!draining) {
      while (inFlight < options.maxInFlight && queue.length > 0) {
        // A short queue is spread over the free slots: four 1 GiB files make four transfers, not one batch.
        const free = options.maxInFlight - inFlight;
        launchBatch(queue.splice(0, Math.max(1, Math.min(perBatch, Math.ceil(queue.length / free)))));
      }
      if (!listing && !listingDone && queue.length < options.maxInFlight * perBatch) launchListing();
    } else if (inFlight === 0 && !listing) {
      log.info('continuing as new to keep history small', { generation, pagesListed });
      await continueAsNew<typeof exportWorkflow>(rawInput, {
        counters,
        cursor,
        listingDone,
        pagesListed,
        queue,
        deferred,
        notReadySince,
        generation: generation + 1,
      });
    }
    if (listingDone && !listing && queue.length === 0 && inFlight === 0 && deferred.length === 0) break;
    const seen = changes;
    const nextDue = deferred.length > 0 ? Math.min(...deferred.map((d) => d.readyAt)) - Date.now() : undefined;
    await condition(() => changes !== seen || fatal !== undefined, nextDue !== undefined ? Math.max(nextDue, 1) : undefined);
  }

  if (fatal) {
    state = 'failed';
    const message = causeMessage(fatal);
    await control.finishExport({ outcome: 'failed', counters, error: message });
    throw ApplicationFailure.nonRetryable(message, failureType(fatal) ?? 'ExportFailed');
  }
  state = 'completed';
  await control.finishExport({ outcome: 'completed', counters });
  return { workflowId: workflowInfo().workflowId, connection, window, pagesListed, generation, ...counters };
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** What an activity really failed with: "Activity task failed" tells an operator nothing. */
function innermost(err: unknown): unknown {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  return e;
}

function causeMessage(err: unknown): string {
  const e = innermost(err);
  return e instanceof Error ? e.message : String(e);
}

function failureType(err: unknown): string | undefined {
  const e = innermost(err);
  return e instanceof ApplicationFailure ? (e.type ?? undefined) : undefined;
}

function isFatal(err: unknown): boolean {
  const type = failureType(err);
  return type !== undefined && FATAL_FAILURE_TYPES.includes(type);
}
