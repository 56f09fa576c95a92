/**
 * The custom search attributes of an export, as the Temporal UI's workflow list filters and shows
 * them (`CallvaultConnection = "bird-eu"`). The export workflow keeps them current; the dev stack
 * registers them at start, `callvault setup temporal` on any other cluster, and the worker refuses
 * to start where they are missing: upserting an attribute the server does not know fails every
 * workflow task of the export, which then hangs.
 */

/** The value types callvault uses, named as Temporal names them. */
export type SearchAttributeKind = 'KEYWORD' | 'INT' | 'DATETIME';

export const EXPORT_SEARCH_ATTRIBUTES = {
  connection: { name: 'CallvaultConnection', type: 'KEYWORD' },
  provider: { name: 'CallvaultProvider', type: 'KEYWORD' },
  trigger: { name: 'CallvaultTrigger', type: 'KEYWORD' },
  windowStart: { name: 'CallvaultWindowStart', type: 'DATETIME' },
  state: { name: 'CallvaultState', type: 'KEYWORD' },
  failedCount: { name: 'CallvaultFailedCount', type: 'INT' },
} as const satisfies Record<string, { name: string; type: SearchAttributeKind }>;

export type ExportSearchAttribute = (typeof EXPORT_SEARCH_ATTRIBUTES)[keyof typeof EXPORT_SEARCH_ATTRIBUTES];

/** Every attribute callvault needs on a namespace. */
export const CALLVAULT_SEARCH_ATTRIBUTES: readonly ExportSearchAttribute[] = Object.values(EXPORT_SEARCH_ATTRIBUTES);

/**
 * `CallvaultState`: where an export is. The three `completed*` values are also the export's
 * outcome (ExportResult.outcome), which the CLI's exit codes tell apart.
 */
export const EXPORT_STATES = [
  'running',
  'completed',
  'completed_with_final_failures',
  'completed_with_given_up',
  'failed',
  'cancelled',
] as const;
export type ExportStateName = (typeof EXPORT_STATES)[number];
