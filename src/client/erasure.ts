import type { Client, WorkflowHandle } from '@temporalio/client';
import { ERASE_WORKFLOW_TYPE, eraseProgressQuery, parseEraseInput, type EraseInput, type EraseResult } from '../contracts/erasure';
import { failureMessage } from './exports';

export type { EraseInput, EraseResult } from '../contracts/erasure';

/** `erase:<connection>:<when asked>`: one workflow per request; the tombstones name it. */
export function eraseWorkflowId(connection: string, at = new Date()): string {
  return `erase:${connection}:${at.toISOString()}`;
}

/** Starts an erasure (the input checked first, by the workflow's own rules). */
export async function startErase(
  client: Client,
  taskQueue: string,
  input: EraseInput,
  workflowId = eraseWorkflowId(input.connection),
): Promise<WorkflowHandle> {
  parseEraseInput(input);
  return client.workflow.start(ERASE_WORKFLOW_TYPE, {
    taskQueue,
    workflowId,
    args: [input],
    staticSummary: `erase on ${input.connection} by ${input.by}${input.dryRun ? ' (dry run)' : ''}`,
  });
}

/** Waits for the result, handing the counts so far to `onProgress` every `everyMs`. */
export async function watchErase(handle: WorkflowHandle, onProgress: (p: EraseResult) => void, everyMs = 1000): Promise<EraseResult> {
  const timer = setInterval(() => {
    handle.query(eraseProgressQuery).then(onProgress, () => undefined);
  }, everyMs);
  try {
    return (await handle.result()) as EraseResult;
  } catch (err) {
    throw new EraseFailed(`erase ${handle.workflowId} failed: ${failureMessage(err)}`, { cause: err });
  } finally {
    clearInterval(timer);
  }
}

export class EraseFailed extends Error {
  override readonly name = 'EraseFailed';
}
