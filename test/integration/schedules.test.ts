import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallvaultSchedules } from '../../src/client/schedules';
import { BirdSimulator, type BirdRecordingSpec } from '../../src/simulators/bird';
import type { ExportResult } from '../../src/contracts/exportResult';
import { exportWorkflowId } from '../../src/contracts/exportInput';
import { SCHEDULED_EXPORT_WORKFLOW_TYPE, type ScheduledExportResult } from '../../src/contracts/scheduledExport';
import { cronFireAfter, parseCron } from '../../src/contracts/cron';
import { eventually, exportEnv, uniqueName, type ExportEnv } from '../support/harness';
import { birdConnection } from '../support/birdConnection';

const SECOND = 1000;
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Data-platform schedules on the real stack: a schedule that fires every 10 s and exports
 * contiguous windows, a ten-day backfill through Temporal's schedule backfill, a cron spec read
 * the same way by Temporal and by callvault, and duplicate triggers of one window making one export.
 */
describe('data-platform schedules on the real stack', () => {
  const connection = uniqueName('sched');
  const t0 = Date.now();
  // Calls around "now", for the schedule that fires every 10 s: about one every 3 s.
  const live = BirdSimulator.generate({
    seed: `${connection}-live`,
    count: 60,
    from: iso(t0 - 60 * SECOND),
    to: iso(t0 + 120 * SECOND),
    size: { min: 100, max: 4000 },
  });
  // Four calls a day for the backfill, plus one on each side of the range that must not be exported.
  const days = BirdSimulator.generate({
    seed: `${connection}-days`,
    count: 40,
    from: '2026-03-01T00:00:00Z',
    to: '2026-03-11T00:00:00Z',
    size: { min: 100, max: 4000 },
  });
  const outside = [
    ...BirdSimulator.generate({
      seed: `${connection}-before`,
      count: 1,
      from: '2026-02-28T00:00:00Z',
      to: '2026-03-01T00:00:00Z',
      size: { min: 100, max: 200 },
    }),
    ...BirdSimulator.generate({
      seed: `${connection}-after`,
      count: 1,
      from: '2026-03-11T00:00:00Z',
      to: '2026-03-12T00:00:00Z',
      size: { min: 100, max: 200 },
    }),
  ];
  // One call still being recorded: its export runs until the test lets it finish.
  const [held] = BirdSimulator.generate({
    seed: `${connection}-held`,
    count: 1,
    from: '2026-04-01T00:00:00Z',
    to: '2026-04-02T00:00:00Z',
    size: { min: 1000, max: 1000 },
  }) as [BirdRecordingSpec];
  held.status = 'ongoing';
  let sim: BirdSimulator;
  let env: ExportEnv;
  let schedules: CallvaultSchedules;

  beforeAll(async () => {
    sim = new BirdSimulator({ seed: connection, recordings: [...live, ...days, ...outside, held] });
    await sim.start();
    env = await exportEnv({
      connections: {
        [connection]: birdConnection(sim, { notReadyRetrySeconds: 1 }),
      },
      secrets: { BIRD_KEY: sim.accessKey },
    });
    await env.spawnWorker();
    schedules = new CallvaultSchedules(env.client, env.config.temporal.taskQueue);
  });

  afterAll(async () => {
    for (const s of (await schedules?.list().catch(() => [])) ?? []) await schedules.delete(s.scheduleId).catch(() => undefined);
    await env?.close();
    await sim?.stop();
  });

  async function exportRows(from: string, to: string) {
    const res = await env.provenance.pool.query<{
      workflow_id: string;
      window_from: Date;
      window_to: Date;
      status: string;
      trigger_kind: string;
      triggered_by: string | null;
    }>(
      `SELECT workflow_id, window_from, window_to, status, trigger_kind, triggered_by FROM callvault.exports
        WHERE connection = $1 AND window_from >= $2 AND window_to <= $3 ORDER BY window_from`,
      [connection, from, to],
    );
    return res.rows;
  }

  it('fires every 10 s, and each run exports the window since the previous one', async () => {
    const info = await schedules.createExport({ connection, every: '10s' });
    expect(info).toMatchObject({ kind: 'export', connection, overlap: 'ALLOW_ALL', catchupWindow: '30d', pauseOnFailure: false });
    // What it will do is known in advance: contiguous 10-second windows ending at each run.
    expect(info.next.length).toBeGreaterThan(1);
    for (const [i, next] of info.next.entries()) {
      expect(next.window!.to).toBe(next.at);
      if (i > 0) expect(next.window!.from).toBe(info.next[i - 1]!.window!.to);
    }

    const done = await eventually(
      'two finished scheduled runs',
      async () => {
        const d = await schedules.describe(connection);
        const finished = d.recent.filter((r) => !d.running.includes(r.workflowId));
        return finished.length >= 2 ? finished : undefined;
      },
      90_000,
      500,
    );
    await schedules.pause(connection, 'test done');
    const results = await Promise.all(
      done.slice(0, 2).map((r) => env.client.workflow.getHandle(r.workflowId).result() as Promise<ScheduledExportResult>),
    );
    const [a, b] = results as [ScheduledExportResult, ScheduledExportResult];
    expect(b.window.from).toBe(a.window.to);
    for (const r of results) {
      expect(Date.parse(r.window.to) - Date.parse(r.window.from)).toBe(10 * SECOND);
      expect(Date.parse(r.window.to) % (10 * SECOND)).toBe(0);
      expect(r.window.to).toBe(r.scheduledAt);
      expect(r.started).toBe(true);
      expect(r.exportWorkflowId).toBe(exportWorkflowId({ connection, ...r.window }));
    }

    // Every call of those 20 seconds is stored, by the export of its window.
    const expected = live.filter((rec) => rec.createdAt >= a.window.from && rec.createdAt < b.window.to);
    expect(a.result.transferred + b.result.transferred).toBe(expected.length);
    const rows = await env.files(connection);
    for (const rec of expected) {
      const window = rec.createdAt < a.window.to ? a : b;
      expect(
        rows.find((r) => r.source_id === rec.id),
        rec.id,
      ).toMatchObject({ status: 'stored', workflow_id: window.exportWorkflowId });
    }
    const exports = await exportRows(a.window.from, b.window.to);
    expect(exports.map((e) => [e.workflow_id, e.status, e.trigger_kind, e.triggered_by])).toEqual([
      [a.exportWorkflowId, 'completed', 'schedule', info.scheduleId],
      [b.exportWorkflowId, 'completed', 'schedule', info.scheduleId],
    ]);
  });

  it('backfills ten days as exactly the ten day windows, through the schedule', async () => {
    const daily = await schedules.createExport({
      connection,
      every: '1d',
      scheduleId: `${env.config.temporal.taskQueue}-export-${connection}-daily`,
    });
    const backfill = await schedules.backfill(daily.scheduleId, { from: '2026-03-01', to: '2026-03-11' });
    const expected = Array.from({ length: 10 }, (_, i) => ({ from: iso(Date.UTC(2026, 2, 1 + i)), to: iso(Date.UTC(2026, 2, 2 + i)) }));
    expect(backfill.windows).toEqual(expected);

    const rows = await eventually(
      'ten completed exports',
      async () => {
        const r = await exportRows('2026-02-01T00:00:00Z', '2026-03-31T00:00:00Z');
        return r.length >= 10 &&
          r.every((e) => e.status === 'completed') &&
          (await schedules.describe(daily.scheduleId)).running.length === 0
          ? r
          : undefined;
      },
      120_000,
      500,
    );
    expect(rows.map((r) => ({ from: r.window_from.toISOString(), to: r.window_to.toISOString() }))).toEqual(expected);
    expect(rows.every((r) => r.trigger_kind === 'schedule' && r.triggered_by === daily.scheduleId)).toBe(true);
    expect((await schedules.describe(daily.scheduleId)).actionsTaken).toBe(10);

    const stored = new Set((await env.files(connection)).filter((r) => r.status === 'stored').map((r) => r.source_id));
    for (const rec of days) expect(stored.has(rec.id), rec.id).toBe(true);
    for (const rec of outside) expect(stored.has(rec.id), `${rec.id} is outside the range`).toBe(false);
    await schedules.delete(daily.scheduleId);
  });

  it('reads a cron expression the way Temporal does', async () => {
    const cron = '7 3 * * mon,thu';
    const info = await schedules.createExport({
      connection,
      cron,
      delay: '7m',
      scheduleId: `${env.config.temporal.taskQueue}-export-${connection}-cron`,
      paused: false,
    });
    await schedules.delete(info.scheduleId);
    const parsed = parseCron(cron);
    expect(info.next.length).toBeGreaterThan(2);
    for (const [i, next] of info.next.entries()) {
      // Temporal's own next fire times, chained with callvault's cron arithmetic.
      if (i > 0) expect(iso(cronFireAfter(parsed, Date.parse(info.next[i - 1]!.at)))).toBe(next.at);
      expect(next.window!.to).toBe(iso(Date.parse(next.at) - 7 * 60 * SECOND));
      if (i > 0) expect(next.window!.from).toBe(info.next[i - 1]!.window!.to);
    }
  });

  it('attaches a second start of a window that is being exported to the running export', async () => {
    const window = { from: '2026-04-01T00:00:00Z', to: '2026-04-02T00:00:00Z' };
    const first = await env.start({ connection, ...window, trigger: { kind: 'operator', by: 'test' } });
    expect(first.started).toBe(true);
    const second = await env.start({ connection, ...window, trigger: { kind: 'cli', by: 'someone else' } });
    expect(second).toMatchObject({ started: false, workflowId: first.workflowId, runId: first.runId });

    // The schedule's run for the same day attaches too, and waits for that export.
    const run = await env.client.workflow.start(SCHEDULED_EXPORT_WORKFLOW_TYPE, {
      taskQueue: env.config.temporal.taskQueue,
      workflowId: uniqueName('scheduled-run'),
      args: [{ connection, every: '1d', at: '2026-04-02T00:00:00Z' }],
    });
    await eventually('the scheduled run to have asked for its export', async () => {
      const history = await run.fetchHistory();
      return history.events?.some((e) => e.activityTaskCompletedEventAttributes) ? true : undefined;
    });
    expect((await first.handle.describe()).status.name).toBe('RUNNING');

    held.status = 'available'; // the call ends; the export finishes
    const result = (await first.handle.result()) as ExportResult;
    expect(result).toMatchObject({ transferred: 1, listed: 1 });
    const scheduled = (await run.result()) as ScheduledExportResult;
    expect(scheduled).toMatchObject({
      started: false,
      exportWorkflowId: first.workflowId,
      window: { from: '2026-04-01T00:00:00.000Z', to: '2026-04-02T00:00:00.000Z' },
    });
    expect(scheduled.result).toEqual(result);

    // One execution of that export, one provenance row, one stored file.
    const executions = await eventually('visibility to list the export', async () => {
      const list = [];
      for await (const wf of env.client.workflow.list({ query: `WorkflowId = '${first.workflowId}'` })) list.push(wf);
      return list.length > 0 ? list : undefined;
    });
    expect(executions.map((e) => e.runId)).toEqual([first.runId]);
    const rows = await exportRows(window.from, window.to);
    expect(rows.map((r) => [r.workflow_id, r.trigger_kind])).toEqual([[first.workflowId, 'operator']]);
    expect((await env.files(connection)).filter((r) => r.source_id === held.id)).toHaveLength(1);
  });
});
