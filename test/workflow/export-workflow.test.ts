import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities';
import type { GivenUp, ItemResult, RecordFailuresInput, TransferBatchInput } from '../../src/contracts/transfer';
import type { SourceItem } from '../../src/contracts/sourceItem';
import { EXPORT_WORKFLOW_TYPE, type ExportResult } from '../../src/contracts/exportResult';
import { exportWorkflowId, type ExportInput } from '../../src/contracts/exportInput';
import { localTemporal } from './localServer';

/**
 * The export workflow's state machine on a real Temporal dev server, with activities mocked in
 * this process: per-file tries, giving up with a file's own reason, "not ready" timeouts, a batch
 * that fails as a whole, and a fatal error with work in flight. (Temporal's time-skipping test
 * server downloads itself from the internet, which this machine cannot reach; the options below
 * keep every wait to a second.)
 */
const repo = join(__dirname, '..', '..');
const QUEUE = 'wf-test';
const DAY = 24 * 3600 * 1000;
let env: TestWorkflowEnvironment;
let windows = 0;

const item = (id: string): SourceItem => ({
  sourceId: id,
  conversationId: 'c',
  kind: 'recording',
  createdAt: '2026-01-01T00:00:00Z',
  extension: '.mp3',
  locator: {},
});

interface Script {
  /** The listing: pages of ids. */
  pages: string[][];
  /** One file's answer on its n-th try (1-based); stored by default. */
  answer?: (id: string, tryNo: number) => ItemResult | 'throw' | 'fatal' | undefined;
  /** Milliseconds a batch takes. */
  batchMs?: number;
  /** The plan's word that the transfer queue's starts are what is scarce (a tight rate limit). */
  startsAreScarce?: boolean;
}

interface Trace {
  tries: Map<string, number>;
  batches: string[][];
  givenUp: GivenUp[];
  finished: Array<{ outcome: string; error?: string }>;
}

/** A wait that ends early when the worker cancels the activity (a cancelled workflow, a shutdown). */
function pause(ms: number): Promise<void> {
  const signal = Context.current().cancellationSignal;
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function activities(script: Script, trace: Trace): Partial<Activities> {
  return {
    async describeConnection() {
      const scarce = script.startsAreScarce === undefined ? {} : { startsAreScarce: script.startsAreScarce };
      return { provider: 'fake', listTaskQueue: QUEUE, transferTaskQueue: QUEUE, batchSize: 4, ...scarce };
    },
    async beginExport() {},
    async recordFailedStart() {},
    async finishExport(input) {
      trace.finished.push({ outcome: input.outcome, ...(input.error ? { error: input.error } : {}) });
    },
    async listPage(input) {
      const n = input.cursor === null ? 0 : Number(input.cursor);
      return {
        items: (script.pages[n] ?? []).map(item),
        alreadyStored: [],
        nextCursor: n + 1 < script.pages.length ? String(n + 1) : null,
      };
    },
    async transferBatch(input: TransferBatchInput) {
      trace.batches.push(input.tasks.map((t) => t.item.sourceId));
      if (script.batchMs) await pause(script.batchMs);
      const results: ItemResult[] = [];
      for (const task of input.tasks) {
        const id = task.item.sourceId;
        const tryNo = (trace.tries.get(id) ?? 0) + 1;
        trace.tries.set(id, tryNo);
        const answer = script.answer?.(id, tryNo) ?? { sourceId: id, outcome: 'stored', bytes: 1 };
        if (answer === 'throw') throw ApplicationFailure.create({ message: `worker crashed on ${id}`, type: 'Crash', nonRetryable: true });
        if (answer === 'fatal') throw ApplicationFailure.nonRetryable('the platform refused the credentials', 'CredentialsRejected');
        results.push(answer);
      }
      return results;
    },
    async recordFailures(input: RecordFailuresInput) {
      trace.givenUp.push(...input.failures);
      return { recorded: input.failures.length, storedByThisExport: 0, bytes: 0 };
    },
  };
}

async function runExport(
  script: Script,
  options: ExportInput['options'] = {},
): Promise<{ result?: ExportResult; error?: Error; trace: Trace }> {
  const trace: Trace = { tries: new Map(), batches: [], givenUp: [], finished: [] };
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: QUEUE,
    workflowBundle: { codePath: join(repo, 'dist', 'workflow-bundle.js') },
    activities: activities(script, trace),
  });
  // A window of its own per export, so no two tests share a workflow id.
  const from = new Date(Date.UTC(2026, 0, 1) + windows++ * DAY).toISOString();
  const to = new Date(Date.parse(from) + DAY).toISOString();
  const input: ExportInput = { connection: 'fake', from, to, options: { maxRetryIntervalSeconds: 1, maxAttempts: 3, ...options } };
  const workflowId = exportWorkflowId({ connection: 'fake', from, to });
  return worker.runUntil(async () => {
    try {
      const result = await env.client.workflow.execute(EXPORT_WORKFLOW_TYPE, { taskQueue: QUEUE, workflowId, args: [input] });
      return { result: result as ExportResult, trace };
    } catch (err) {
      return { error: err as Error, trace };
    }
  });
}

beforeAll(async () => {
  env = await localTemporal();
}, 60_000);

afterAll(async () => {
  await env?.teardown();
});

describe('export workflow: each file keeps its own tries', () => {
  it('tries again only the file that failed; its batch neighbours are tried once', async () => {
    const { result, trace } = await runExport({
      pages: [
        ['a', 'b', 'c', 'd'],
        ['e', 'f'],
      ],
      answer: (id, n) => (id === 'b' && n < 3 ? { sourceId: id, outcome: 'retry', reason: `b: HTTP 503 (try ${n})` } : undefined),
    });
    expect(result).toMatchObject({ listed: 6, transferred: 6, failed: 0, skipped: 0 });
    expect(trace.tries.get('b')).toBe(3);
    for (const id of ['a', 'c', 'd', 'e', 'f']) expect(trace.tries.get(id), id).toBe(1);
    expect(trace.givenUp).toEqual([]);
  });

  it('spreads the first page over free slots, but sends it in full batches when the plan says starts are scarce', async () => {
    const pages = [['a1', 'a2', 'a3', 'a4', 'a5', 'a6'], ['b1']];
    // Spread, the six files of the first page go out as six one-file batches (which starts first varies).
    const spread = await runExport({ pages, batchMs: 300 });
    expect(spread.trace.batches.map((b) => b.length)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    // Filled, one batch of four goes alone; the two left wait for the next page.
    const filled = await runExport({ pages, batchMs: 300, startsAreScarce: true });
    expect(filled.trace.batches[0]).toEqual(['a1', 'a2', 'a3', 'a4']);
    expect(filled.result).toMatchObject({ listed: 7, transferred: 7 });
  });

  it('gives a file up with its own last error when its tries are spent, and only that file', async () => {
    const { result, trace } = await runExport({
      pages: [['ok-1', 'bad', 'ok-2']],
      answer: (id, n) => (id === 'bad' ? { sourceId: id, outcome: 'retry', reason: `bad: connection reset (try ${n})` } : undefined),
    });
    expect(result).toMatchObject({ listed: 3, transferred: 2, failed: 1 });
    expect(trace.givenUp).toEqual([{ item: item('bad'), code: 'gave_up', reason: 'gave up after 3 tries: bad: connection reset (try 3)' }]);
  });

  it('reports failed files by code with reasons, and shows its state and failed count as search attributes', async () => {
    const { result } = await runExport({
      pages: [['ok', 'gone', 'flaky']],
      answer: (id, n) =>
        id === 'gone'
          ? { sourceId: id, outcome: 'unavailable', reason: 'HTTP 404 for gone', code: 'not_found' }
          : id === 'flaky'
            ? { sourceId: id, outcome: 'retry', reason: `HTTP 503 (try ${n})` }
            : undefined,
    });
    expect(result).toMatchObject({ transferred: 1, failed: 2, outcome: 'completed_with_given_up' });
    expect(result!.failures).toEqual({
      total: 2,
      groups: [
        { code: 'not_found', final: true, count: 1, sample: [{ sourceId: 'gone', reason: 'HTTP 404 for gone' }] },
        { code: 'gave_up', final: false, count: 1, sample: [{ sourceId: 'flaky', reason: 'gave up after 3 tries: HTTP 503 (try 3)' }] },
      ],
    });
    const attributes = (await env.client.workflow.getHandle(result!.workflowId).describe()).typedSearchAttributes;
    const value = (name: string) => attributes.getAll().find((p) => p.key.name === name)?.value;
    expect(value('CallvaultConnection')).toBe('fake');
    expect(value('CallvaultProvider')).toBe('fake');
    expect(value('CallvaultTrigger')).toBe('operator');
    expect(value('CallvaultState')).toBe('completed_with_given_up');
    expect(value('CallvaultFailedCount')).toBe(2);
    expect((value('CallvaultWindowStart') as Date).toISOString()).toBe(result!.window.from);
  });

  it('gives up a file still not ready after the longest wait, as not_ready_timeout', async () => {
    const { result, trace } = await runExport(
      {
        pages: [['live', 'done']],
        answer: (id) =>
          id === 'live' ? { sourceId: id, outcome: 'not_ready', reason: "status 'ongoing'", retryAfterSeconds: 1 } : undefined,
      },
      { notReadyMaxWaitHours: 0.001 },
    );
    expect(result).toMatchObject({ transferred: 1, failed: 1 });
    expect(trace.givenUp).toEqual([
      { item: item('live'), code: 'not_ready_timeout', reason: "still not ready after 0 h: status 'ongoing'" },
    ]);
    expect(trace.tries.get('live')).toBeGreaterThanOrEqual(3);
  });

  it('runs the files of a batch that failed as a whole alone, so one crashing file costs no other', async () => {
    const { result, trace } = await runExport(
      {
        pages: [['p1', 'poison', 'p2', 'p3']],
        answer: (id) => (id === 'poison' ? 'throw' : undefined),
      },
      { maxInFlight: 1 },
    );
    expect(result).toMatchObject({ listed: 4, transferred: 3, failed: 1 });
    expect(trace.givenUp.map((g) => [g.item.sourceId, g.code])).toEqual([['poison', 'gave_up']]);
    expect(trace.givenUp[0]!.reason).toBe('gave up after 3 tries: transfer failed: worker crashed on poison');
    // The batch of four, then each file alone; the poison alone until its tries were spent.
    expect(trace.batches[0]).toEqual(['p1', 'poison', 'p2', 'p3']);
    expect(trace.batches.filter((b) => b.length === 1 && b[0] === 'poison')).toHaveLength(3);
  });

  it('stops on a fatal error while other batches are in flight, records why, and fails', async () => {
    const { error, trace } = await runExport(
      { pages: [['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']], batchMs: 300, answer: (id) => (id === 'e' ? 'fatal' : undefined) },
      { maxInFlight: 2 },
    );
    expect(error).toBeDefined();
    expect((error as { cause?: { message?: string } }).cause?.message).toBe('the platform refused the credentials');
    expect(trace.finished).toEqual([{ outcome: 'failed', error: 'the platform refused the credentials' }]);
  });

  it('records a cancelled export as failed, "cancelled", and ends cancelled', async () => {
    const trace: Trace = { tries: new Map(), batches: [], givenUp: [], finished: [] };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: QUEUE,
      workflowBundle: { codePath: join(repo, 'dist', 'workflow-bundle.js') },
      activities: activities({ pages: [['a', 'b', 'c', 'd']], batchMs: 60_000 }, trace),
    });
    const from = new Date(Date.UTC(2026, 0, 1) + windows++ * DAY).toISOString();
    const to = new Date(Date.parse(from) + DAY).toISOString();
    const error = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(EXPORT_WORKFLOW_TYPE, {
        taskQueue: QUEUE,
        workflowId: exportWorkflowId({ connection: 'fake', from, to }),
        args: [{ connection: 'fake', from, to }],
      });
      while (trace.batches.length === 0) await new Promise((r) => setTimeout(r, 50));
      await handle.cancel();
      return handle.result().catch((err: unknown) => err as Error);
    });
    expect((error as { cause?: { name?: string } }).cause?.name).toBe('CancelledFailure');
    expect(trace.finished).toEqual([{ outcome: 'failed', error: 'cancelled' }]);
  });

  it('refuses carried state on a run that did not continue as new', async () => {
    const trace: Trace = { tries: new Map(), batches: [], givenUp: [], finished: [] };
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: QUEUE,
      workflowBundle: { codePath: join(repo, 'dist', 'workflow-bundle.js') },
      activities: activities({ pages: [] }, trace),
    });
    const input = { connection: 'fake', from: '2026-02-01', to: '2026-02-02' };
    const forged = {
      counters: { listed: 1_000_000, transferred: 999_999, skipped: 0, failed: 0, bytes: 0 },
      cursor: null,
      listingDone: true,
      pagesListed: 1,
      generation: 0,
      queue: [],
      waiting: [],
      recentlyListed: [],
    };
    const error = await worker.runUntil(
      env.client.workflow
        .execute(EXPORT_WORKFLOW_TYPE, {
          taskQueue: QUEUE,
          workflowId: exportWorkflowId({ connection: 'fake', from: '2026-02-01T00:00:00.000Z', to: '2026-02-02T00:00:00.000Z' }),
          args: [input, forged],
        })
        .catch((err: unknown) => err as Error),
    );
    expect((error as { cause?: { message?: string } }).cause?.message).toMatch(
      /^carried: the second argument is the state a run hands the next/,
    );
    expect(trace.batches).toEqual([]);
  });
});
