import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { failureMessage, startExport } from '../src/client/exports';
import { connectionByName } from '../src/config/load';
import type { ConnectionConfig } from '../src/config/schema';
import { ConfigurationError } from '../src/errors';
import type { ExportResult } from '../src/contracts/exportResult';
import { InvalidExportInput, exportWorkflowId, type ExportInput } from '../src/contracts/exportInput';
import type { AtRiskReason, RetentionPlan, RetentionPolicySummary, SweepWindow } from '../src/contracts/retentionSweep';
import { DAY } from '../src/contracts/units';
import { EARLIEST_INSTANT } from '../src/contracts/instants';
import { covers, dayWindows, mergeIntervals } from '../src/contracts/window';
import type { ExportWindowRow } from '../src/provenance/store';
import type { ActivityDeps } from './deps';
import { toActivityFailure } from './failures';
import { FailureType, errorMessage } from '../src/contracts/failures';
import type { ExportStatus, StartedWindow } from '../src/contracts/exportResult';
import type { PlanRetentionInput } from '../src/contracts/retentionSweep';

/** A row of callvault.exports, reduced to what coverage needs. */
export interface ExportRow {
  workflowId: string;
  connection: string;
  from: number;
  to: number;
  status: 'running' | 'completed' | 'failed';
  error: string | null;
}

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
        if (err instanceof WorkflowNotFoundError) throw ApplicationFailure.nonRetryable(`export ${input.workflowId} does not exist`, FailureType.NotFound);
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
      const now = Date.parse(input.now);
      let policies: Array<{ connection: string; keepDays: number; leadDays: number }>;
      try {
        policies = retentionPolicies(input.connections?.map((c, i) => namedConnection(deps, c, `connections.${i}`)) ?? Object.values(deps.config.connections), input.connections !== undefined);
      } catch (err) {
        throw ApplicationFailure.nonRetryable(errorMessage(err), FailureType.Configuration);
      }
      const rows: ExportRow[] = [];
      for (const p of policies) {
        const range = sweepRange(p, now, input.lookbackDays);
        for (const r of await deps.provenance.exportsOverlapping(p.connection, new Date(range.start), new Date(range.end))) rows.push(coverageOf(p.connection, r));
      }
      // A row left 'running' by an export that was terminated never finishes: only trust what Temporal says runs.
      const running = new Set<string>();
      for (const r of rows) {
        if (r.status !== 'running') continue;
        try {
          if ((await client().workflow.getHandle(r.workflowId).describe()).status.name === 'RUNNING') running.add(r.workflowId);
        } catch {
          // Unknown to Temporal (deleted by retention of closed workflows): not running.
        }
      }
      return planRetention(policies, rows, running, now, input.lookbackDays);
    },
  };
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

/**
 * What an export's row can vouch for: its window, but nothing after its latest run began. An
 * export of a window that reached into the future (an operator's "this month") must not mark
 * days as covered whose calls had not happened yet.
 */
export function coverageOf(connection: string, r: ExportWindowRow): ExportRow {
  return { workflowId: r.workflowId, connection, from: r.from.getTime(), to: Math.min(r.to.getTime(), r.startedAt.getTime()), status: r.status, error: r.error };
}

/** The connections a sweep covers: the named ones (each must have a policy), or all that have one. */
export function retentionPolicies(conns: ConnectionConfig[], named: boolean): Array<{ connection: string; keepDays: number; leadDays: number }> {
  const out = [];
  for (const c of conns) {
    if (!c.retention) {
      if (named) throw new ConfigurationError(`connections.${c.name}.retention: not set, so the sweep cannot know when the platform deletes its data`);
      continue;
    }
    out.push({ connection: c.name, keepDays: c.retention.keepDays, leadDays: c.retention.leadDays });
  }
  return out;
}

/** Days [start, end) a sweep looks at for one policy: from lookbackDays before the deletion horizon up to the due line. */
export function sweepRange(p: { keepDays: number; leadDays: number }, now: number, lookbackDays: number): { start: number; end: number; deletesBefore: number; dueBefore: number } {
  const deletesBefore = now - p.keepDays * DAY;
  const dueBefore = deletesBefore + p.leadDays * DAY;
  // Days before 2000 are not days callvault exports (workflows/windows.ts says why).
  const start = Math.max(Math.floor(deletesBefore / DAY) * DAY - lookbackDays * DAY, EARLIEST_INSTANT);
  // Every day that starts before the due line; keepDays > leadDays keeps its end in the past.
  const end = Math.floor((dueBefore - 1) / DAY) * DAY + DAY;
  return { start, end, deletesBefore, dueBefore };
}

/**
 * Classifies each day of each policy's range. Covered: completed exports (of any windows) cover
 * it. Already running: running exports cover what completed ones do not. Otherwise the day is
 * due and is started, unless the platform has deleted it already (then it is only reported).
 */
export function planRetention(
  policies: ReadonlyArray<{ connection: string; keepDays: number; leadDays: number }>,
  rows: readonly ExportRow[],
  running: ReadonlySet<string>,
  now: number,
  lookbackDays: number,
): RetentionPlan {
  const iso = (ms: number) => new Date(ms).toISOString();
  const plan: RetentionPlan = { now: iso(now), policies: [], toStart: [], alreadyRunning: [], covered: [], atRisk: [] };
  for (const p of policies) {
    const range = sweepRange(p, now, lookbackDays);
    const summary: RetentionPolicySummary = {
      ...p,
      deletesBefore: iso(range.deletesBefore),
      dueBefore: iso(range.dueBefore),
      checked: { from: iso(range.start), to: iso(range.end) },
    };
    plan.policies.push(summary);
    const mine = rows.filter((r) => r.connection === p.connection);
    const completed = mine.filter((r) => r.status === 'completed');
    const live = mine.filter((r) => r.status === 'running' && running.has(r.workflowId));
    const failed = mine.filter((r) => r.status === 'failed');
    const done = mergeIntervals(completed.map((r) => [r.from, r.to] as const));
    const doneOrRunning = mergeIntervals([...completed, ...live].map((r) => [r.from, r.to] as const));
    for (const day of dayWindows(range.start, range.end)) {
      const from = Date.parse(day.from);
      const to = Date.parse(day.to);
      const overlapping = (list: ExportRow[]) => list.filter((r) => r.from < to && r.to > from);
      const base = { connection: p.connection, ...day, deletesAt: iso(from + p.keepDays * DAY) };
      if (covers(done, from, to)) {
        plan.covered.push({ ...base, workflowIds: overlapping(completed).map((r) => r.workflowId) });
        continue;
      }
      if (covers(doneOrRunning, from, to)) {
        plan.alreadyRunning.push({ ...base, workflowIds: overlapping(live).map((r) => r.workflowId) });
        continue;
      }
      const reasons: AtRiskReason[] = [];
      const details: string[] = [];
      const failures = overlapping(failed);
      if (failures.length > 0) {
        reasons.push('export_failed');
        details.push(`export ${failures.map((f) => `${f.workflowId} failed${f.error ? `: ${f.error}` : ''}`).join('; ')}`);
      }
      if (to <= range.deletesBefore) {
        reasons.push('deleted');
        details.push(`the platform deleted this day's data from ${base.deletesAt} on (keepDays ${p.keepDays}); it was never exported`);
        plan.atRisk.push({ ...base, workflowIds: failures.map((f) => f.workflowId), reasons, detail: details.join('; ') });
        continue;
      }
      const window: SweepWindow = { ...base, workflowIds: [exportWorkflowId({ connection: p.connection, from: day.from, to: day.to })] };
      if (from < range.deletesBefore) {
        reasons.push('deletion_started');
        details.push(`the platform began deleting this day's data at ${base.deletesAt}; exporting what is left`);
      }
      plan.toStart.push(window);
      if (reasons.length > 0) plan.atRisk.push({ ...window, reasons, detail: details.join('; ') });
    }
  }
  return plan;
}
