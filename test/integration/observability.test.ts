import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MetricGauge, MetricTags } from '@temporalio/common';
import type { Logger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRetentionSweep } from '../../src/client/retention';
import type { ExportResult } from '../../src/contracts/exportResult';
import { MiB } from '../../src/contracts/units';
import { PARTS_IN_FLIGHT } from '../../src/transfer/parts';
import { freePort } from '../../src/devstack/ports';
import { BirdSimulator } from '../../src/simulators/bird';
import { CALLVAULT_METRIC_NAMES, SDK_METRIC_NAMES } from '../../src/worker/metrics';
import { sampleOpenExports } from '../../src/worker/openExports';
import { eventually, exportEnv, uniqueName, type ExportEnv, type WorkerProcess } from '../support/harness';
import { startIsolatedStack, type IsolatedStack } from '../support/isolatedStack';
import { metricNames, parseExposition, total, type Sample } from '../support/prometheus';
import { birdConnection } from '../support/birdConnection';

const DAY = 24 * 3600 * 1000;
const PART_MIB = 5;
const BIG = 26 * MiB + 12_345;
const GRACE_SECONDS = 10;

/** Bytes a stopped worker may have been sent but never read: the sender's and the receiver's socket buffers. */
function kernelSocketBuffers(): number {
  const max = (name: string) => Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2]) || 8 * MiB;
  return max('tcp_wmem') + max('tcp_rmem');
}

/**
 * What an operator watches a worker by, on a stack of this test's own: a scrape of the worker's
 * metrics endpoint during an export (the SDK's metrics and callvault's per-connection counters
 * moving), /readyz failing while Temporal is away and passing once it is back, JSON log lines
 * that say which workflow, run, activity and connection they are about, and a SIGTERM in the
 * middle of a large file that lets the part in flight finish: the successor resumes after it.
 */
describe('watching a worker', () => {
  const connection = uniqueName('watch');
  const start = Date.parse('2026-08-03T00:00:00Z');
  const day = (n: number) => ({ from: new Date(start + n * DAY).toISOString(), to: new Date(start + (n + 1) * DAY).toISOString() });
  const small = BirdSimulator.generate({ seed: connection, count: 8, ...day(0), size: { min: 120_000, max: 200_000 } });
  const [big] = BirdSimulator.generate({ seed: `${connection}-big`, count: 1, ...day(1), size: { min: BIG, max: BIG } });
  const lines: string[] = [];
  let sim: BirdSimulator;
  let iso: IsolatedStack;
  let env: ExportEnv;
  let worker: WorkerProcess;
  let metricsUrl: string;

  const scrape = async (): Promise<Sample[]> => parseExposition(await (await fetch(`${metricsUrl}/metrics`)).text());
  const get = async (path: string) => {
    const res = await fetch(`${metricsUrl}${path}`);
    return { status: res.status, body: await res.text() };
  };

  beforeAll(async () => {
    sim = new BirdSimulator({ seed: connection, recordings: [...small, big!] });
    [iso] = await Promise.all([startIsolatedStack(), sim.start()]);
    env = await exportEnv({
      stack: iso.stack,
      connections: {
        [connection]: birdConnection(sim, { rateLimit: { transferPerSecond: 400 }, retention: { keepDays: 30, leadDays: 3 } }),
      },
      secrets: { BIRD_KEY: sim.accessKey },
      storage: { partSizeMiB: PART_MIB },
      worker: { shutdownGraceSeconds: GRACE_SECONDS },
    });
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}`;
    worker = await env.spawnWorker({ CALLVAULT_METRICS_ADDRESS: `127.0.0.1:${port}` });
  });

  afterAll(async () => {
    if (lines.length) console.log(lines.join('\n'));
    await env?.close();
    await iso?.stop();
    await sim?.stop();
  });

  it("serves the SDK's metrics and callvault's per-connection file and byte counters, moving during an export", async () => {
    expect(metricNames(await scrape())).toContain('temporal_num_pollers');
    // Files one after another, each a little slow, so the export is seen running; one answers 503 once.
    sim.faults.add({ target: 'media', id: small[2]!.id, fault: { kind: 'status', status: 503 } });
    for (const r of small) sim.faults.add({ target: 'media', id: r.id, fault: { kind: 'slow', bytesPerSecond: 400_000 } });
    const started = await env.start({ connection, ...day(0), options: { maxInFlight: 1, maxRetryIntervalSeconds: 1 } });
    const stored = { connection, provider: 'bird', outcome: 'stored' };
    const mid = await eventually(
      'a scrape that counts stored files while the export runs',
      async () => {
        const samples = await scrape();
        return total(samples, 'callvault_files_total', stored) > 0 ? samples : undefined;
      },
      30_000,
      100,
    );
    expect((await started.handle.describe()).status.name).toBe('RUNNING');
    const openNow = await countOpenExports(env, connection);
    const result = (await started.handle.result()) as ExportResult;
    expect(result).toMatchObject({ transferred: 8, failed: 0 });
    const after = await scrape();
    const sizes = small.reduce((s, r) => s + r.size, 0);
    lines.push(
      `[scrape] mid-export: ${total(mid, 'callvault_files_total', stored)} files, ${total(mid, 'callvault_bytes_total', stored)} bytes stored; after: ${total(after, 'callvault_files_total', stored)} files, ${total(after, 'callvault_bytes_total', stored)} bytes`,
    );
    expect(total(mid, 'callvault_files_total', stored)).toBeLessThan(8);
    expect(total(after, 'callvault_files_total', stored)).toBe(8);
    expect(total(mid, 'callvault_bytes_total', stored)).toBeLessThan(sizes);
    expect(total(after, 'callvault_bytes_total', stored)).toBe(sizes);
    expect(total(after, 'callvault_progress_bytes_total', { connection })).toBeGreaterThanOrEqual(sizes);
    expect(total(after, 'callvault_files_total', { connection, outcome: 'retry' })).toBe(1);
    expect(total(after, 'callvault_retries_total', { connection, scope: 'file', cause: 'server_error' })).toBe(1);
    expect(total(after, 'callvault_transfer_seconds_count', { connection, outcome: 'stored' })).toBe(8);
    // The SDK's own, moving too, with its labels in snake_case and ours on the same activity tags.
    const transferLatency = { activity_type: 'transferBatch', task_queue: `${env.config.temporal.taskQueue}.${connection}.transfer` };
    expect(total(after, 'temporal_activity_execution_latency_count', transferLatency)).toBeGreaterThan(
      total(mid, 'temporal_activity_execution_latency_count', transferLatency),
    );
    const ours = after.find((s) => s.name === 'callvault_files_total' && s.labels.connection === connection)!.labels;
    expect(ours).toMatchObject({ activity_type: 'transferBatch', task_queue: transferLatency.task_queue, namespace: 'default' });
    expect(Object.keys(ours).filter((k) => /[A-Z]/.test(k))).toEqual([]);
    expect(openNow).toBe(1);
  });

  it('fails /readyz while Temporal is away and passes once it is back; /healthz answers throughout', async () => {
    expect(await get('/readyz')).toMatchObject({ status: 200 });
    await iso.temporal.stop();
    const down = await eventually(
      '/readyz to fail',
      async () => {
        const r = await get('/readyz');
        return r.status === 503 ? r : undefined;
      },
      20_000,
      250,
    );
    expect(JSON.parse(down.body)).toMatchObject({
      ready: false,
      checks: { worker: 'running', temporal: expect.stringMatching(/^unreachable: /) },
    });
    expect(await get('/healthz')).toEqual({ status: 200, body: 'ok\n' });
    await eventually('callvault_worker_ready to say 0', async () => total(await scrape(), 'callvault_worker_ready') === 0, 20_000, 500);
    await iso.temporal.start();
    const up = await eventually(
      '/readyz to pass again',
      async () => {
        const r = await get('/readyz');
        return r.status === 200 ? r : undefined;
      },
      30_000,
      250,
    );
    expect(JSON.parse(up.body)).toMatchObject({ ready: true, checks: { temporal: expect.stringMatching(/^ok/) } });
  });

  it('shows every metric the dashboard and the alert rules use', async () => {
    // A retention sweep (a dry run) sets the days at risk; an export of a connection this worker lacks fails an activity.
    const sweep = await runRetentionSweep(env.client, env.config.temporal.taskQueue, { dryRun: true });
    expect(sweep.policies.map((p) => p.connection)).toEqual([connection]);
    const unknown = await env.start({ connection: 'not-configured', ...day(0) });
    await expect(unknown.handle.result()).rejects.toThrow();
    const names = await eventually(
      'every listed metric in a scrape',
      async () => {
        const seen = metricNames(await scrape());
        return [...CALLVAULT_METRIC_NAMES, ...SDK_METRIC_NAMES].every((n) => seen.has(n)) ? seen : undefined;
      },
      20_000,
      500,
    ).catch(async () => metricNames(await scrape()));
    expect([...CALLVAULT_METRIC_NAMES, ...SDK_METRIC_NAMES].filter((n) => !names.has(n))).toEqual([]);
  });

  it('stops on SIGTERM mid-file after the parts in flight, exits 0 within the grace period, and the successor resumes after them', async () => {
    const id = big!.id;
    const hold = iso.proxy.hold((r) => r.operation === 'UploadPart' && r.partNumber === 3 && (r.key ?? '').includes(id), {
      at: { bodyByte: 2 * MiB },
    });
    const started = await env.start({ connection, ...day(1) });
    await hold.held();
    const sentAtSignal = sim.mediaBytesSent(id);
    const began = Date.now();
    const stopping = worker.stop();
    await sleep(500); // the signal lands while part 3 is on the wire; then let the part go
    hold.release();
    await stopping;
    const stopMs = Date.now() - began;
    expect(worker.exit).toEqual({ code: 0, signal: null });
    expect(stopMs).toBeLessThan(GRACE_SECONDS * 1000);
    const handedBack = worker
      .log()
      .split('\n')
      .filter((l) => l.includes('handing the rest of the batch back'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(handedBack).toHaveLength(1);
    expect(handedBack[0]).toMatchObject({ connection, activityType: 'transferBatch' });
    // Part 3 was on the wire when the signal came, so it was finished and checkpointed. With two
    // parts in flight, part 4 may have begun too (part 3's last bytes can sit in socket buffers
    // while the proxy holds it); then it was finished as well. No part began after the stop.
    const { partsDone } = (handedBack[0] as { checkpoint: { partsDone: number } }).checkpoint;
    expect([3, 4]).toContain(partsDone);
    await env.spawnWorker();
    const result = (await started.handle.result()) as ExportResult;
    expect(result).toMatchObject({ transferred: 1, failed: 0 });
    const row = (await env.files(connection)).find((r) => r.source_id === id)!;
    expect({ status: row.status, size: Number(row.size_bytes), sha256: row.sha256 }).toEqual({
      status: 'stored',
      size: BIG,
      sha256: await sim.sha256(id),
    });
    const refetched = sim.mediaBytesSent(id) - BIG;
    lines.push(
      `[sigterm] signal at ${(sentAtSignal / MiB).toFixed(1)} MiB of ${(BIG / MiB).toFixed(1)} MiB; worker exited 0 after ${stopMs} ms (grace ${GRACE_SECONDS} s); fetched twice ${(refetched / MiB).toFixed(1)} MiB (limit: ${PARTS_IN_FLIGHT} parts of ${PART_MIB} MiB in flight + kernel socket buffers)`,
    );
    expect(refetched).toBeLessThanOrEqual(PARTS_IN_FLIGHT * PART_MIB * MiB + kernelSocketBuffers());
    expect(env.unexpectedExits()).toEqual([]);
  });
  it('logged JSON lines that carry the workflow, the run, the activity and the connection, and no task token', () => {
    // The harness's own header line (`=== <time> start worker ...`) aside.
    const logged = worker
      .log()
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('=== '));
    const notJson = logged.filter((l) => !l.startsWith('{'));
    expect(notJson).toEqual([]);
    const entries = logged.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.every((e) => typeof e.ts === 'string' && typeof e.level === 'string' && typeof e.msg === 'string')).toBe(true);
    const aboutActivities = entries.filter((e) => e.activityType !== undefined);
    expect(aboutActivities.length).toBeGreaterThan(0);
    for (const e of aboutActivities) {
      expect(e).toMatchObject({ workflowId: expect.any(String), runId: expect.any(String), activityType: expect.any(String) });
      expect(e).not.toHaveProperty('taskToken');
      expect(e).not.toHaveProperty('workflowRunId');
    }
    // The activity that failed for the unknown connection says so, its error serialized; the transfer
    // handed back on SIGTERM says which connection it worked for, in its own line and the SDK's.
    const failed = aboutActivities.filter((e) => e.msg === 'Activity failed');
    expect(failed.some((e) => (e.error as { message?: string } | undefined)?.message?.includes('unknown connection'))).toBe(true);
    expect(failed.find((e) => e.activityType === 'transferBatch')).toMatchObject({ connection, error: { type: 'WorkerShutdown' } });
    expect(entries.some((e) => typeof e.msg === 'string' && e.msg.includes('polling'))).toBe(true);
    expect(worker.log()).not.toContain(sim.accessKey);
  });
});

/** What the worker's sampler reports for one connection now (src/worker/openExports.ts), run once in this process. */
async function countOpenExports(env: ExportEnv, connection: string): Promise<number | undefined> {
  let value: number | undefined;
  const gauge = {
    set: (v: number, tags?: MetricTags) => {
      if (tags?.connection === connection) value = v;
    },
  } as unknown as MetricGauge;
  const quiet = { warn: () => undefined } as unknown as Logger;
  const stop = sampleOpenExports({
    client: env.client,
    taskQueue: env.config.temporal.taskQueue,
    connections: [connection],
    gauge,
    intervalMs: 60_000,
    log: quiet,
  });
  try {
    return await eventually('the open exports sample', () => value, 10_000, 50);
  } finally {
    stop();
  }
}
