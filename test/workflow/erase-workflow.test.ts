import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities';
import {
  ERASE_WORKFLOW_TYPE,
  type EraseFilesInput,
  type EraseInput,
  type EraseResult,
  type PlanErasureInput,
  type PlannedErasure,
} from '../../src/contracts/erasure';
import { FailureType } from '../../src/contracts/failures';
import { localTemporal } from './localServer';

/**
 * The erase workflow on a real Temporal dev server, activities mocked: it pages through the plan,
 * erases page by page (a dry run never calls eraseFiles), counts each outcome, fails at once on a
 * bad input, and does not retry an error no retry can fix.
 */
const repo = join(__dirname, '..', '..');
const QUEUE = 'erase-wf-test';
let env: TestWorkflowEnvironment;
let runs = 0;

interface Trace {
  plans: PlanErasureInput[];
  erasures: EraseFilesInput[];
}

const file = (id: string, refused?: string): PlannedErasure => ({
  sourceId: id,
  conversationId: 'c',
  sha256: 'h',
  objects: [{ key: `k/${id}`, versionId: 'v1' }],
  ...(refused ? { refused } : {}),
});

function activities(pages: PlannedErasure[][], trace: Trace, eraseError?: () => Error): Pick<Activities, 'planErasure' | 'eraseFiles'> {
  return {
    async planErasure(input) {
      trace.plans.push(input);
      const n = input.after === null ? 0 : Number(input.after);
      return { files: pages[n] ?? [], next: n + 1 < pages.length ? String(n + 1) : null };
    },
    async eraseFiles(input) {
      trace.erasures.push(input);
      if (eraseError) throw eraseError();
      return input.sourceIds.map((id) =>
        id.startsWith('held')
          ? { sourceId: id, outcome: 'refused' as const, reason: 'legal hold' }
          : id.startsWith('gone')
            ? { sourceId: id, outcome: 'gone' as const }
            : { sourceId: id, outcome: 'erased' as const, deleted: [{ key: `k/${id}`, versionId: 'v1' }] },
      );
    },
  };
}

async function runErase(
  input: unknown,
  pages: PlannedErasure[][],
  eraseError?: () => Error,
): Promise<{ result?: EraseResult; error?: Error; trace: Trace; workflowId: string }> {
  const trace: Trace = { plans: [], erasures: [] };
  const workflowId = `erase:test:${runs++}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: QUEUE,
    workflowBundle: { codePath: join(repo, 'dist', 'workflow-bundle.js') },
    activities: activities(pages, trace, eraseError),
  });
  return worker.runUntil(async () => {
    try {
      return {
        result: (await env.client.workflow.execute(ERASE_WORKFLOW_TYPE, { taskQueue: QUEUE, workflowId, args: [input] })) as EraseResult,
        trace,
        workflowId,
      };
    } catch (err) {
      return { error: err as Error, trace, workflowId };
    }
  });
}

const input: EraseInput = { connection: 'bird-eu', conversationIds: ['c'], by: 'dpo', reason: 'GDPR 7' };

beforeAll(async () => {
  env = await localTemporal();
}, 60_000);

afterAll(async () => {
  await env?.teardown();
});

describe('the erase workflow', () => {
  it('erases page by page, naming itself in the tombstones, and counts each outcome', async () => {
    const { result, trace, workflowId } = await runErase(input, [
      [file('a'), file('held-b')],
      [file('gone-c'), file('d')],
    ]);
    expect(trace.plans.map((p) => p.after)).toEqual([null, '1']);
    expect(trace.plans[0]).toMatchObject({ connection: 'bird-eu', selection: { conversationIds: ['c'] } });
    expect(trace.erasures.map((e) => e.sourceIds)).toEqual([
      ['a', 'held-b'],
      ['gone-c', 'd'],
    ]);
    expect(trace.erasures[0]).toMatchObject({ by: 'dpo', reason: 'GDPR 7', workflowId });
    expect(result).toMatchObject({
      dryRun: false,
      matched: 3,
      erased: 2,
      refused: 1,
      gone: 1,
      versionsDeleted: 2,
      refusals: [{ sourceId: 'held-b', reason: 'legal hold' }],
    });
  });

  it('only plans in a dry run, reporting what it would erase and refuse', async () => {
    const { result, trace } = await runErase({ ...input, dryRun: true }, [
      [file('a'), file('b', 'COMPLIANCE retention until 2033-01-01T00:00:00.000Z on k/b version v1')],
      [file('c')],
    ]);
    expect(trace.plans).toHaveLength(2);
    expect(trace.erasures).toEqual([]);
    expect(result).toMatchObject({ dryRun: true, matched: 3, erased: 2, refused: 1, files: [{ sourceId: 'a' }, { sourceId: 'c' }] });
    expect(result!.refusals[0]!.reason).toMatch(/COMPLIANCE retention until 2033/);
  });

  it('calls no activity for a selection that matches nothing', async () => {
    const { result, trace } = await runErase(input, [[]]);
    expect(trace.erasures).toEqual([]);
    expect(result).toMatchObject({ matched: 0, erased: 0 });
  });

  it('fails at once on a bad input, naming the field, before any activity', async () => {
    const { error, trace } = await runErase({ connection: 'bird-eu', conversationIds: ['c'], sourceIds: ['r'], by: 'dpo' }, [[file('a')]]);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe(FailureType.InvalidInput);
    expect(cause.message).toMatch(/^invalid erase input: .*not several; reason: expected a string/);
    expect(trace.plans).toEqual([]);
  });

  it('does not retry an error no retry can fix', async () => {
    const { error, trace } = await runErase(input, [[file('a')]], () =>
      ApplicationFailure.nonRetryable('connection: unknown connection', FailureType.Configuration),
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(((error as WorkflowFailedError).cause as ApplicationFailure).message).toMatch(/unknown connection/);
    expect(trace.erasures).toHaveLength(1);
  });
});
