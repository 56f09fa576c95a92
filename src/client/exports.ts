import { randomUUID } from 'node:crypto';
import { type Client, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { EXPORT_WORKFLOW_TYPE, progressQuery, type ExportProgress, type ExportResult } from '../contracts/exportResult';
import { exportWorkflowId, parseExportInput, type ExportInput } from '../contracts/exportInput';
import { errorMessage } from '../contracts/failures';
import { exportStaticDetails, exportSummary } from '../contracts/exportDescription';

export { connectClient, type Connected } from './temporalConnection';

export interface StartedExport {
  workflowId: string;
  runId: string;
  /** False when an export of this window was already running and we attached to it. */
  started: boolean;
  handle: WorkflowHandle;
}

/**
 * Starts the export of a window, or attaches to the one already running for it: the workflow id
 * is derived from connection and window, and the conflict policy is USE_EXISTING. A finished
 * export may be started again; it then transfers only what is missing.
 */
export async function startExport(client: Client, taskQueue: string, raw: ExportInput): Promise<StartedExport> {
  const input = parseExportInput(raw); // fail here, with the same message the workflow would give
  const workflowId = exportWorkflowId(input);
  // USE_EXISTING answers with the running execution's run id either way; the memo of that run
  // tells whether it is the one this request created or one that was already running.
  const startRequest = randomUUID();
  const handle = await client.workflow.start(EXPORT_WORKFLOW_TYPE, {
    taskQueue,
    workflowId,
    args: [raw],
    memo: { startRequest },
    // The Temporal UI's summary line and details of the export (its search attributes come from the workflow).
    staticSummary: exportSummary(input),
    staticDetails: exportStaticDetails(input, workflowId),
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
  const run = await client.workflow.getHandle(workflowId, handle.firstExecutionRunId).describe();
  return { workflowId, runId: run.runId, started: run.memo?.startRequest === startRequest, handle };
}

export async function queryProgress(handle: WorkflowHandle): Promise<ExportProgress | null> {
  try {
    return await handle.query(progressQuery);
  } catch {
    // Not answerable yet (no worker has picked it up) or already closed without a worker.
    return null;
  }
}

/** Waits for the export's result, reporting progress as it goes. */
export async function watchExport(
  handle: WorkflowHandle,
  onProgress: (progress: ExportProgress) => void,
  intervalMs = 1000,
): Promise<ExportResult> {
  let done = false;
  const result = (handle.result() as Promise<ExportResult>).finally(() => (done = true));
  const poll = (async () => {
    while (!done) {
      const progress = await queryProgress(handle);
      if (progress && !done) onProgress(progress);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  try {
    return await result;
  } finally {
    await poll;
  }
}

/** The innermost failure message of a failed workflow (an export, a sweep), for people. */
export function failureMessage(err: unknown): string {
  let e: unknown = err instanceof WorkflowFailedError ? err.cause : err;
  while (e instanceof Error && (e as { cause?: unknown }).cause instanceof Error) e = (e as { cause: Error }).cause;
  return errorMessage(e);
}
