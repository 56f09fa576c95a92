import type { Client, WorkflowHandle } from '@temporalio/client';
import { failureMessage } from './exports';
import {
  RETENTION_SWEEP_WORKFLOW_TYPE,
  parseRetentionSweepInput,
  retentionScheduleId,
  type RetentionSweepInput,
  type RetentionSweepResult,
} from '../contracts/retentionSweep';

export type { RetentionSweepInput, RetentionSweepResult } from '../contracts/retentionSweep';

/**
 * Runs a retention sweep now, outside its schedule (an operator's "what is at risk?", with
 * `dryRun: true`, or a sweep right after adding a policy). The sweep starts exports with
 * deterministic ids, so running it next to the scheduled one never exports a day twice.
 */
export async function startRetentionSweep(
  client: Client,
  taskQueue: string,
  input: RetentionSweepInput = {},
  workflowId = `${retentionScheduleId(taskQueue)}-manual-${new Date().toISOString()}`,
): Promise<WorkflowHandle> {
  parseRetentionSweepInput(input); // the workflow's own message, before anything starts
  return client.workflow.start(RETENTION_SWEEP_WORKFLOW_TYPE, { taskQueue, workflowId, args: [{ by: workflowId, ...input }] });
}

/** Runs a sweep and waits for it; a failed sweep throws its real cause (`connections.0: unknown connection ...`). */
export async function runRetentionSweep(
  client: Client,
  taskQueue: string,
  input: RetentionSweepInput = {},
  workflowId?: string,
): Promise<RetentionSweepResult> {
  const handle = await startRetentionSweep(client, taskQueue, input, workflowId);
  try {
    return (await handle.result()) as RetentionSweepResult;
  } catch (err) {
    throw new RetentionSweepFailed(`retention sweep ${handle.workflowId} failed: ${failureMessage(err)}`, { cause: err });
  }
}

export class RetentionSweepFailed extends Error {
  override readonly name = 'RetentionSweepFailed';
}

/** One line per window, for people. */
export function formatSweep(result: RetentionSweepResult): string {
  const lines: string[] = [];
  const verb = result.dryRun ? 'would start' : 'started';
  lines.push(`retention sweep at ${result.now}${result.dryRun ? ' (dry run)' : ''}`);
  for (const p of result.policies) {
    lines.push(
      `  ${p.connection}: keeps ${p.keepDays} days, lead ${p.leadDays} days; deletes data before ${p.deletesBefore}; due before ${p.dueBefore}`,
    );
  }
  const day = (w: { connection: string; from: string }) => `${w.connection} ${w.from.slice(0, 10)}`;
  const row = (label: string, w: { connection: string; from: string }, rest: string) => `  ${label.padEnd(12)} ${day(w)}  ${rest}`;
  for (const w of result.started) lines.push(row(verb, w, w.workflowIds.join(', ')));
  for (const w of result.alreadyRunning) lines.push(row('running', w, w.workflowIds.join(', ')));
  for (const w of result.atRisk) lines.push(row('AT RISK', w, `${w.reasons.join(', ')}: ${w.detail}`));
  lines.push(
    `  ${result.started.length} ${verb}, ${result.alreadyRunning.length} already running, ${result.covered.length} covered, ${result.atRisk.length} at risk`,
  );
  const why = nothingDueBecause(result);
  if (why) lines.push(`  nothing to do: ${why}`);
  return lines.join('\n');
}

/** Why a sweep had nothing to start, or undefined when it had something (an empty report says why). */
function nothingDueBecause(result: RetentionSweepResult): string | undefined {
  if (result.started.length + result.alreadyRunning.length + result.atRisk.length > 0) return undefined;
  if (result.policies.length === 0) {
    return 'no connection has a retention policy, so no day is ever due. Add one per connection: "retention": { "keepDays": 90, "leadDays": 3 } (README, "Retention policies")';
  }
  return `every due day (data created before the "due before" line above) is covered by completed exports; the next day falls due when the line passes it`;
}
