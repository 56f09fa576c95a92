import { ApplicationFailure, CancelledFailure, type MetricMeter, type MetricTags } from '@temporalio/common';
import type { LogEntry, Logger, Worker } from '@temporalio/worker';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load';
import { recordDaysAtRisk, retryCause as fileRetryCause, TransferMetrics } from '../../activities/metrics';
import type { AtRiskWindow } from '../../src/contracts/retentionSweep';
import { retryCause as attemptRetryCause, snakeCased } from '../../src/worker/interceptors';
import { formatEntry, logSettingsFromEnv } from '../../src/worker/logging';
import { GracefulShutdown } from '../../src/worker/shutdown';

/** A meter that keeps what it was told, as `name{tags}` -> value (counters add, gauges set, histograms count). */
function recordingMeter(into = new Map<string, number>(), base: MetricTags = {}): MetricMeter & { values: Map<string, number> } {
  const key = (name: string, tags: MetricTags = {}) =>
    `${name}${JSON.stringify(Object.fromEntries(Object.entries({ ...base, ...tags }).sort()))}`;
  const add = (name: string) => (value: number, tags?: MetricTags) => into.set(key(name, tags), (into.get(key(name, tags)) ?? 0) + value);
  return {
    values: into,
    createCounter: (name) => ({ add: add(name) }) as never,
    createHistogram: (name) => ({ record: (_v: number, tags?: MetricTags) => add(`${name}_count`)(1, tags) }) as never,
    createGauge: (name) => ({ set: (value: number, tags?: MetricTags) => into.set(key(name, tags), value) }) as never,
    withTags: (tags) => recordingMeter(into, { ...base, ...tags }),
  };
}

const entry = (meta: Record<string, unknown>, message = 'Activity failed'): LogEntry => ({
  level: 'WARN',
  message,
  meta,
  timestampNanos: 1_767_225_600_000_000_000n,
});

describe('worker log lines', () => {
  it('are one JSON object with ts, level and msg, the run id named runId, no task token, errors spelled out', () => {
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    const error = ApplicationFailure.create({ message: 'store away', type: 'Transient', cause });
    const line = formatEntry(
      entry({
        workflowId: 'export:a:b:c',
        workflowRunId: 'r-1',
        taskToken: 'c2VjcmV0',
        activityType: 'transferBatch',
        connection: 'bird-eu',
        error,
        size: 10n,
      }),
      'json',
    );
    expect(JSON.parse(line)).toEqual({
      ts: '2026-01-01T00:00:00.000Z',
      level: 'warn',
      msg: 'Activity failed',
      workflowId: 'export:a:b:c',
      runId: 'r-1',
      activityType: 'transferBatch',
      connection: 'bird-eu',
      error: {
        name: 'ApplicationFailure',
        message: 'store away',
        type: 'Transient',
        cause: { name: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:5432', stack: expect.any(Array) },
      },
      size: '10',
    });
  });

  it('read as a line with key=value pairs in the text format, for a terminal', () => {
    expect(formatEntry(entry({ connection: 'bird-eu', note: 'two words' }, 'worker stopping'), 'text')).toBe(
      '2026-01-01T00:00:00.000Z WARN  worker stopping connection=bird-eu note="two words"',
    );
  });

  it('take their format and level from the environment, naming a wrong variable', () => {
    expect(logSettingsFromEnv({})).toEqual({ format: 'json', level: 'INFO' });
    expect(logSettingsFromEnv({ CALLVAULT_LOG_FORMAT: 'text', CALLVAULT_LOG_LEVEL: 'debug' })).toEqual({ format: 'text', level: 'DEBUG' });
    expect(() => logSettingsFromEnv({ CALLVAULT_LOG_FORMAT: 'xml' })).toThrow(/CALLVAULT_LOG_FORMAT: 'xml' is not one of json, text/);
    expect(() => logSettingsFromEnv({ CALLVAULT_LOG_LEVEL: 'loud' })).toThrow(/CALLVAULT_LOG_LEVEL: 'LOUD' is not one of/);
  });
});

describe('retry causes, as bounded labels', () => {
  it("name a file's retry by what its reason says", () => {
    expect(fileRetryCause('rec-1: GET https://media.example/x: HTTP 503 (Service Unavailable)')).toBe('server_error');
    expect(fileRetryCause('list: HTTP 429 (slow down): rate limited')).toBe('rate_limited');
    expect(fileRetryCause('media: HTTP 403 (AccessDenied): signed link refused, probably expired')).toBe('expired_link');
    expect(fileRetryCause('rec-1: short body, received 10 of 20 bytes')).toBe('short_body');
    expect(fileRetryCause('rec-1: source body failed after 65536 bytes: ECONNRESET read')).toBe('connection');
    expect(fileRetryCause('metadata: unexpected response shape (id: expected string)')).toBe('malformed_response');
    expect(fileRetryCause('something new')).toBe('other');
  });

  it("name an activity attempt's failure by its type, and none for what no retry fixes", () => {
    expect(attemptRetryCause(ApplicationFailure.create({ message: 'x', type: 'Transient' }))).toBe('transient');
    expect(attemptRetryCause(ApplicationFailure.create({ message: 'x', type: 'WorkerShutdown' }))).toBe('worker_shutdown');
    expect(attemptRetryCause(ApplicationFailure.nonRetryable('x', 'ConfigurationError'))).toBeUndefined();
    expect(attemptRetryCause(new CancelledFailure('WORKER_SHUTDOWN'))).toBeUndefined();
    expect(attemptRetryCause(Object.assign(new Error('SlowDown'), { $metadata: { httpStatusCode: 503 } }))).toBe('object_store');
    expect(attemptRetryCause(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe('database');
    expect(attemptRetryCause(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe('network');
  });
});

describe("callvault's activity metrics", () => {
  it("carry the SDK's tags in its own Prometheus spelling, the camelCase ones unset (the SDK drops undefined tags)", () => {
    const tags = snakeCased({ namespace: 'default', taskQueue: 'q', activityType: 'transferBatch' });
    expect(tags).toEqual({
      namespace: 'default',
      taskQueue: undefined,
      task_queue: 'q',
      activityType: undefined,
      activity_type: 'transferBatch',
    });
  });

  it('count each file try by outcome with its connection and provider, bytes stored or received in vain, and retries by cause', () => {
    const meter = recordingMeter();
    const m = new TransferMetrics(meter, { connection: 'bird-eu', provider: 'bird' });
    m.moved(700_000);
    m.tried({ outcome: 'stored' }, 0.4, 700_000);
    m.moved(300);
    m.tried({ outcome: 'retry', reason: 'x: HTTP 502' }, 0.1, 300);
    m.gaveUp(2);
    m.gaveUp(0);
    const at = (name: string, tags: Record<string, string>) =>
      meter.values.get(
        `${name}${JSON.stringify(Object.fromEntries(Object.entries({ connection: 'bird-eu', provider: 'bird', ...tags }).sort()))}`,
      );
    expect(at('callvault_files', { outcome: 'stored' })).toBe(1);
    expect(at('callvault_files', { outcome: 'retry' })).toBe(1);
    expect(at('callvault_files', { outcome: 'gave_up' })).toBe(2);
    expect(at('callvault_bytes', { outcome: 'stored' })).toBe(700_000);
    expect(at('callvault_bytes', { outcome: 'retry' })).toBe(300);
    expect(at('callvault_progress_bytes', {})).toBe(700_300);
    expect(at('callvault_retries', { scope: 'file', cause: 'server_error' })).toBe(1);
    expect(at('callvault_transfer_seconds_count', { outcome: 'stored' })).toBe(1);
  });

  it('set days at risk per connection and reason, zeros included, with the time of the sweep', () => {
    const meter = recordingMeter();
    const window = (from: string, to: string, reasons: AtRiskWindow['reasons']) => ({
      connection: 'a',
      from,
      to,
      deletesAt: to,
      workflowIds: [],
      reasons,
      detail: '',
    });
    recordDaysAtRisk(
      meter,
      ['a', 'b'],
      [
        window('2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z', ['deleted']),
        window('2026-01-02T00:00:00.000Z', '2026-01-04T00:00:00.000Z', ['export_failed', 'deleted']),
      ],
      Date.UTC(2026, 3, 1),
    );
    const days = (connection: string, reason: string) =>
      meter.values.get(`callvault_retention_days_at_risk${JSON.stringify({ connection, reason })}`);
    expect([days('a', 'deleted'), days('a', 'export_failed'), days('a', 'deletion_started'), days('b', 'deleted')]).toEqual([3, 2, 0, 0]);
    expect(meter.values.get('callvault_retention_sweep_timestamp_seconds{}')).toBe(Date.UTC(2026, 3, 1) / 1000);
  });
});

describe('the metrics address', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'cv-metrics-')), 'c.json');
  writeFileSync(path, JSON.stringify({ storage: { bucket: 'b-1' }, worker: { metrics: { address: '127.0.0.1:9464' } }, connections: {} }));

  it('comes from the file, or from CALLVAULT_METRICS_ADDRESS, which is checked as the file is and named', () => {
    expect(loadConfig({ path, env: {} }).worker.metrics).toEqual({ address: '127.0.0.1:9464' });
    expect(loadConfig({ path, env: { CALLVAULT_METRICS_ADDRESS: '0.0.0.0:9100' } }).worker.metrics).toEqual({ address: '0.0.0.0:9100' });
    expect(() => loadConfig({ path, env: { CALLVAULT_METRICS_ADDRESS: 'http://x:9100' } })).toThrow(
      /worker\.metrics\.address \(from \$CALLVAULT_METRICS_ADDRESS\): expected host:port to listen on/,
    );
  });
});

describe('a graceful stop', () => {
  const quiet = { info: () => undefined, warn: () => undefined } as unknown as Logger;
  const fakeWorker = () => {
    let state = 'RUNNING';
    return {
      getState: () => state,
      shutdown: () => {
        state = 'STOPPING';
      },
    } as unknown as Worker;
  };

  it('asks running workers to stop and tells the activities to hand back work; a second signal stops at once', () => {
    const exits: number[] = [];
    const shutdown = new GracefulShutdown(quiet, 20_000, (code) => exits.push(code));
    const workers = [fakeWorker(), fakeWorker()];
    shutdown.serving(workers);
    shutdown.request('SIGTERM');
    expect(shutdown.draining.aborted).toBe(true);
    expect(workers.map((w) => w.getState())).toEqual(['STOPPING', 'STOPPING']);
    expect(exits).toEqual([]);
    shutdown.request('SIGTERM');
    expect(exits).toEqual([1]);
  });

  it('leaves at once, 0, when no worker runs yet', () => {
    const exits: number[] = [];
    new GracefulShutdown(quiet, 20_000, (code) => exits.push(code)).request('SIGINT');
    expect(exits).toEqual([0]);
  });
});
