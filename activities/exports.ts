
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

    async finishExport(input: { outcome: 'completed' | 'failed'; counters: ExportCounters; error?: string }): Promise<void> {
      await deps.provenance.finishExport(currentExecution().workflowId, input.outcome, input.counters, input.error);
    },
  };
}
