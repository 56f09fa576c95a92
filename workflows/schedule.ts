import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common/lib/search-attributes';
import { ActivityFailure, ApplicationFailure, continueAsNew, log, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { parseCadence, windowForRun } from '../src/contracts/cadence';
import { exportWorkflowId, type ExportInput } from '../src/contracts/exportInput';
import { DETERMINISTIC_FAILURE_TYPES, FailureType } from '../src/contracts/failures';
import {
  POLL_BOUNDS,
  parseScheduledExportInput,
  parseScheduledRunState,
  type ScheduledExportInput,
  type ScheduledExportResult,
  type ScheduledRunState,
} from '../src/contracts/scheduledExport';
import { InvalidTriggerInput } from '../src/contracts/triggerInput';

/**
 * Bounded: 20 attempts up to a minute apart ride out a Temporal or database restart of about a
 * quarter of an hour; after that the run fails and says why, and the next run (or the retention
 * sweep) takes the window up again.
 */
const control = proxyActivities<Pick<Activities, 'startExports' | 'exportStatus'>>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '1 minute',
    maximumAttempts: 20,
    nonRetryableErrorTypes: DETERMINISTIC_FAILURE_TYPES,
  },
});

/** Set by the Temporal server on every run a schedule starts (backfills included): the nominal time. */
export const SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/** The scheduled time of this run: the `at` of the input, the schedule's nominal time, or the start time. */
export function scheduledTime(at: string | undefined): number {
  if (at !== undefined) return Date.parse(at);
  const info = workflowInfo();
  const fromSchedule = info.typedSearchAttributes.get(SCHEDULED_START_TIME);
  return fromSchedule ? fromSchedule.getTime() : info.startTime.getTime();
}

/**
 * One run of a data-platform schedule: derive this run's window from its scheduled time and the
 * schedule's cadence (the span since the previous fire time, moved back by `delay`), export it
 * with the deterministic export id, and wait for that export. When an operator, the retention
 * sweep or a backfill already runs the same window, this run waits for that export instead of
 * starting a second one. The run's outcome is the export's, so the schedule's recent runs in the
 * UI show which windows failed.
 */
export async function scheduledExportWorkflow(rawInput: ScheduledExportInput, carried?: ScheduledRunState): Promise<ScheduledExportResult> {
  let input: ReturnType<typeof parseScheduledExportInput>;
  let waiting: ScheduledRunState | undefined;
  try {
    input = parseScheduledExportInput(rawInput);
    waiting = parseScheduledRunState(carried, workflowInfo().continuedFromExecutionRunId !== undefined, input);
  } catch (err) {
    if (err instanceof InvalidTriggerInput) throw ApplicationFailure.nonRetryable(err.message, FailureType.InvalidInput);
    throw err;
  }
  const scheduledAt = waiting ? Date.parse(waiting.scheduledAt) : scheduledTime(input.at);
  const window = windowForRun(parseCadence(input), scheduledAt);
  const exportInput: ExportInput = {
    connection: input.connection,
    ...window,
    trigger: { kind: 'schedule', by: input.scheduleId ?? workflowInfo().workflowId },
    ...(input.options ? { options: input.options } : {}),
  };
  const id = exportWorkflowId({ connection: input.connection, ...window });

  let started: boolean;
  if (waiting) started = waiting.started;
  else {
    const [first] = await control.startExports({ exports: [exportInput] }).catch(rethrowCause);
    started = first!.started;
    log.info(started ? 'started export' : 'export of this window already running; waiting for it', { workflowId: id, ...window });
  }

  let pollMs = waiting?.pollMs ?? POLL_BOUNDS.min;
  for (;;) {
    const status = await control.exportStatus({ workflowId: id }).catch(rethrowCause);
    if (status.state === 'completed')
      return { window, exportWorkflowId: id, started, scheduledAt: new Date(scheduledAt).toISOString(), result: status.result };
    if (status.state === 'failed') {
      throw ApplicationFailure.nonRetryable(`export ${id} ${status.status.toLowerCase()}: ${status.message}`, FailureType.ExportFailed);
    }
    if (workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof scheduledExportWorkflow>(rawInput, {
        exportWorkflowId: id,
        started,
        scheduledAt: new Date(scheduledAt).toISOString(),
        pollMs,
      });
    }
    await sleep(pollMs);
    pollMs = Math.min(pollMs * 2, POLL_BOUNDS.max);
  }
}

/**
 * An activity's own failure as this workflow's: "Activity task failed" tells an operator nothing,
 * while its cause names the field or the connection (`connection: unknown connection 'nope'`).
 */
export function rethrowCause(err: unknown): never {
  let cause: unknown = err;
  while (cause instanceof ActivityFailure && cause.cause) cause = cause.cause;
  if (!(err instanceof ActivityFailure) || !(cause instanceof Error)) throw err;
  const type = cause instanceof ApplicationFailure ? (cause.type ?? FailureType.ActivityFailed) : FailureType.ActivityFailed;
  throw ApplicationFailure.create({ message: cause.message, type, nonRetryable: true, cause: err });
}
