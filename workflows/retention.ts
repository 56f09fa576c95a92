import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ExportInput } from '../src/contracts/exportInput';
import { DETERMINISTIC_FAILURE_TYPES, FailureType } from '../src/contracts/failures';
import {
  parseRetentionSweepInput,
  type RetentionSweepInput,
  type RetentionSweepResult,
  type SweepWindow,
} from '../src/contracts/retentionSweep';
import { InvalidTriggerInput } from '../src/contracts/triggerInput';
import { rethrowCause, scheduledTime } from './schedule';

const control = proxyActivities<Pick<Activities, 'planRetentionSweep' | 'startExports'>>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '1 minute',
    maximumAttempts: 10,
    nonRetryableErrorTypes: DETERMINISTIC_FAILURE_TYPES,
  },
});

/** Exports started per activity call, so a large first sweep stays within timeouts and payload limits. */
const START_BATCH = 50;

/**
 * The retention sweep: for every connection with a retention policy, find the days the platform
 * will delete within `leadDays` (or has begun deleting) that no completed or running export covers,
 * and start their exports, one per day, with deterministic ids (a day already being exported by a
 * schedule or an operator is attached to, not started twice). It does not wait for the exports;
 * the next sweep sees them in provenance. The result says what it started, what was covered or
 * already running, and what is at risk: days whose export failed, and days past deletion.
 */
export async function retentionSweepWorkflow(rawInput: RetentionSweepInput = {}): Promise<RetentionSweepResult> {
  let input: ReturnType<typeof parseRetentionSweepInput>;
  try {
    input = parseRetentionSweepInput(rawInput);
  } catch (err) {
    if (err instanceof InvalidTriggerInput) throw ApplicationFailure.nonRetryable(err.message, FailureType.InvalidInput);
    throw err;
  }
  const now = new Date(scheduledTime(input.now)).toISOString();
  const plan = await control
    .planRetentionSweep({ now, lookbackDays: input.lookbackDays, ...(input.connections ? { connections: input.connections } : {}) })
    .catch(rethrowCause);
  const result: RetentionSweepResult = {
    now: plan.now,
    dryRun: input.dryRun,
    policies: plan.policies,
    started: [],
    alreadyRunning: [...plan.alreadyRunning],
    covered: plan.covered,
    atRisk: plan.atRisk,
  };
  if (input.dryRun) {
    result.started = plan.toStart;
    return result;
  }
  for (let i = 0; i < plan.toStart.length; i += START_BATCH) {
    const batch: SweepWindow[] = plan.toStart.slice(i, i + START_BATCH);
    const exports: ExportInput[] = batch.map((w) => ({
      connection: w.connection,
      from: w.from,
      to: w.to,
      trigger: { kind: 'retention', by: input.by ?? 'retention sweep' },
      ...(input.options ? { options: input.options } : {}),
    }));
    const outcomes = await control.startExports({ exports }).catch(rethrowCause);
    batch.forEach((w, j) => {
      const o = outcomes[j]!;
      (o.started ? result.started : result.alreadyRunning).push({ ...w, workflowIds: [o.workflowId] });
    });
  }
  return result;
}
