import type { ConnectionConfig } from '../src/config/schema';
import { exportWorkflowId } from '../src/contracts/exportInput';
import { EARLIEST_INSTANT } from '../src/contracts/instants';
import type { AtRiskReason, RetentionPlan, SweepWindow } from '../src/contracts/retentionSweep';
import { DAY } from '../src/contracts/units';
import { covers, dayWindows, mergeIntervals, toIso as iso, type Window } from '../src/contracts/window';
import { ConfigurationError } from '../src/errors';
import type { ExportWindowRow } from '../src/provenance/store';

/**
 * The retention sweep's plan, as pure functions of the configured policies, the exports provenance
 * has of their ranges and which of those still run (activities/triggers.ts reads those; unit tests
 * call these directly).
 */

/** A connection's retention policy, as the sweep reads it from the configuration. */
export interface RetentionPolicy {
  connection: string;
  keepDays: number;
  leadDays: number;
}

/** The days a sweep looks at for one policy, and the lines that classify them (ms since the epoch). */
export interface SweepRange {
  start: number;
  end: number;
  deletesBefore: number;
  dueBefore: number;
}

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
 * What an export's row can vouch for: its window, but nothing after its latest run began. An
 * export of a window that reached into the future (an operator's "this month") must not mark
 * days as covered whose calls had not happened yet.
 */
export function coverageOf(connection: string, r: ExportWindowRow): ExportRow {
  return {
    workflowId: r.workflowId,
    connection,
    from: r.from.getTime(),
    to: Math.min(r.to.getTime(), r.startedAt.getTime()),
    status: r.status,
    error: r.error,
  };
}

/** The connections a sweep covers: the named ones (each must have a policy), or all that have one. */
export function retentionPolicies(conns: ConnectionConfig[], named: boolean): RetentionPolicy[] {
  const out: RetentionPolicy[] = [];
  for (const c of conns) {
    if (!c.retention) {
      if (named)
        throw new ConfigurationError(
          `connections.${c.name}.retention: not set, so the sweep cannot know when the platform deletes its data`,
        );
      continue;
    }
    out.push({ connection: c.name, keepDays: c.retention.keepDays, leadDays: c.retention.leadDays });
  }
  return out;
}

/** Days [start, end) a sweep looks at for one policy: from lookbackDays before the deletion horizon up to the due line. */
export function sweepRange(p: Omit<RetentionPolicy, 'connection'>, now: number, lookbackDays: number): SweepRange {
  const deletesBefore = now - p.keepDays * DAY;
  const dueBefore = deletesBefore + p.leadDays * DAY;
  // Days before 2000 are not days callvault exports (src/contracts/instants.ts says why).
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
  policies: readonly RetentionPolicy[],
  rows: readonly ExportRow[],
  running: ReadonlySet<string>,
  now: number,
  lookbackDays: number,
): RetentionPlan {
  const plan: RetentionPlan = { now: iso(now), policies: [], toStart: [], alreadyRunning: [], covered: [], atRisk: [] };
  for (const p of policies) {
    const range = sweepRange(p, now, lookbackDays);
    plan.policies.push({
      ...p,
      deletesBefore: iso(range.deletesBefore),
      dueBefore: iso(range.dueBefore),
      checked: { from: iso(range.start), to: iso(range.end) },
    });
    const exports = policyExports(
      rows.filter((r) => r.connection === p.connection),
      running,
    );
    for (const day of dayWindows(range.start, range.end)) classifyDay(plan, p, range, exports, day);
  }
  return plan;
}

/** One connection's exports as coverage sees them. */
interface PolicyExports {
  completed: ExportRow[];
  live: ExportRow[];
  failed: ExportRow[];
  /** What completed exports cover, and what they and the running ones do, as merged intervals. */
  done: Array<[number, number]>;
  doneOrRunning: Array<[number, number]>;
}

function policyExports(mine: readonly ExportRow[], running: ReadonlySet<string>): PolicyExports {
  const completed = mine.filter((r) => r.status === 'completed');
  const live = mine.filter((r) => r.status === 'running' && running.has(r.workflowId));
  const failed = mine.filter((r) => r.status === 'failed');
  const span = (r: ExportRow) => [r.from, r.to] as const;
  return {
    completed,
    live,
    failed,
    done: mergeIntervals(completed.map(span)),
    doneOrRunning: mergeIntervals([...completed, ...live].map(span)),
  };
}

/** Puts one day of a policy's range where it belongs in the plan: covered, running, to start, at risk. */
function classifyDay(plan: RetentionPlan, p: RetentionPolicy, range: SweepRange, exports: PolicyExports, day: Window): void {
  const from = Date.parse(day.from);
  const to = Date.parse(day.to);
  const overlapping = (list: ExportRow[]) => list.filter((r) => r.from < to && r.to > from);
  const base = { connection: p.connection, ...day, deletesAt: iso(from + p.keepDays * DAY) };
  if (covers(exports.done, from, to)) {
    plan.covered.push({ ...base, workflowIds: overlapping(exports.completed).map((r) => r.workflowId) });
    return;
  }
  if (covers(exports.doneOrRunning, from, to)) {
    plan.alreadyRunning.push({ ...base, workflowIds: overlapping(exports.live).map((r) => r.workflowId) });
    return;
  }
  const reasons: AtRiskReason[] = [];
  const details: string[] = [];
  const failures = overlapping(exports.failed);
  if (failures.length > 0) {
    reasons.push('export_failed');
    details.push(`export ${failures.map((f) => `${f.workflowId} failed${f.error ? `: ${f.error}` : ''}`).join('; ')}`);
  }
  if (to <= range.deletesBefore) {
    reasons.push('deleted');
    details.push(`the platform deleted this day's data from ${base.deletesAt} on (keepDays ${p.keepDays}); it was never exported`);
    plan.atRisk.push({ ...base, workflowIds: failures.map((f) => f.workflowId), reasons, detail: details.join('; ') });
    return;
  }
  const window: SweepWindow = { ...base, workflowIds: [exportWorkflowId({ connection: p.connection, from: day.from, to: day.to })] };
  if (from < range.deletesBefore) {
    reasons.push('deletion_started');
    details.push(`the platform began deleting this day's data at ${base.deletesAt}; exporting what is left`);
  }
  plan.toStart.push(window);
  if (reasons.length > 0) plan.atRisk.push({ ...window, reasons, detail: details.join('; ') });
}
