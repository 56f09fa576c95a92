import { z } from 'zod';
import { CONNECTION_NAME, CONNECTION_NAME_HINT } from '../src/config/names';
import type { ExportResult } from './contracts';
import { exportOptionsSchema } from './input';
import { InvalidCadence, parseCadence, type Window } from './windows';

/**
 * The one JSON argument of the two workflows that start exports on their own: the scheduled
 * export (one window per scheduled run) and the retention sweep. Validated strictly like the
 * export input, each error naming its field, so a schedule edited by hand in the Temporal UI
 * fails at once and says why.
 */

export const SCHEDULED_EXPORT_WORKFLOW_TYPE = 'scheduledExportWorkflow';
export const RETENTION_SWEEP_WORKFLOW_TYPE = 'retentionSweepWorkflow';

const instant = z.string().refine((s) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d{2}-\d{2}/.test(s), {
  message: 'expected an ISO-8601 date-time such as 2026-03-01T00:00:00Z',
});

export const scheduledExportInputSchema = z
  .object({
    connection: z.string().regex(CONNECTION_NAME, CONNECTION_NAME_HINT),
    /** Interval such as `15m`, `1h`, `1d` (exactly one of every and cron). */
    every: z.string().optional(),
    /** Five-field UTC cron expression or shorthand such as `@daily`. */
    cron: z.string().optional(),
    /** How long after a window ends its export starts (default 0s). */
    delay: z.string().optional(),
    /** The schedule that runs this, recorded in provenance as the trigger. */
    scheduleId: z.string().max(200).optional(),
    /** Export options passed on to every export this schedule starts. */
    options: exportOptionsSchema.partial().optional(),
    /** Only for runs not started by a schedule: the scheduled time to derive the window from. */
    at: instant.optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    try {
      parseCadence(v);
    } catch (err) {
      const message = err instanceof InvalidCadence ? err.message : String(err);
      const field = /^(every|cron|delay)\b/.exec(message)?.[1] ?? 'every';
      ctx.addIssue({ code: 'custom', path: [field], message: message.replace(/^(every|cron|delay): /, '') });
    }
  });

export type ScheduledExportInput = z.input<typeof scheduledExportInputSchema>;

export interface ScheduledExportResult {
  /** The window this run exported. */
  window: Window;
  /** The export's deterministic workflow id (`export:<connection>:<from>:<to>`). */
  exportWorkflowId: string;
  /** False when an export of this window was already running (started by an operator, the sweep or a backfill) and this run waited for it. */
  started: boolean;
  /** The scheduled time the window was derived from. */
  scheduledAt: string;
  result: ExportResult;
}

export const retentionSweepInputSchema = z
  .object({
    /** Only these connections (each must have a retention policy); default: every connection that has one. */
    connections: z.array(z.string().regex(CONNECTION_NAME, CONNECTION_NAME_HINT)).max(1000).optional(),
    /**
     * How many days before the deletion horizon to keep looking, so a window the platform has already
     * deleted without it ever being exported is reported (as at risk) for that long instead of vanishing.
     */
    lookbackDays: z.number().int().min(0).max(366).default(7),
    /** Plan and report, start nothing. */
    dryRun: z.boolean().default(false),
    /** Options for the exports the sweep starts. */
    options: exportOptionsSchema.partial().optional(),
    /** The sweep's notion of now; default the scheduled time (or the workflow's start time). For tests and what-ifs. */
    now: instant.optional(),
    /** Recorded in provenance as the trigger (the schedule id). */
    by: z.string().max(200).optional(),
  })
  .strict();

export type RetentionSweepInput = z.input<typeof retentionSweepInputSchema>;

export class InvalidTriggerInput extends Error {
  override readonly name = 'InvalidTriggerInput';
}

function parseWith<T extends z.ZodType>(schema: T, what: string, raw: unknown): z.output<T> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `${[...issue.path, k].join('.')}: unknown field`).join('; ');
    const field = issue.path.length ? issue.path.join('.') : 'input';
    return `${field}: ${issue.message}`;
  });
  throw new InvalidTriggerInput(`invalid ${what} input: ${problems.join('; ')}`);
}

export function parseScheduledExportInput(raw: unknown): z.output<typeof scheduledExportInputSchema> {
  return parseWith(scheduledExportInputSchema, 'scheduled export', raw);
}

export function parseRetentionSweepInput(raw: unknown): z.output<typeof retentionSweepInputSchema> {
  return parseWith(retentionSweepInputSchema, 'retention sweep', raw);
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

/** Schedule ids are per deployment (task queue prefix), so two deployments can share a namespace. */
export function exportScheduleId(taskQueue: string, connection: string): string {
  return `${taskQueue}-export-${connection}`;
}

export function retentionScheduleId(taskQueue: string): string {
  return `${taskQueue}-retention-sweep`;
}
