import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { failureMessage, startExport } from '../src/client/exports';
import { connectionByName } from '../src/config/load';
import type { ConnectionConfig } from '../src/config/schema';
import { InvalidExportInput, type ExportInput } from '../src/contracts/exportInput';
import type { ExportResult, ExportStatus, StartedWindow } from '../src/contracts/exportResult';
import { FailureType, errorMessage } from '../src/contracts/failures';
import type { PlanRetentionInput, RetentionPlan } from '../src/contracts/retentionSweep';
import { ConfigurationError } from '../src/errors';
import type { ActivityDeps } from './deps';
import { toActivityFailure } from './failures';
import { recordDaysAtRisk } from './metrics';
import { coverageOf, planRetention, retentionPolicies, sweepRange, type ExportRow, type RetentionPolicy } from './retentionPlan';

/**
 * The activities of the triggers: start exports (deterministic ids, USE_EXISTING, so any number of
 * triggers for one window make one export), look at an export's state, and plan a retention sweep
 * from the configured policies and provenance. They run on the main task queue, are short, and
 * never wait for an export: a workflow that waits does so with durable timers, so no activity slot
 * is held for the hours an export may take.
 */
export function triggerActivities(deps: ActivityDeps) {
  const client = (): Client => Context.current().client;
  return {
    async startExports(input: { exports: ExportInput[] }): Promise<StartedWindow[]> {
      const out: StartedWindow[] = [];
      for (const raw of input.exports) {
        try {
          // An export for a connection this deployment does not have would only fail: say so here.
          connectionByName(deps.config, raw.connection);
          const s = await startExport(client(), deps.config.temporal.taskQueue, raw);
          out.push({ workflowId: s.workflowId, started: s.started });
        } catch (err) {
          if (err instanceof InvalidExportInput) throw ApplicationFailure.nonRetryable(err.message, FailureType.InvalidInput);
          throw toActivityFailure(err);
        }
        Context.current().heartbeat(out.length);
      }
      return out;
    },

    async exportStatus(input: { workflowId: string }): Promise<ExportStatus> {
      const handle = client().workflow.getHandle(input.workflowId);
      const description = await handle.describe().catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError)
          throw ApplicationFailure.nonRetryable(`export ${input.workflowId} does not exist`, FailureType.NotFound);
        throw err;
      });
      if (description.status.name === 'RUNNING') return { state: 'running' };
      try {
        return { state: 'completed', result: (await handle.result()) as ExportResult };
      } catch (err) {
        return { state: 'failed', status: description.status.name, message: failureMessage(err) };
      }
    },

    async planRetentionSweep(input: PlanRetentionInput): Promise<RetentionPlan> {
      const plan = await planSweep(deps, client(), input);
      const now = Date.parse(plan.now);
      // A what-if sweep (`--now` another day) says nothing about today's risk.
      if (Math.abs(now - Date.now()) < WHAT_IF_MS)
        recordDaysAtRisk(
          Context.current().metricMeter,
          plan.policies.map((p) => p.connection),
          plan.atRisk,
          now,
        );
      return plan;
    },
  };
}

/** A sweep planned for a `now` this far from the clock is a what-if, not today's risk. */
const WHAT_IF_MS = 6 * 3600 * 1000;

/**
 * The sweep's plan: the policies of the connections it covers, the exports provenance has of their
 * ranges (one store call per policy), which of those Temporal says still run, and planRetention.
 */
async function planSweep(deps: ActivityDeps, client: Client, input: PlanRetentionInput): Promise<RetentionPlan> {
  const now = Date.parse(input.now);
  let policies: RetentionPolicy[];
  try {
    policies = retentionPolicies(
      input.connections?.map((c, i) => namedConnection(deps, c, `connections.${i}`)) ?? Object.values(deps.config.connections),
      input.connections !== undefined,
    );
  } catch (err) {
    throw ApplicationFailure.nonRetryable(errorMessage(err), FailureType.Configuration);
  }
  const rows: ExportRow[] = [];
  for (const p of policies) {
    const range = sweepRange(p, now, input.lookbackDays);
    for (const r of await deps.provenance.exportsOverlapping(p.connection, new Date(range.start), new Date(range.end)))
      rows.push(coverageOf(p.connection, r));
  }
  return planRetention(policies, rows, await runningExports(client, rows), now, input.lookbackDays);
}

/** A row left 'running' by an export that was terminated never finishes: only trust what Temporal says runs. */
async function runningExports(client: Client, rows: readonly ExportRow[]): Promise<Set<string>> {
  const running = new Set<string>();
  for (const r of rows) {
    if (r.status !== 'running') continue;
    try {
      if ((await client.workflow.getHandle(r.workflowId).describe()).status.name === 'RUNNING') running.add(r.workflowId);
    } catch {
      // Unknown to Temporal (deleted by retention of closed workflows): not running.
    }
  }
  return running;
}

/** A connection the sweep's input names, or an error naming the input's field. */
function namedConnection(deps: ActivityDeps, name: string, path: string): ConnectionConfig {
  try {
    return connectionByName(deps.config, name);
  } catch (err) {
    if (!(err instanceof ConfigurationError)) throw err;
    throw new ConfigurationError(err.message.replace(/^connection:/, `${path}:`));
  }
}
