import { join } from 'node:path';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities';
import { EXPORT_WORKFLOW_TYPE } from '../../src/contracts/exportResult';
import { exportWorkflowId } from '../../src/contracts/exportInput';
import type { TransferBatchInput } from '../../src/contracts/transfer';
import { createTracing, type Tracing } from '../../src/worker/tracing';
import { localTemporal } from './localServer';

/**
 * Tracing, when configured, through Temporal's OpenTelemetry interceptors: the client's start, the
 * workflow run, each activity's scheduling and execution of one export land in one trace, and
 * another export gets a trace of its own. Spans go to an in-memory exporter; activities are fakes.
 */
const repo = join(__dirname, '..', '..');
const QUEUE = 'tracing-test';
let env: TestWorkflowEnvironment;
let tracing: Tracing;
const spans = new InMemorySpanExporter();

const fakes: Partial<Activities> = {
  async describeConnection() {
    return { provider: 'fake', listTaskQueue: QUEUE, transferTaskQueue: QUEUE, batchSize: 4 };
  },
  async beginExport() {},
  async recordFailedStart() {},
  async finishExport() {},
  async listPage() {
    const item = (id: string) => ({
      sourceId: id,
      conversationId: 'c',
      kind: 'recording' as const,
      createdAt: '2026-01-01T00:00:00Z',
      extension: '.mp3',
      locator: {},
    });
    return { items: [item('a'), item('b')], alreadyStored: [], nextCursor: null };
  },
  async transferBatch(input: TransferBatchInput) {
    return input.tasks.map((t) => ({ sourceId: t.item.sourceId, outcome: 'stored' as const, bytes: 1 }));
  },
};

beforeAll(async () => {
  env = await localTemporal();
  tracing = createTracing({ serviceName: 'callvault-test', spanProcessor: new SimpleSpanProcessor(spans) });
}, 60_000);

afterAll(async () => {
  await tracing?.shutdown();
  await env?.teardown();
});

describe('tracing', () => {
  it('puts each export in one trace of its own: the start, the workflow run, and its activities', async () => {
    // The worker bundles the workflows itself, with the plugin's workflow interceptors (as the worker does when tracing is on).
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: QUEUE,
      workflowsPath: join(repo, 'dist', 'workflows'),
      activities: fakes,
      plugins: [tracing.plugin],
    });
    const client = new Client({ connection: env.connection, plugins: [tracing.plugin] });
    const windows = [
      { connection: 'fake', from: '2026-01-01T00:00:00.000Z', to: '2026-01-02T00:00:00.000Z' },
      { connection: 'fake', from: '2026-01-02T00:00:00.000Z', to: '2026-01-03T00:00:00.000Z' },
    ];
    await worker.runUntil(async () => {
      for (const w of windows)
        await client.workflow.execute(EXPORT_WORKFLOW_TYPE, { taskQueue: QUEUE, workflowId: exportWorkflowId(w), args: [w] });
    });
    const finished = spans.getFinishedSpans();
    const traces = new Map<string, string[]>();
    for (const s of finished) traces.set(s.spanContext().traceId, [...(traces.get(s.spanContext().traceId) ?? []), s.name]);
    expect(traces.size).toBe(2);
    for (const names of traces.values()) {
      expect(new Set(names)).toEqual(
        new Set([
          `StartWorkflow:${EXPORT_WORKFLOW_TYPE}`,
          `RunWorkflow:${EXPORT_WORKFLOW_TYPE}`,
          ...['describeConnection', 'beginExport', 'listPage', 'transferBatch', 'finishExport'].flatMap((a) => [
            `StartActivity:${a}`,
            `RunActivity:${a}`,
          ]),
        ]),
      );
    }
    // One root per trace: the client's start; everything else hangs under it.
    const roots = finished.filter((s) => s.parentSpanId === undefined);
    expect(roots.map((s) => s.name)).toEqual([`StartWorkflow:${EXPORT_WORKFLOW_TYPE}`, `StartWorkflow:${EXPORT_WORKFLOW_TYPE}`]);
  });
});
