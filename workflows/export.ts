import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  log,
  isCancellation,
  proxyActivities,
  setHandler,
  TemporalFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { InvalidCarriedState, parseCarriedState, type FileTask } from '../src/contracts/carried';
import {
  InvalidExportInput,
  exportWorkflowId,
  parseExportInput,
  type ExportInput,
  type ValidExportInput,
} from '../src/contracts/exportInput';
import { progressQuery, type ExportProgress, type ExportResult } from '../src/contracts/exportResult';
import { failuresQuery, outcomeOf } from '../src/contracts/exportFailures';
import type { ExportStateName } from '../src/contracts/searchAttributes';
import { DETERMINISTIC_FAILURE_TYPES, FATAL_FAILURE_TYPES, FailureType, errorMessage } from '../src/contracts/failures';
import type { ListPageResult } from '../src/contracts/listing';
import type { ConnectionPlan } from '../src/contracts/connectionPlan';
import type { GivenUp } from '../src/contracts/transfer';
import type { Window } from '../src/contracts/window';
import { ExportState, type RetryRules } from './exportState';
import { ExportVisibility } from './exportVisibility';

const NON_RETRYABLE = [...new Set([...FATAL_FAILURE_TYPES, ...DETERMINISTIC_FAILURE_TYPES])];

const control = proxyActivities<
  Pick<Activities, 'describeConnection' | 'beginExport' | 'finishExport' | 'recordFailures' | 'recordFailedStart'>
>({
  // Short database calls: a result lost to a Temporal restart is retried after this.
  startToCloseTimeout: '30 seconds',
  // About 10 minutes of Postgres being away, then the export fails (and says why) rather than waiting for ever.
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 25, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** Files listed ahead of the transfers at most: bounds what continue-as-new carries. */
const LIST_AHEAD_MAX = 1_000;
/** A file's first retry waits this long; each further one twice as long, up to maxRetryIntervalSeconds. */
const FIRST_RETRY_MS = 2_000;

/**
 * Exports every file of one connection's window. The workflow only orchestrates: it pages through
 * the listing, keeps a bounded number of transfer batches in flight, gives each file its own tries
 * and backoff (ExportState), waits durably for files that are not ready, and continues as new when
 * the history grows, carrying the files still to do. It never learns which platform it drives: the
 * connection's task queues route the work.
 */
export async function exportWorkflow(rawInput: ExportInput, carried?: unknown): Promise<ExportResult> {
  try {
    return await runExport(rawInput, carried);
  } catch (err) {
    // An error that is not a Temporal failure would fail the workflow task and be retried for ever,
    // leaving the window's export "running" and every later trigger attached to it.
    if (err instanceof TemporalFailure || err instanceof ContinueAsNew) throw err;
    throw ApplicationFailure.nonRetryable(`export failed on an internal error: ${errorMessage(err)}`, FailureType.Internal);
  }
}

async function runExport(rawInput: ExportInput, carried: unknown): Promise<ExportResult> {
  const input = await validInput(rawInput);
  const state = await restoredState(input, carried);
  const run = new ExportRun(input, state);
  setHandler(progressQuery, () => run.progress());
  setHandler(failuresQuery, () => state.failures);
  return run.execute(rawInput, carried === undefined);
}

async function validInput(rawInput: unknown): Promise<ValidExportInput> {
  let input: ValidExportInput;
  try {
    input = parseExportInput(rawInput);
  } catch (err) {
    if (err instanceof InvalidExportInput) return failBeforeStart(rawInput, err.message);
    throw err;
  }
  // The id is the lock that makes duplicate triggers (UI, schedule, sweep) attach to one export.
  const canonicalId = exportWorkflowId(input);
  if (workflowInfo().workflowId !== canonicalId) {
    return failBeforeStart(
      rawInput,
      `workflow id: use '${canonicalId}' for this connection and window (got '${workflowInfo().workflowId}'), so that every trigger of the same window attaches to one export`,
    );
  }
  return input;
}

async function restoredState(input: ValidExportInput, carried: unknown): Promise<ExportState> {
  const rules: RetryRules = {
    maxTries: input.options.maxAttempts,
    firstRetryMs: FIRST_RETRY_MS,
    maxRetryMs: input.options.maxRetryIntervalSeconds * 1000,
    notReadyMaxWaitMs: input.options.notReadyMaxWaitHours * 3600 * 1000,
  };
  if (carried === undefined) return new ExportState(rules);
  if (!workflowInfo().continuedFromExecutionRunId) {
    return failBeforeStart(
      input,
      'carried: the second argument is the state a run hands the next when it continues as new; an export started with one is refused (start it with the input alone)',
    );
  }
  try {
    return new ExportState(rules, parseCarriedState(carried, Date.now()));
  } catch (err) {
    if (err instanceof InvalidCarriedState) return failBeforeStart(input, err.message);
    throw err;
  }
}

/** Ends an export that could not start, with its row in callvault.exports saying why. */
async function failBeforeStart(rawInput: unknown, message: string): Promise<never> {
  const raw = (typeof rawInput === 'object' && rawInput !== null ? rawInput : {}) as Record<string, unknown>;
  await control
    .recordFailedStart({ connection: typeof raw.connection === 'string' ? raw.connection.slice(0, 200) : null, error: message })
    .catch((err: unknown) => log.warn('could not record the failed start', { error: causeMessage(err) }));
  throw ApplicationFailure.nonRetryable(message, FailureType.InvalidInput);
}

/** One run of an export: the loop that drives ExportState with activities. */
class ExportRun {
  private readonly connection: string;
  private readonly window: Window;
  private readonly exportRun = workflowInfo().firstExecutionRunId;
  private phase: 'starting' | 'running' | 'completed' | 'failed' = 'starting';
  private listing = false;
  /** Failure rows being written: the export is not done until they are. */
  private recording = 0;
  private fatal: Error | undefined;
  private changes = 0;
  /** Search attributes and current details; from the moment the provider is known. */
  private visibility: ExportVisibility | undefined;

  constructor(
    private readonly input: ValidExportInput,
    private readonly state: ExportState,
  ) {
    this.connection = input.connection;
    this.window = { from: input.from, to: input.to };
  }

  progress(): ExportProgress {
    return { ...this.counters(), state: this.phase, connection: this.connection, window: this.window };
  }

  private counters(): Omit<ExportProgress, 'state' | 'connection' | 'window'> {
    const waiting = this.state.waitingCount;
    return {
      ...this.state.counters,
      waiting: waiting.notReady,
      retrying: waiting.retrying,
      inFlight: this.state.inFlight,
      pagesListed: this.state.pagesListed,
      listingDone: this.state.listingDone,
      generation: this.state.generation,
    };
  }

  async execute(rawInput: ExportInput, firstRun: boolean): Promise<ExportResult> {
    const plan = await control.describeConnection({ connection: this.connection }).catch((err: unknown) => {
      // The worker's message already names the field ("connection: unknown connection ...").
      return failBeforeStart(rawInput, causeMessage(err));
    });
    if (firstRun)
      await control.beginExport({ connection: this.connection, provider: plan.provider, window: this.window, trigger: this.input.trigger });
    this.phase = 'running';
    this.visibility = new ExportVisibility(this.input, plan.provider, this.state.counters.failed);
    const activities = workers(plan, this.input);
    try {
      await this.loop(activities, plan, rawInput);
    } catch (err) {
      if (!isCancellation(err)) throw err;
      // Cancelled (callvault export cancel, the UI): the row says so, then the cancellation goes on.
      this.ended('failed', 'cancelled');
      await CancellationScope.nonCancellable(() =>
        control.finishExport({ outcome: 'failed', counters: this.state.counters, error: 'cancelled' }),
      );
      throw err;
    }
    if (this.fatal) {
      this.ended('failed', 'failed');
      const message = causeMessage(this.fatal);
      await control.finishExport({ outcome: 'failed', counters: this.state.counters, error: message });
      throw ApplicationFailure.nonRetryable(message, failureType(this.fatal) ?? FailureType.ExportFailed);
    }
    const failures = this.state.failures;
    const outcome = outcomeOf(failures);
    this.ended('completed', outcome);
    await control.finishExport({ outcome: 'completed', counters: this.state.counters });
    return {
      workflowId: workflowInfo().workflowId,
      connection: this.connection,
      window: this.window,
      pagesListed: this.state.pagesListed,
      generation: this.state.generation,
      ...this.state.counters,
      outcome,
      failures,
    };
  }

  private ended(phase: 'completed' | 'failed', state: ExportStateName): void {
    this.phase = phase;
    this.visibility?.finish(state, this.counters(), this.state.failures);
  }

  private async loop(activities: ReturnType<typeof workers>, plan: ConnectionPlan, rawInput: ExportInput): Promise<void> {
    const { maxInFlight } = this.input.options;
    const perBatch = plan.batchSize;
    const fullWhileListing = plan.startsAreScarce === true;
    const lookAhead = Math.min(LIST_AHEAD_MAX, maxInFlight * perBatch);
    for (;;) {
      if (this.fatal) return;
      this.giveUp(this.state.dueNow(Date.now()));
      this.visibility?.update('running', this.counters(), this.state.failures);
      if (!workflowInfo().continueAsNewSuggested) {
        const next = () => this.state.nextBatch(perBatch, maxInFlight - this.state.inFlight, fullWhileListing);
        for (let batch = next(); batch; batch = next()) this.launchBatch(activities, batch);
        if (!this.listing && this.state.wantsPage(lookAhead)) this.launchListing(activities);
      } else if (this.state.inFlight === 0 && !this.listing && this.recording === 0) {
        log.info('continuing as new to keep history small', { generation: this.state.generation, pagesListed: this.state.pagesListed });
        await continueAsNew<typeof exportWorkflow>(rawInput, this.state.snapshot());
      }
      if (this.state.done && !this.listing && this.recording === 0) return;
      const seen = this.changes;
      const wake = this.state.nextWakeAt();
      await condition(
        () => this.changes !== seen || this.fatal !== undefined,
        wake === undefined ? undefined : Math.max(wake - Date.now(), 1),
      );
    }
  }

  private launchBatch(activities: ReturnType<typeof workers>, batch: FileTask[]): void {
    activities.transferrer
      .transferBatch({
        connection: this.connection,
        exportRun: this.exportRun,
        tasks: batch.map((t) => ({ item: t.item, tries: t.tries })),
      })
      .then(
        (results) => this.giveUp(this.state.batchSettled(batch, results, Date.now())),
        (err: unknown) => {
          if (isCancellation(err)) return;
          if (isFatal(err)) this.fatal ??= asError(err);
          else this.giveUp(this.state.batchFailed(batch, causeMessage(err), Date.now()));
        },
      )
      .finally(() => this.changes++);
  }

  private launchListing(activities: ReturnType<typeof workers>): void {
    this.listing = true;
    activities.lister
      .listPage({ connection: this.connection, window: this.window, cursor: this.state.cursor, exportRun: this.exportRun })
      .then((page: ListPageResult) => this.state.pageListed(page))
      .catch((err: unknown) => {
        if (!isCancellation(err)) this.fatal ??= asError(err);
      })
      .finally(() => {
        this.listing = false;
        this.changes++;
      });
  }

  /** Writes the given-up files' rows (each with its own reason) before the export may end. */
  private giveUp(failures: GivenUp[]): void {
    if (failures.length === 0) return;
    this.recording++;
    control
      .recordFailures({ connection: this.connection, exportRun: this.exportRun, failures })
      .then((res) => this.state.givenUpRecorded(res, failures))
      .catch((err: unknown) => {
        if (!isCancellation(err)) this.fatal ??= asError(err);
      })
      .finally(() => {
        this.recording--;
        this.changes++;
      });
  }
}

/** The connection's listing and transfer activities, on its own task queues. */
function workers(plan: { listTaskQueue: string; transferTaskQueue: string }, input: ValidExportInput) {
  const lister = proxyActivities<Pick<Activities, 'listPage'>>({
    taskQueue: plan.listTaskQueue,
    startToCloseTimeout: '15 minutes',
    // The activity heartbeats every 5 s (and through in-place waits for a Retry-After): a page
    // whose worker died, or whose result a Temporal restart lost, is retried 20 s later.
    heartbeatTimeout: '20 seconds',
    retry: { initialInterval: '2 seconds', maximumInterval: '2 minutes', maximumAttempts: 20, nonRetryableErrorTypes: NON_RETRYABLE },
  });
  const transferrer = proxyActivities<Pick<Activities, 'transferBatch'>>({
    taskQueue: plan.transferTaskQueue,
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: input.options.heartbeatTimeoutSeconds * 1000,
    // Eager dispatch would bypass the task queue's server-side rate limit.
    allowEagerDispatch: false,
    // The activity fails only when no file is at fault (store or database away, a worker lost):
    // retried for about two minutes; then its files run again, each alone (ExportState.batchFailed).
    retry: {
      initialInterval: `${Math.min(2, input.options.maxRetryIntervalSeconds)} seconds`,
      backoffCoefficient: 2,
      maximumInterval: `${Math.min(60, input.options.maxRetryIntervalSeconds)} seconds`,
      maximumAttempts: 6,
      nonRetryableErrorTypes: NON_RETRYABLE,
    },
  });
  return { lister, transferrer };
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
  return errorMessage(e);
}

function failureType(err: unknown): string | undefined {
  const e = innermost(err);
  return e instanceof ApplicationFailure ? (e.type ?? undefined) : undefined;
}

function isFatal(err: unknown): boolean {
  const type = failureType(err);
  return type !== undefined && FATAL_FAILURE_TYPES.includes(type);
}
