import { MAX_TRIGGER_BY, checkConnectionName, checkExportOptions, type ExportOptions } from './exportInput';
import { FieldProblems, boolean, field, instant, list, number, object, optional, text, type Field } from './fields';
import { POINT_IN_TIME_HINT, failTriggerInput as fail } from './triggerInput';
import type { Window } from './window';

/**
 * The retention sweep's one JSON argument, validated strictly like the export input, and what the
 * sweep plans and reports.
 */

export const RETENTION_SWEEP_WORKFLOW_TYPE = 'retentionSweepWorkflow';

export interface RetentionSweepInput {
  /** Only these connections (each must have a retention policy); default: every connection that has one. */
  connections?: string[];
  /**
   * How many days before the deletion horizon to keep looking, so a window the platform has already
   * deleted without it ever being exported is reported (as at risk) for that long instead of vanishing.
   * Default 7.
   */
  lookbackDays?: number;
  /** Plan and report, start nothing. */
  dryRun?: boolean;
  /** Options for the exports the sweep starts. */
  options?: Partial<ExportOptions>;
  /** The sweep's notion of now; default the scheduled time (or the workflow's start time). For tests and what-ifs. */
  now?: string;
  /** Recorded in provenance as the trigger (the schedule id). */
  by?: string;
}

/** The retention sweep's input with its defaults filled in. */
export type ValidRetentionSweepInput = RetentionSweepInput & { lookbackDays: number; dryRun: boolean };

export function parseRetentionSweepInput(raw: unknown): ValidRetentionSweepInput {
  const problems = new FieldProblems();
  const fields = object(raw, '', problems, ['connections', 'lookbackDays', 'dryRun', 'options', 'now', 'by']);
  if (!fields) fail('retention sweep input', problems);
  const input: ValidRetentionSweepInput = {
    connections: optional(field(fields, '', 'connections'), (f) => checkConnectionNames(f, problems)),
    lookbackDays: optional(field(fields, '', 'lookbackDays'), (f) => number(f, problems, { min: 0, max: 366, integer: true })) ?? 7,
    dryRun: optional(field(fields, '', 'dryRun'), (f) => boolean(f, problems)) ?? false,
    options: optional(field(fields, '', 'options'), (f) => checkExportOptions(f, problems)),
    now: optional(field(fields, '', 'now'), (f) => instant(f, problems, POINT_IN_TIME_HINT)),
    by: optional(field(fields, '', 'by'), (f) => text(f, problems, MAX_TRIGGER_BY)),
  };
  if (!problems.ok) fail('retention sweep input', problems);
  return input;
}

/** Connections a sweep may name at once: more than any deployment configures. */
const MAX_SWEEP_CONNECTIONS = 1000;

function checkConnectionNames(f: Field, problems: FieldProblems): string[] | undefined {
  const names = list(f, problems, MAX_SWEEP_CONNECTIONS, (item) => checkConnectionName(item, problems));
  names?.forEach((name, i) => {
    if (names.indexOf(name) !== i) problems.add(`${f.path}.${i}`, `'${name}' is listed twice`);
  });
  return names;
}

/** A window of one connection as the retention sweep reports it. */
export interface SweepWindow extends Window {
  connection: string;
  /** When the platform starts deleting this window's data (from + keepDays). */
  deletesAt: string;
  /** The export(s) doing or holding the work: the deterministic id for windows the sweep starts. */
  workflowIds: string[];
}

export type AtRiskReason =
  /** The last export of this window failed (and the sweep started it again, unless it is past deletion). */
  | 'export_failed'
  /** The platform has begun deleting this window; what is left is being exported now. */
  | 'deletion_started'
  /** The platform has deleted this window and it was never exported: data lost (reported for lookbackDays). */
  | 'deleted';

export interface AtRiskWindow extends SweepWindow {
  reasons: AtRiskReason[];
  detail: string;
}

export interface RetentionPolicySummary {
  connection: string;
  keepDays: number;
  leadDays: number;
  /** Data created before this is gone (now - keepDays). */
  deletesBefore: string;
  /** Data created before this will be deleted within leadDays: its windows are due (now - keepDays + leadDays). */
  dueBefore: string;
  /** The days this sweep looked at. */
  checked: Window;
}

export interface RetentionSweepResult {
  now: string;
  dryRun: boolean;
  policies: RetentionPolicySummary[];
  /** Exports this sweep started (in a dry run: would start). */
  started: SweepWindow[];
  /** Windows an export was already running for: the sweep attached to it and started nothing. */
  alreadyRunning: SweepWindow[];
  /** Windows completed exports already cover. */
  covered: SweepWindow[];
  /** Windows that need a person: failing exports, deletion begun or done. May also appear in started. */
  atRisk: AtRiskWindow[];
}

/** What the sweep's planning activity hands the workflow. */
export interface RetentionPlan {
  now: string;
  policies: RetentionPolicySummary[];
  /** Due windows without a completed or running export: start these. */
  toStart: SweepWindow[];
  alreadyRunning: SweepWindow[];
  covered: SweepWindow[];
  atRisk: AtRiskWindow[];
}

export function retentionScheduleId(taskQueue: string): string {
  return `${taskQueue}-retention-sweep`;
}

/** What the sweep asks its planning activity. */
export interface PlanRetentionInput {
  now: string;
  connections?: string[];
  lookbackDays: number;
}
