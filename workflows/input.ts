import { z } from 'zod';
import { CONNECTION_NAME, CONNECTION_NAME_HINT } from '../src/config/names';

/**
 * The export workflow's one JSON argument. It is what an operator pastes into the Temporal UI,
 * what a schedule sends and what the CLI builds, so it is validated strictly and every error
 * names its field. It names a connection; credentials never travel in it.
 */
const instant = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(s) && !Number.isNaN(Date.parse(s)), {
    message: 'expected an ISO-8601 date (2026-01-31) or date-time (2026-01-31T00:00:00Z)',
  })
  .transform((s) => new Date(/T| /.test(s) && !/(Z|[+-]\d{2}:?\d{2})$/.test(s) ? `${s}Z` : s).toISOString());

export const exportOptionsSchema = z
  .object({
    /** Transfer activities in flight at once for this export (well under Temporal's 2,000 pending limit). */
    maxInFlight: z.number().int().min(1).max(500).default(8),
    /** How long a transfer may go without a heartbeat before Temporal hands it to another worker. */
    heartbeatTimeoutSeconds: z.number().int().min(2).max(3600).default(60),
    /** Attempts per transfer before its files are recorded as failed (a rerun tries them again). */
    maxAttempts: z.number().int().min(1).max(1000).default(10),
    /** Longest retry delay for transfers, in seconds. */
    maxRetryIntervalSeconds: z.number().int().min(1).max(3600).default(120),
    /** How long to keep waiting for a file the platform says is not ready yet. */
    notReadyMaxWaitHours: z.number().min(0).max(24 * 30).default(72),
  })
  .strict();

export const triggerSchema = z
  .object({
    kind: z.enum(['operator', 'cli', 'schedule', 'retention', 'api']),
    /** Who or what: a user name, schedule id or policy name. Free text, kept in provenance. */
    by: z.string().max(200).optional(),
  })
  .strict();

export const exportInputSchema = z
  .object({
    connection: z.string().regex(CONNECTION_NAME, CONNECTION_NAME_HINT),
    from: instant,
    to: instant,
    trigger: triggerSchema.default({ kind: 'operator' }),
    options: exportOptionsSchema.default(exportOptionsSchema.parse({})),
  })
  .strict()
  .refine((v) => Date.parse(v.from) < Date.parse(v.to), { message: 'must be later than from', path: ['to'] });

export type ExportInput = z.input<typeof exportInputSchema>;
export type ValidExportInput = z.output<typeof exportInputSchema>;
export type ExportOptions = z.output<typeof exportOptionsSchema>;

export class InvalidExportInput extends Error {
  override readonly name = 'InvalidExportInput';
}

/** Validates an export input; the error message lists every bad field as `field: problem`. */
export function parseExportInput(raw: unknown): ValidExportInput {
  const parsed = exportInputSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `${[...issue.path, k].join('.')}: unknown field`).join('; ');
    const field = issue.path.length ? issue.path.join('.') : 'input';
    return `${field}: ${issue.message}`;
  });
  throw new InvalidExportInput(`invalid export input: ${problems.join('; ')}`);
}

/**
 * One export per connection and window: the same window asked for twice (by a schedule, the
 * retention sweep and an operator) maps onto the same workflow id, so it runs once.
 */
export function exportWorkflowId(input: Pick<ValidExportInput, 'connection' | 'from' | 'to'>): string {
  return `export:${input.connection}:${input.from}:${input.to}`;
}
