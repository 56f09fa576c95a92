import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExportResult } from '../../workflows/contracts';
import { BirdSimulator } from '../../src/simulators/bird';
import { verifyObjects } from '../../src/verify/verify';
import { eventually, exportEnv, uniqueName, type ExportEnv } from '../support/harness';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const PART_MIB = 8;

/**
 * The durability promise: kill -9 the worker in the middle of a 1 GiB recording, start another,
 * and the export completes with the object intact, having fetched less than two parts twice.
 */
describe('a worker killed in the middle of a 1 GiB recording', () => {
  const connection = uniqueName('bird-crash');
  const window = { from: '2026-04-01T00:00:00Z', to: '2026-04-02T00:00:00Z' };
  const recordings = BirdSimulator.generate({ seed: connection, count: 3, ...window, size: { min: 1000, max: 50_000 } });
  const big = recordings[1]!;
  big.size = GiB;
  let sim: BirdSimulator;
  let env: ExportEnv;

  beforeAll(async () => {
    sim = new BirdSimulator({ seed: connection, recordings });
    await sim.start();
    env = await exportEnv({
      connections: {
        [connection]: { provider: 'bird', baseUrl: sim.baseUrl, workspaceId: sim.workspaceId, accessKey: { env: 'BIRD_KEY' }, mediaHosts: [sim.storageHost], batchSize: 1 },
      },
      secrets: { BIRD_KEY: sim.accessKey },
      storage: { partSizeMiB: PART_MIB },
      worker: { transferConcurrency: 2 },
    });
  });

  afterAll(async () => {
    await env?.close();
    await sim?.stop();
  });

  it('completes intact on another worker, refetching less than two parts', async () => {
    const first = await env.spawnWorker();
    const started = await env.start({ connection, ...window, options: { heartbeatTimeoutSeconds: 5 } });

    await eventually('the big recording to be 40% through', () => sim.mediaBytesSent(big.id) > 0.4 * GiB, 120_000, 50);
    const firstPeak = first.peakRssBytes();
    await first.kill9();
    const sentBeforeCrash = sim.mediaBytesSent(big.id);

    const second = await env.spawnWorker();
    const peakPoll = setInterval(() => second.peakRssBytes(), 100);
    const result = (await started.handle.result()) as ExportResult;
    clearInterval(peakPoll);
    const secondPeak = second.peakRssBytes();

    const refetched = sim.mediaBytesSent(big.id) - big.size;
    console.log(
      `[crash] killed at ${(sentBeforeCrash / MiB).toFixed(0)} MiB of ${big.size / MiB} MiB; refetched ${(refetched / MiB).toFixed(1)} MiB ` +
        `(limit ${2 * PART_MIB} MiB); worker peak RSS ${(firstPeak / MiB).toFixed(0)} MiB before the kill, ${(secondPeak / MiB).toFixed(0)} MiB for the worker that finished`,
    );

    expect(result).toMatchObject({ transferred: 3, failed: 0 });
    const row = (await env.files(connection)).find((r) => r.source_id === big.id)!;
    expect(Number(row.size_bytes)).toBe(GiB);
    expect(row.sha256).toBe(await sim.sha256(big.id));
    expect((await verifyObjects(env.provenance, env.store, { connection })).problems).toEqual([]);

    expect(refetched).toBeGreaterThanOrEqual(0);
    expect(refetched).toBeLessThan(2 * PART_MIB * MiB);
    // The second attempt asked for the rest with Range, from where the stored parts end.
    const ranged = sim.requests.filter((r) => r.server === 'bird-storage' && r.id === big.id && r.headers.range);
    expect(ranged.length).toBeGreaterThanOrEqual(1);
    expect(firstPeak).toBeLessThan(200 * MiB);
    expect(secondPeak).toBeLessThan(200 * MiB);
  });
});
