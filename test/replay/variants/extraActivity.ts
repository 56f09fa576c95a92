/**
 * A deliberately non-deterministic change of the export workflow, for the replay test: a new
 * activity call before the first one, unguarded. Every recorded export history must fail to
 * replay against it; if one did not, the replay test could not catch a breaking change.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../../activities';
import { exportWorkflow as current } from '../../../workflows/export';

export { scheduledExportWorkflow } from '../../../workflows/schedule';
export { retentionSweepWorkflow } from '../../../workflows/retention';

const { describeConnection } = proxyActivities<Pick<Activities, 'describeConnection'>>({ startToCloseTimeout: '1 minute' });

export async function exportWorkflow(...args: Parameters<typeof current>): ReturnType<typeof current> {
  await describeConnection({ connection: 'probe' });
  return current(...args);
}
