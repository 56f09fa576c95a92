
import type { ExportCounters, ExportStart } from '../src/provenance/store';
import type { ActivityDeps } from './deps';
import { currentExecution } from './execution';

export function exportActivities(deps: ActivityDeps) {
  return {
    /** The export's own provenance row: who started it, for which window. Idempotent. */
    async beginExport(input: Omit<ExportStart, 'workflowId' | 'runId'>): Promise<void> {
      const { workflowId, runId } = currentExecution();
      await deps.provenance.beginExport({ ...input, workflowId, runId });
    },

    /** The row of an export that ended before it began (bad input, unknown connection): status failed, and why. */
    async recordFailedStart(input: { connection: string | null; error: string }): Promise<void> {
      const { workflowId, runId } = currentExecution();
      await deps.provenance.recordFailedStart({ workflowId, runId, connection: input.connection, error: input.error });
    },

    async finishExport(input: { outcome: 'completed' | 'failed'; counters: ExportCounters; error?: string }): Promise<void> {
      await deps.provenance.finishExport(currentExecution().workflowId, input.outcome, input.counters, input.error);
    },
  };
}
