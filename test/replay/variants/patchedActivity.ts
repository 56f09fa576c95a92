/**
 * The same change as extraActivity.ts made by the rule (README, "Changing workflow code"): behind
 * patched(), so histories recorded before it replay the old way and new runs take the new one.
 */
import { patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../../activities';
import { exportWorkflow as current } from '../../../workflows/export';

export { scheduledExportWorkflow } from '../../../workflows/schedule';
export { retentionSweepWorkflow } from '../../../workflows/retention';

const { describeConnection } = proxyActivities<Pick<Activities, 'describeConnection'>>({ startToCloseTimeout: '1 minute' });

export async function exportWorkflow(...args: Parameters<typeof current>): ReturnType<typeof current> {
  if (patched('replay-test-probe')) await describeConnection({ connection: 'probe' });
  return current(...args);
}
