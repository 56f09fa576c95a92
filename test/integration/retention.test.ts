import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRetentionSweep } from '../../src/client/retention';
import { CallvaultSchedules } from '../../src/client/schedules';
import { BirdSimulator, type BirdRecordingSpec } from '../../src/simulators/bird';
import { exportWorkflowId } from '../../src/contracts/exportInput';
import type { RetentionSweepResult } from '../../src/contracts/retentionSweep';
import { eventually, exportEnv, uniqueName, type ExportEnv } from '../support/harness';

const day = (d: string) => ({ from: `2026-03-${d}T00:00:00.000Z`, to: `2026-03-${String(Number(d) + 1).padStart(2, '0')}T00:00:00.000Z` });
const days = (list: Array<{ from: string }>) => list.map((w) => w.from.slice(0, 10));

/**
 * The retention sweep on the real stack. The platform keeps 10 days, the sweep runs two days
 * ahead, and it is 2026-03-20 06:00: the platform has deleted what is older than 03-10 06:00 and
 * will delete 03-12 within two days. Days 03-09 and 03-12 were exported before (03-12 in two
 * halves); 03-08 was never exported and is gone.
 */
describe('retention sweep on the real stack', () => {
  const good = uniqueName('keep');
  const broken = uniqueName('broken');
  const now = '2026-03-20T06:00:00Z';
  const recordings = BirdSimulator.generate({
    seed: good,
    count: 24,
    from: '2026-03-07T00:00:00Z',
    to: '2026-03-13T00:00:00Z',
    size: { min: 100, max: 4000 },
  });
  // A call on 03-11 still being recorded: its export runs until the test lets it end.
  const held = recordings.find((r) => r.createdAt.startsWith('2026-03-11')) as BirdRecordingSpec;
  held.status = 'ongoing';
  let sim: BirdSimulator;
  let env: ExportEnv;
  const sweep = (connection: string, lookbackDays = 2) =>
    runRetentionSweep(env.client, env.config.temporal.taskQueue, { now, lookbackDays, connections: [connection] }, uniqueName('sweep'));

  beforeAll(async () => {
    sim = new BirdSimulator({ seed: good, recordings });
    await sim.start();
    const bird = {
      provider: 'bird',
      allowPrivateNetwork: true,
      baseUrl: sim.baseUrl,
      workspaceId: sim.workspaceId,
      mediaHosts: [sim.storageHost],
      notReadyRetrySeconds: 1,
    };
    env = await exportEnv({
      connections: {
        [good]: { ...bird, accessKey: { env: 'BIRD_KEY' }, retention: { keepDays: 10, leadDays: 2 } },
        // Credentials the platform refuses: its exports fail every time.
        [broken]: { ...bird, accessKey: { env: 'BIRD_BAD_KEY' }, retention: { keepDays: 9, leadDays: 0 } },
      },
      secrets: { BIRD_KEY: sim.accessKey, BIRD_BAD_KEY: 'not-the-key' },
    });
    await env.spawnWorker();
    // Exported earlier by an operator: 03-09 whole, 03-12 in two halves.
    for (const w of [
      day('09'),
      { from: '2026-03-12T00:00:00Z', to: '2026-03-12T12:00:00Z' },
      { from: '2026-03-12T12:00:00Z', to: '2026-03-13T00:00:00Z' },
    ]) {
      await (await env.start({ connection: good, ...w, trigger: { kind: 'operator', by: 'test' } })).handle.result();
    }
  });

  afterAll(async () => {
    await env?.close();
    await sim?.stop();
  });

  let first: RetentionSweepResult;

  it('starts exactly the due days no export covers, and reports what is at risk', async () => {
    first = await sweep(good);
    expect(first.policies).toEqual([
      {
        connection: good,
        keepDays: 10,
        leadDays: 2,
        deletesBefore: '2026-03-10T06:00:00.000Z',
        dueBefore: '2026-03-12T06:00:00.000Z',
        checked: { from: '2026-03-08T00:00:00.000Z', to: '2026-03-13T00:00:00.000Z' },
      },
    ]);
    expect(days(first.started)).toEqual(['2026-03-10', '2026-03-11']);
    expect(first.started.map((w) => w.workflowIds)).toEqual([
      [exportWorkflowId({ connection: good, ...day('10') })],
      [exportWorkflowId({ connection: good, ...day('11') })],
    ]);
    expect(days(first.covered)).toEqual(['2026-03-09', '2026-03-12']);
    expect(first.alreadyRunning).toEqual([]);
    expect(first.atRisk.map((w) => [w.from.slice(0, 10), w.reasons])).toEqual([
      ['2026-03-08', ['deleted']],
      ['2026-03-10', ['deletion_started']],
    ]);
    const row = await eventually('the started export to record itself', async () => {
      const res = await env.provenance.pool.query<{ trigger_kind: string }>(
        `SELECT trigger_kind FROM callvault.exports WHERE workflow_id = $1`,
        [first.started[0]!.workflowIds[0]],
      );
      return res.rows[0];
    });
    expect(row.trigger_kind).toBe('retention');
  });

  it('starts nothing the second time: a running export is attached to, finished ones cover their days', async () => {
    const tenth = env.client.workflow.getHandle(first.started[0]!.workflowIds[0]!);
    const eleventh = env.client.workflow.getHandle(first.started[1]!.workflowIds[0]!);
    await tenth.result();
    expect((await eleventh.describe()).status.name).toBe('RUNNING'); // waiting for the call still being recorded

    const second = await sweep(good);
    expect(second.started).toEqual([]);
    expect(days(second.alreadyRunning)).toEqual(['2026-03-11']);
    expect(second.alreadyRunning[0]!.workflowIds).toEqual([eleventh.workflowId]);
    expect(days(second.covered)).toEqual(['2026-03-09', '2026-03-10', '2026-03-12']);
    expect(second.atRisk.map((w) => [w.from.slice(0, 10), w.reasons])).toEqual([['2026-03-08', ['deleted']]]);

    held.status = 'available';
    await eleventh.result();
    const third = await sweep(good);
    expect(third.started).toEqual([]);
    expect(third.alreadyRunning).toEqual([]);
    expect(days(third.covered)).toEqual(['2026-03-09', '2026-03-10', '2026-03-11', '2026-03-12']);

    // One export per day, and every call of the days still on the platform stored once.
    const exports = await env.provenance.pool.query<{ workflow_id: string; status: string }>(
      `SELECT workflow_id, status FROM callvault.exports WHERE connection = $1 ORDER BY window_from, window_to`,
      [good],
    );
    expect(exports.rows.map((r) => r.status)).toEqual(['completed', 'completed', 'completed', 'completed', 'completed']);
    const stored = new Set((await env.files(good)).filter((r) => r.status === 'stored').map((r) => r.source_id));
    for (const rec of recordings.filter((r) => r.createdAt >= '2026-03-09')) expect(stored.has(rec.id), rec.createdAt).toBe(true);
    expect(recordings.filter((r) => r.createdAt < '2026-03-09').some((r) => stored.has(r.id))).toBe(false);
  });

  it('reports a day whose export keeps failing as at risk, and tries it again', async () => {
    const one = await sweep(broken, 0);
    const failing = exportWorkflowId({ connection: broken, ...day('11') });
    expect(one.started.map((w) => w.workflowIds)).toEqual([[failing]]);
    await expect(env.client.workflow.getHandle(failing).result()).rejects.toThrow();

    const two = await sweep(broken, 0);
    expect(two.started.map((w) => w.workflowIds)).toEqual([[failing]]);
    expect(two.atRisk).toHaveLength(1);
    expect(two.atRisk[0]).toMatchObject({ connection: broken, from: day('11').from, reasons: ['export_failed', 'deletion_started'] });
    expect(two.atRisk[0]!.detail).toMatch(/refused the credentials/);
    await expect(env.client.workflow.getHandle(failing).result()).rejects.toThrow();
  });

  it('runs on a schedule, deriving "now" from the scheduled time', async () => {
    const schedules = new CallvaultSchedules(env.client, env.config.temporal.taskQueue);
    const info = await schedules.createRetentionSweep({ every: '1d', sweep: { connections: [good], dryRun: true } });
    try {
      expect(info).toMatchObject({ kind: 'retention', overlap: 'SKIP', catchupWindow: '1d', cadence: { every: '1d' } });
      const before = Date.now();
      await schedules.trigger(info.scheduleId);
      const run = await eventually('the triggered sweep', async () => (await schedules.describe(info.scheduleId)).recent[0]);
      const result = (await env.client.workflow.getHandle(run.workflowId).result()) as RetentionSweepResult;
      expect(Date.parse(result.now)).toBeGreaterThanOrEqual(before - 5_000);
      expect(Date.parse(result.now)).toBeLessThanOrEqual(Date.now());
      expect(result.policies.map((p) => p.connection)).toEqual([good]);
      expect(result.dryRun).toBe(true);
    } finally {
      await schedules.delete(info.scheduleId);
    }
  });
});
