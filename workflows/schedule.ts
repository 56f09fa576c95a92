import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common/lib/search-attributes';
import { ApplicationFailure, continueAsNew, log, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ExportInput } from './input';
import { exportWorkflowId } from './input';
import { InvalidTriggerInput, parseScheduledExportInput, type ScheduledExportInput, type ScheduledExportResult } from './triggers';
import { parseCadence, windowForRun } from './windows';

const control = proxyActivities<Pick<Activities, 'startExports' | 'exportStatus'>>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: ['InvalidInput'] },
});

/** Set by the Temporal server on every run a schedule starts (backfills included): the nominal time. */
export const SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/** The longest pause between two looks at a running export: bounds history to ~1,000 events a day. */
const MAX_POLL_MS = 2 * 60 * 1000;

/** What a run hands the next when it continues as new while waiting on a long export. */
interface Waiting {
  exportWorkflowId: string;
  started: boolean;
  scheduledAt: string;
  pollMs: number;
}

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
export async function scheduledExportWorkflow(rawInput: ScheduledExportInput, waiting?: Waiting): Promise<ScheduledExportResult> {
  let input: ReturnType<typeof parseScheduledExportInput>;
  try {
    input = parseScheduledExportInput(rawInput);
  } catch (err) {
    if (err instanceof InvalidTriggerInput) throw ApplicationFailure.nonRetryable(err.message, 'InvalidInput');
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
    const [first] = await control.startExports({ exports: [exportInput] });
    started = first!.started;
    log.info(started ? 'started export' : 'export of this window already running; waiting for it', { workflowId: id, ...window });
  }

  let pollMs = waiting?.pollMs ?? 1000;
  for (;;) {
    const status = await control.exportStatus({ workflowId: id });
    if (status.state === 'completed') return { window, exportWorkflowId: id, started, scheduledAt: new Date(scheduledAt).toISOString(), result: status.result };
    if (status.state === 'failed') {
      throw ApplicationFailure.nonRetryable(`export ${id} ${status.status.toLowerCase()}: ${status.message}`, 'ExportFailed');
    }
    if (workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof scheduledExportWorkflow>(rawInput, { exportWorkflowId: id, started, scheduledAt: new Date(scheduledAt).toISOString(), pollMs });
    }
    await sleep(pollMs);
    pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
  }
}
