import { ApplicationFailure, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  emptyEraseResult,
  eraseProgressQuery,
  parseEraseInput,
  selectionOf,
  tallyErased,
  tallyPlanned,
  type EraseInput,
  type EraseResult,
  type PlanErasureResult,
  type ValidEraseInput,
} from '../src/contracts/erasure';
import { DETERMINISTIC_FAILURE_TYPES, FailureType } from '../src/contracts/failures';
import { InvalidTriggerInput } from '../src/contracts/triggerInput';
import { rethrowCause } from './schedule';

const erasure = proxyActivities<Pick<Activities, 'planErasure' | 'eraseFiles'>>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '2 minutes',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '1 minute',
    maximumAttempts: 10,
    nonRetryableErrorTypes: DETERMINISTIC_FAILURE_TYPES,
  },
});

/** Files per page: a planned page (ids, hash, version refs) stays far below the payload limits. */
const PAGE = 100;

/**
 * Erases the files of one connection that a selection names (conversations, source ids or a
 * window): page by page, plan the files, then (unless a dry run) erase them, each under a lock on
 * its provenance row: every version of its objects deleted, or the file refused with the reason (a
 * legal hold, a retention in force), and a tombstone written that keeps it out of every later
 * export. The result counts the files and names the first of each outcome.
 */
export async function eraseWorkflow(rawInput: EraseInput): Promise<EraseResult> {
  let input: ValidEraseInput;
  try {
    input = parseEraseInput(rawInput);
  } catch (err) {
    if (err instanceof InvalidTriggerInput) throw ApplicationFailure.nonRetryable(err.message, FailureType.InvalidInput);
    throw err;
  }
  const result = emptyEraseResult(input);
  setHandler(eraseProgressQuery, () => result);
  const selection = selectionOf(input);
  let after: string | null = null;
  do {
    const page: PlanErasureResult = await erasure
      .planErasure({ connection: input.connection, selection, after, limit: PAGE, inspect: input.dryRun })
      .catch(rethrowCause);
    if (input.dryRun) tallyPlanned(result, page.files);
    else if (page.files.length > 0) {
      const sourceIds = page.files.map((f) => f.sourceId);
      const who = { by: input.by, reason: input.reason, workflowId: workflowInfo().workflowId };
      tallyErased(result, await erasure.eraseFiles({ connection: input.connection, sourceIds, ...who }).catch(rethrowCause));
    }
    after = page.next;
  } while (after !== null);
  return result;
}
