import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdSimulator } from '../../src/simulators/bird';
import { verifyObjects } from '../../src/verify/verify';
import type { ExportResult } from '../../src/contracts/exportResult';
import { eventually, exportEnv, uniqueName, type ExportEnv } from '../support/harness';
import { startIsolatedStack, type IsolatedStack } from '../support/isolatedStack';
import { dataObjects } from '../support/soak';
import { MiB } from '../../src/contracts/units';
import { birdConnection } from '../support/birdConnection';

/**
 * Our own servers restarting in the middle of an export: Postgres (a private cluster, killed),
 * the Temporal dev server (stopped, down a while, started on the same database file) and
 * SeaweedFS (kill -9, same data directory). Each export must complete with no human action,
 * nothing lost, duplicated or corrupt, no multipart upload left open, and no worker process exited.
 */
const DAY = 24 * 3600 * 1000;

describe('restarts of our own servers in the middle of an export', () => {
  const connection = uniqueName('restarts');
  const first = Date.parse('2026-04-01T00:00:00Z');
  // One day a restart: 260 recordings each, a few big enough for multipart uploads of 5 MiB parts.
  const recordings = BirdSimulator.generate({
    seed: connection,
    count: 780,
    from: new Date(first).toISOString(),
    to: new Date(first + 3 * DAY).toISOString(),
    size: { min: 2_000, max: 150_000 },
  });
  for (let i = 40; i < recordings.length; i += 130) recordings[i]!.size = 12 * MiB + i;
  let sim: BirdSimulator;
  let iso: IsolatedStack;
  let env: ExportEnv;
  const lines: string[] = [];

  beforeAll(async () => {
    sim = new BirdSimulator({ seed: connection, recordings });
    await sim.start();
    iso = await startIsolatedStack();
    env = await exportEnv({
      stack: iso.stack,
      connections: {
        [connection]: birdConnection(sim, { pageSize: 40, batchSize: 8, rateLimit: { transferPerSecond: 400 } }),
      },
      secrets: { BIRD_KEY: sim.accessKey },
      storage: { partSizeMiB: 5 },
    });
    // Workflows and transfers in separate processes, as deployed; neither may exit.
    await env.spawnWorker({ CALLVAULT_WORKER_ROLE: 'workflows' });
    await env.spawnWorker({ CALLVAULT_WORKER_ROLE: 'transfers' });
  });

  afterAll(async () => {
    console.log(lines.join('\n'));
    if (process.env.DEBUG_RESTARTS) for (const w of env?.workers ?? []) console.log(`--- worker log\n${w.log().slice(-6000)}`);
    await env?.close();
    await iso?.stop();
    await sim?.stop();
  });

  /** Exports day `n`, doing `restart` once a quarter of its files are stored; checks the outcome. */
  async function exportThrough(n: number, what: string, restart: () => Promise<void>): Promise<void> {
    const window = { from: new Date(first + n * DAY).toISOString(), to: new Date(first + (n + 1) * DAY).toISOString() };
    const mine = recordings.filter((r) => r.createdAt >= window.from && r.createdAt < window.to);
    const began = Date.now();
    const started = await env.start({
      connection,
      ...window,
      trigger: { kind: 'operator', by: 'restart test' },
      options: { maxInFlight: 6, heartbeatTimeoutSeconds: 10 },
    });
    await eventually(
      `a quarter of day ${n} stored`,
      async () =>
        Number(
          (
            await env.provenance.pool.query(`SELECT count(*) AS n FROM callvault.files WHERE workflow_id = $1 AND status = 'stored'`, [
              started.workflowId,
            ])
          ).rows[0].n,
        ) >=
        mine.length / 4,
      120_000,
      100,
    );
    const restartAt = (Date.now() - began) / 1000;
    await restart();
    const result = (await started.handle.result()) as ExportResult;
    expect(result).toMatchObject({ listed: mine.length, transferred: mine.length, failed: 0, skipped: 0 });

    const rows = (await env.files(connection)).filter((r) => mine.some((m) => m.id === r.source_id));
    expect(rows.filter((r) => r.status !== 'stored')).toEqual([]);
    for (const rec of mine) {
      const row = rows.find((r) => r.source_id === rec.id);
      expect({ id: rec.id, size: Number(row?.size_bytes), sha256: row?.sha256 }).toEqual({
        id: rec.id,
        size: rec.size,
        sha256: await sim.sha256(rec.id),
      });
    }
    const report = await verifyObjects(env.provenance, env.store, {
      keyPrefix: env.config.storage.prefix,
      connection,
      workflowId: started.workflowId,
    });
    expect(report.problems).toEqual([]);
    expect(await env.store.findUploadsUnder(env.config.storage.prefix)).toEqual([]);
    expect(env.unexpectedExits()).toEqual([]);
    const refetched = mine.reduce((sum, r) => sum + sim.mediaBytesSent(r.id), 0) - mine.reduce((sum, r) => sum + r.size, 0);
    lines.push(
      `[restart ${what}] ${mine.length} files; restarted at ${restartAt.toFixed(1)} s, export done at ${((Date.now() - began) / 1000).toFixed(1)} s; all ${result.transferred} stored and verified; media fetched twice ${(refetched / MiB).toFixed(1)} MiB; 0 open uploads; workers exited: 0`,
    );
  }

  it('completes through a Postgres crash (kill -9 of the cluster, up again 5 s later)', async () => {
    await exportThrough(0, 'postgres killed, 5 s down', async () => {
      await iso.postgres.kill();
      await new Promise((r) => setTimeout(r, 5_000));
      await iso.postgres.start();
    });
  });

  it('completes through the Temporal server stopping, 15 s down, and starting on the same database file', async () => {
    await exportThrough(1, 'temporal stopped, 15 s down', async () => {
      await iso.temporal.stop();
      await new Promise((r) => setTimeout(r, 15_000));
      await iso.temporal.start();
    });
  });

  it('completes through SeaweedFS killed with -9 and started on the same data', async () => {
    await exportThrough(2, 'seaweedfs kill -9', async () => {
      await iso.seaweed.kill9();
      await new Promise((r) => setTimeout(r, 2_000));
      await iso.seaweed.start();
    });
    // Nothing duplicated: one data object per stored row, whatever was retried.
    const stored = (await env.files(connection)).filter((r) => r.status === 'stored');
    expect((await dataObjects({ env, connection, provider: 'bird' })).sort()).toEqual(stored.map((r) => r.object_key!).sort());
  });
});
