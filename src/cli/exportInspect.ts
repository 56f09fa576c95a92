import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { connectClient, queryProgress } from '../client/exports';
import { failedText, windowTotals, type WindowTotals } from '../client/exportTotals';
import { stateText } from '../contracts/exportDescription';
import { FAILURE_CODE_MEANING, type FailureGroupCode } from '../contracts/exportFailures';
import type { ExportProgress } from '../contracts/exportResult';
import { formatBytes } from '../contracts/units';
import { ProvenanceStore, type ExportRecord } from '../provenance/store';
import type { ConfigSource } from './context';
import { EXIT, exitCodeFor } from './exitCodes';
import { exactExportId, describeTarget, type ExportTarget } from './exportTarget';

/** The latest run of a workflow as Temporal describes it, or null when Temporal does not know it (never started, or its history is gone). */
export async function describeOrNull(client: Client, workflowId: string): Promise<WorkflowExecutionDescription | null> {
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

/** The exit code of an export's state: running, failed, or completed with what its window's rows say. */
export function stateExitCode(temporalStatus: string | null, row: ExportRecord | null, totals: WindowTotals): number {
  const status = temporalStatus ?? (row?.status === 'completed' ? 'COMPLETED' : 'FAILED');
  if (status === 'RUNNING') return EXIT.running;
  return status === 'COMPLETED' ? exitCodeFor(totals.outcome) : EXIT.error;
}

/** `callvault export status`: Temporal's state, the window's totals across runs, the latest run's counters. */
export async function statusCommand(config: ConfigSource, target: ExportTarget, opts: { json?: boolean }): Promise<void> {
  const cfg = config();
  const workflowId = exactExportId(target);
  const { client, close } = await connectClient(cfg);
  const provenance = ProvenanceStore.connect(cfg.database.url, 1);
  try {
    const [description, row, files] = await Promise.all([
      describeOrNull(client, workflowId),
      provenance.exportRow(workflowId),
      provenance.exportFileSummary(workflowId),
    ]);
    if (!description && !row) {
      console.error(`callvault: no export ${workflowId}: Temporal and provenance have no trace of it`);
      process.exitCode = EXIT.unknown;
      return;
    }
    const temporalStatus = description?.status.name ?? null;
    const progress = temporalStatus === 'RUNNING' ? await queryProgress(client.workflow.getHandle(workflowId)) : null;
    const totals = windowTotals(files);
    const exitCode = stateExitCode(temporalStatus, row, totals);
    if (opts.json) {
      console.log(
        JSON.stringify(
          { workflowId, runId: description?.runId ?? null, temporalStatus, exitCode, totals, latestRun: row, progress, provenance: files },
          null,
          2,
        ),
      );
    } else printStatus(workflowId, temporalStatus, row, progress, totals, exitCode);
    process.exitCode = exitCode;
  } finally {
    await provenance.close();
    await close();
  }
}

function printStatus(
  workflowId: string,
  temporalStatus: string | null,
  row: ExportRecord | null,
  progress: ExportProgress | null,
  totals: WindowTotals,
  exitCode: number,
): void {
  const state = exitCode === EXIT.running || exitCode === EXIT.error ? '' : ` (${stateText(totals.outcome).toLowerCase()})`;
  console.log(`export ${workflowId}: ${temporalStatus ?? `unknown to Temporal (provenance: ${row?.status})`}${state}`);
  console.log(
    `  window totals (every run of this export): ${totals.stored} stored (${formatBytes(totals.storedBytes)}), ${failedText(totals)}`,
  );
  const counters = progress ?? row?.counters;
  if (counters) {
    const who = row
      ? `, started ${row.startedAt.toISOString()} by ${row.triggerKind}${row.triggeredBy ? ` (${row.triggeredBy})` : ''}`
      : '';
    const label = progress ? 'this run so far' : 'latest run';
    console.log(
      `  ${label}${who}: listed ${counters.listed}, transferred ${counters.transferred} (${formatBytes(counters.bytes)}), already stored ${counters.skipped}, failed ${counters.failed}`,
    );
  }
  if (row?.error) console.log(`  error: ${row.error}`);
  if (totals.failed > 0) console.log(`  failed files with reasons: callvault export failures ${workflowId}`);
  if (exitCode === EXIT.givenUp) console.log(`  fetch the given-up files again: callvault export retry ${workflowId}`);
}

interface ListOptions {
  connection?: string;
  status?: 'running' | 'completed' | 'failed' | 'cancelled';
  from?: string;
  to?: string;
  limit: number;
  json?: boolean;
}

/** `callvault export list`: exports from provenance, newest windows first, with their window totals; running ones checked against Temporal. */
export async function listCommand(config: ConfigSource, opts: ListOptions): Promise<void> {
  const cfg = config();
  const provenance = ProvenanceStore.connect(cfg.database.url, 1);
  const { client, close } = await connectClient(cfg);
  try {
    const rows = await provenance.listExports({
      ...(opts.connection ? { connection: opts.connection } : {}),
      ...(opts.status
        ? {
            status: opts.status === 'cancelled' ? 'failed' : opts.status,
            cancelled: opts.status === 'cancelled' ? true : opts.status === 'failed' ? false : undefined,
          }
        : {}),
      ...(opts.from || opts.to ? { window: { from: new Date(opts.from ?? '2000-01-01'), to: new Date(opts.to ?? '2101-01-01') } } : {}),
      limit: opts.limit,
    });
    const summaries = await provenance.exportFileSummaries(rows.map((r) => r.workflowId));
    const listed = [];
    for (const row of rows) {
      // A row left 'running' by an export that was terminated never finishes: ask Temporal.
      const temporal = row.status === 'running' ? ((await describeOrNull(client, row.workflowId))?.status.name ?? 'NOT_FOUND') : null;
      listed.push({ ...row, temporalStatus: temporal, totals: windowTotals(summaries.get(row.workflowId) ?? []) });
    }
    if (opts.json) return void console.log(JSON.stringify(listed, null, 2));
    if (listed.length === 0)
      return void console.log(
        `no exports${opts.connection ? ` of ${opts.connection}` : ''}${opts.status ? ` ${opts.status}` : ''}${opts.from || opts.to ? ' in that window' : ''}`,
      );
    console.log(['STATUS', 'WINDOW', 'TRIGGER', 'STORED', 'FAILED', 'WORKFLOW ID'].join('\t'));
    for (const e of listed) {
      const status =
        e.temporalStatus && e.temporalStatus !== 'RUNNING'
          ? `stale (Temporal: ${e.temporalStatus})`
          : e.status === 'failed' && e.error === 'cancelled'
            ? 'cancelled'
            : e.status;
      const window = e.from && e.to ? `${e.from.toISOString()} .. ${e.to.toISOString()}` : '(invalid input)';
      console.log(
        [
          status,
          window,
          `${e.triggerKind}${e.triggeredBy ? `:${e.triggeredBy}` : ''}`,
          e.totals.stored,
          failedText(e.totals),
          e.workflowId,
        ].join('\t'),
      );
    }
    if (listed.length === opts.limit) console.log(`(the first ${opts.limit}; --limit shows more)`);
  } finally {
    await close();
    await provenance.close();
  }
}

/** The exports a target names: the one id, or every export of the connection overlapping the window. */
export async function targetExportIds(provenance: ProvenanceStore, target: ExportTarget): Promise<string[]> {
  if ('workflowId' in target) return [target.workflowId];
  const rows = await provenance.listExports({
    connection: target.connection,
    window: { from: new Date(target.from), to: new Date(target.to) },
    limit: MAX_WINDOW_EXPORTS,
  });
  return rows.map((r) => r.workflowId);
}

/** Exports one window command looks at, at most (a year of hourly exports). */
export const MAX_WINDOW_EXPORTS = 10_000;

/** `callvault export failures`: every failed file of the target with its code and reason, a page at a time. */
export async function failuresCommand(config: ConfigSource, target: ExportTarget, opts: { json?: boolean }): Promise<void> {
  const cfg = config();
  const provenance = ProvenanceStore.connect(cfg.database.url, 1);
  try {
    const ids = await targetExportIds(provenance, target);
    if (ids.length === 0 || ('workflowId' in target && !(await provenance.exportRow(target.workflowId)))) {
      console.error(`callvault: no ${describeTarget(target)} in provenance`);
      process.exitCode = EXIT.unknown;
      return;
    }
    const totals = windowTotals([...(await provenance.exportFileSummaries(ids)).values()].flat());
    const out = opts.json ? jsonFailureWriter(totals) : textFailureWriter(totals, describeTarget(target), ids.length);
    for await (const page of provenance.failedFilePages(ids)) for (const f of page) out.file(f);
    out.end();
    process.exitCode = exitCodeFor(totals.outcome);
  } finally {
    await provenance.close();
  }
}

interface FailureWriter {
  file(f: {
    workflowId: string;
    sourceId: string;
    kind: string;
    conversationId: string;
    failureCode: string | null;
    failureReason: string | null;
  }): void;
  end(): void;
}

function textFailureWriter(totals: WindowTotals, what: string, exports: number): FailureWriter {
  console.log(`${totals.failed} failed files in ${what}${exports > 1 ? ` (${exports} exports)` : ''}; ${totals.stored} stored`);
  for (const [code, n] of Object.entries(totals.failedByCode))
    console.log(`  ${code} × ${n}: ${FAILURE_CODE_MEANING[code as FailureGroupCode] ?? code}`);
  if (totals.failed > 0)
    console.log(['CODE', 'SOURCE ID', 'KIND', 'CONVERSATION', 'REASON', ...(exports > 1 ? ['EXPORT'] : [])].join('\t'));
  return {
    file: (f) =>
      console.log(
        [
          f.failureCode ?? '-',
          f.sourceId,
          f.kind,
          f.conversationId,
          oneLine(f.failureReason ?? ''),
          ...(exports > 1 ? [f.workflowId] : []),
        ].join('\t'),
      ),
    end: () => undefined,
  };
}

/** One JSON document, written as rows arrive: `{"totals": {...}, "files": [...]}`. */
function jsonFailureWriter(totals: WindowTotals): FailureWriter {
  process.stdout.write(`{"totals":${JSON.stringify(totals)},"files":[`);
  let first = true;
  return {
    file(f) {
      process.stdout.write(`${first ? '\n' : ',\n'}${JSON.stringify(f)}`);
      first = false;
    },
    end: () => void process.stdout.write('\n]}\n'),
  };
}

function oneLine(text: string): string {
  return text.replace(/[\t\r\n]+/g, ' ');
}
