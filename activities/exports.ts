import { escaped } from '../src/contracts/names';
import type { ExportCounters, ExportStart } from '../src/provenance/store';
import type { ActivityDeps } from './deps';
import { currentExecution } from './execution';
import { toActivityFailure } from './failures';

/** An export's error as kept in its row: readable, bounded, and storable (no NUL). */
const MAX_ERROR_TEXT = 2000;

export function exportActivities(deps: ActivityDeps) {
  return {
    /** The export's own provenance row: who started it, for which window. Idempotent. */
    async beginExport(input: Omit<ExportStart, 'workflowId' | 'runId'>): Promise<void> {
      const { workflowId, runId } = currentExecution();
      try {
        await deps.provenance.beginExport({ ...input, workflowId, runId });
      } catch (err) {
        throw toActivityFailure(err);
      }
    },

    /** The row of an export that ended before it began (bad input, unknown connection): status failed, and why. */
    async recordFailedStart(input: { connection: string | null; error: string }): Promise<void> {
      const { workflowId, runId } = currentExecution();
      await deps.provenance.recordFailedStart({ workflowId, runId, connection: input.connection, error: input.error });
    },

    async finishExport(input: { outcome: 'completed' | 'failed'; counters: ExportCounters; error?: string }): Promise<void> {
      const error = input.error === undefined ? undefined : escaped(input.error, MAX_ERROR_TEXT);
      try {
        await deps.provenance.finishExport(currentExecution().workflowId, input.outcome, input.counters, error);
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  };
}
