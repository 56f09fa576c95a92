import { FAILURE_CODE_MEANING, type FailureSummary } from './exportFailures';
import type { ExportInput, Trigger } from './exportInput';
import type { ExportProgress } from './exportResult';
import type { ExportStateName } from './searchAttributes';
import { formatBytes } from './units';

/**
 * What the Temporal UI shows of an export besides its id: a one-line summary (set when it starts),
 * details (markdown, also at the start), and current details the workflow keeps up to date. Text
 * for people, built in one place for the client that starts exports and the workflow that runs them.
 */

/** `2026-03-01` for a midnight, else the instant as given. */
function instantText(value: string): string {
  return /^\d{4}-\d{2}-\d{2}(T00:00(:00(\.000)?)?(Z|[+-]00:00)?)?$/.test(value) ? value.slice(0, 10) : value;
}

function triggerText(trigger: Trigger | undefined): string {
  if (!trigger) return 'operator';
  return trigger.by ? `${trigger.kind}: ${trigger.by}` : trigger.kind;
}

/** `bird-eu 2026-03-01 → 2026-03-02 (cli: jane)`: the UI's summary line of an export. */
export function exportSummary(input: Pick<ExportInput, 'connection' | 'from' | 'to' | 'trigger'>): string {
  return `${input.connection} ${instantText(input.from)} → ${instantText(input.to)} (${triggerText(input.trigger)})`;
}

/** The export's details as set at its start: what it is, and where to look for more. */
export function exportStaticDetails(input: Pick<ExportInput, 'connection' | 'from' | 'to' | 'trigger'>, workflowId: string): string {
  return [
    `**Export** of connection \`${input.connection}\`, window \`${input.from}\` (inclusive) to \`${input.to}\` (exclusive), started by ${triggerText(input.trigger)}.`,
    '',
    'Progress: the `progress` query, and *Current Details* here. Failed files with their reasons: the `failures` query and the result;',
    `all of them: \`callvault export failures ${workflowId}\`.`,
  ].join('\n');
}

/** An export's state in words (`Completed, some files given up`). */
export function stateText(state: ExportStateName | 'starting'): string {
  return STATE_TEXT[state];
}

const STATE_TEXT: Record<ExportStateName | 'starting', string> = {
  starting: 'Starting',
  running: 'Running',
  completed: 'Completed',
  completed_with_final_failures: 'Completed, some files gone for good',
  completed_with_given_up: 'Completed, some files given up',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** Sample files shown per failure code in the details; the query and the result have more. */
const DETAIL_SAMPLE = 3;

/** The export's current details: where it is, its counters, and its failed files by code with examples. */
export function exportCurrentDetails(
  state: ExportStateName | 'starting',
  p: Omit<ExportProgress, 'state' | 'connection' | 'window'>,
  failures: FailureSummary,
): string {
  const done = p.transferred + p.skipped + p.failed;
  const listed = p.listingDone ? `${p.listed}` : `${p.listed}+`;
  const lines = [
    `**${STATE_TEXT[state]}**: ${done} of ${listed} files done: ${p.transferred} stored (${formatBytes(p.bytes)}), ${p.skipped} already stored, ${p.failed} failed`,
  ];
  const activity = [
    p.inFlight ? `${p.inFlight} transfers in flight` : '',
    p.waiting ? `${p.waiting} waiting (not ready)` : '',
    p.retrying ? `${p.retrying} waiting to retry` : '',
  ].filter(Boolean);
  if (activity.length) lines.push('', activity.join(' · '));
  if (failures.total > 0) {
    lines.push('', `**Failed files** (${failures.total}):`);
    for (const g of failures.groups) {
      const examples = g.sample.slice(0, DETAIL_SAMPLE).map((f) => `\`${f.sourceId}\`: ${f.reason}`);
      lines.push(`- \`${g.code}\` × ${g.count}: ${FAILURE_CODE_MEANING[g.code]}`, ...examples.map((e) => `  - ${e}`));
    }
  }
  return lines.join('\n');
}
