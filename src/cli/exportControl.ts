import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { connectClient, failureMessage, startExport, type StartedExport } from '../client/exports';
import { failedText, windowTotals, type WindowTotals } from '../client/exportTotals';
import { connectionByName } from '../config/load';
import type { CallvaultConfig } from '../config/schema';
import type { ExportInput } from '../contracts/exportInput';
import type { ExportResult } from '../contracts/exportResult';
import { ProvenanceStore, type ExportRecord } from '../provenance/store';
import type { ConfigSource } from './context';
import { EXIT, exitCodeFor } from './exitCodes';
import { describeOrNull, targetExportIds } from './exportInspect';
import { describeTarget, exactExportId, type ExportTarget } from './exportTarget';

/** `callvault export cancel`: asks Temporal to cancel the export and waits (bounded) until it has ended. */
export async function cancelCommand(config: ConfigSource, target: ExportTarget, opts: { waitSeconds: number }): Promise<void> {
  const workflowId = exactExportId(target);
  const { client, close } = await connectClient(config());
  try {
    const before = await describeOrNull(client, workflowId);
    if (!before) {
      console.error(`callvault: no export ${workflowId} in Temporal`);
      process.exitCode = EXIT.unknown;
      return;
    }
    if (before.status.name !== 'RUNNING') {
      const cancelled = before.status.name === 'CANCELLED';
      console.log(
        `export ${workflowId} is not running (${before.status.name})${cancelled ? ': cancelled already' : ': nothing to cancel'}`,
      );
      process.exitCode = cancelled ? EXIT.completed : EXIT.error;
      return;
    }
    await client.workflow.getHandle(workflowId).cancel();
    const after = await endedWithin(client, workflowId, opts.waitSeconds * 1000);
    if (after === 'RUNNING') {
      console.log(
        `asked export ${workflowId} to cancel; it has not ended after ${opts.waitSeconds} s (a transfer in flight stops at its next heartbeat)`,
      );
      process.exitCode = EXIT.running;
      return;
    }
    console.log(
      `export ${workflowId}: ${after}. Files it stored stay stored, with their rows; its row in callvault.exports says failed: cancelled. ` +
        'Starting the same window again exports only what is missing.',
    );
  } finally {
    await close();
  }
}

async function endedWithin(client: Client, workflowId: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const status = (await describeOrNull(client, workflowId))?.status.name ?? 'NOT_FOUND';
    if (status !== 'RUNNING' || Date.now() >= deadline) return status;
    await sleep(250);
  }
}

interface RetryOptions {
  wait: boolean;
  by?: string;
  maxInFlight?: number;
  maxAttempts?: number;
}

/**
 * `callvault export retry`: runs the export of each window that has failed files again, under the
 * same workflow id. Only failed files are fetched: the listing leaves out every file provenance
 * has stored, so the new run transfers the failed ones (and any the platform added since).
 */
export async function retryCommand(config: ConfigSource, target: ExportTarget, opts: RetryOptions): Promise<void> {
  const cfg = config();
  const provenance = ProvenanceStore.connect(cfg.database.url, 1);
  const { client, close } = await connectClient(cfg);
  try {
    const plan = await retryPlan(provenance, client, target);
    if (plan === 'unknown') {
      console.error(`callvault: no ${describeTarget(target)} in provenance`);
      process.exitCode = EXIT.unknown;
      return;
    }
    if (plan.length === 0) return void console.log(`nothing to retry: no failed files in ${describeTarget(target)}`);
    const started = [];
    for (const p of plan) started.push({ ...p, run: await startRetry(cfg, client, p.row, opts) });
    if (!opts.wait) return;
    let exitCode: number = EXIT.completed;
    for (const s of started) exitCode = worse(exitCode, await awaitRetry(provenance, s.run, s.before));
    process.exitCode = exitCode;
  } finally {
    await close();
    await provenance.close();
  }
}

interface RetryItem {
  row: ExportRecord & { from: Date; to: Date };
  before: WindowTotals;
}

/** The exports of the target with failed files, that are not running (whose failures are final for now). */
async function retryPlan(provenance: ProvenanceStore, client: Client, target: ExportTarget): Promise<RetryItem[] | 'unknown'> {
  const ids = await targetExportIds(provenance, target);
  const summaries = await provenance.exportFileSummaries(ids);
  const plan: RetryItem[] = [];
  let known = 0;
  for (const id of ids) {
    const row = await provenance.exportRow(id);
    if (!row) continue;
    known++;
    const before = windowTotals(summaries.get(id) ?? []);
    if (before.failed === 0 || !row.from || !row.to) continue;
    if ((await describeOrNull(client, id))?.status.name === 'RUNNING') {
      console.log(`export ${id} is still running: its failed files are final once it ends; retry then`);
      continue;
    }
    plan.push({ row: { ...row, from: row.from, to: row.to }, before });
  }
  return known === 0 ? 'unknown' : plan;
}

async function startRetry(cfg: CallvaultConfig, client: Client, row: RetryItem['row'], opts: RetryOptions): Promise<StartedExport> {
  connectionByName(cfg, row.connection); // a connection this deployment lacks would only fail in the worker
  const by = opts.by ?? process.env.USER;
  const input: ExportInput = {
    connection: row.connection,
    from: row.from.toISOString(),
    to: row.to.toISOString(),
    trigger: { kind: 'cli', ...(by ? { by } : {}) },
    options: {
      ...(opts.maxInFlight ? { maxInFlight: opts.maxInFlight } : {}),
      ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}),
    },
  };
  const run = await startExport(client, cfg.temporal.taskQueue, input);
  console.log(
    `retrying the failed files of export ${run.workflowId} (run ${run.runId}): stored files are skipped, only the others are fetched`,
  );
  return run;
}

/** Waits for one retried export and says what became of its failed files; returns its exit code. */
async function awaitRetry(provenance: ProvenanceStore, run: StartedExport, before: WindowTotals): Promise<number> {
  try {
    await (run.handle.result() as Promise<ExportResult>);
  } catch (err) {
    console.log(`export ${run.workflowId} failed: ${failureMessage(err)}`);
    return EXIT.error;
  }
  const after = windowTotals(await provenance.exportFileSummary(run.workflowId));
  console.log(
    `export ${run.workflowId}: ${Math.max(0, after.stored - before.stored)} of ${before.failed} failed files stored now; ${failedText(after)}`,
  );
  return exitCodeFor(after.outcome);
}

/** The exit code that says more is wrong: an error, then given-up files, then final failures. */
function worse(a: number, b: number): number {
  const rank = (c: number) => [EXIT.completed, EXIT.finalFailures, EXIT.givenUp, EXIT.error].indexOf(c as 0 | 1 | 3 | 4);
  return rank(b) > rank(a) ? b : a;
}
