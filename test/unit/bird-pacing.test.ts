import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';
import { createProvider } from '../../src/providers/registry';
import type { Provider } from '../../src/providers/types';
import { BirdSimulator } from '../../src/simulators/bird';
import { birdConnection } from '../support/birdConnection';

/**
 * The Bird provider spaces its per-file API requests at the connection's transfer rate: the task
 * queue paces activities, and a batch's downloads run at once. Checked by lower bounds on the
 * spacing only (a slow machine can only widen it), as the Kore export test does.
 */
describe('the Bird provider paces its metadata requests', () => {
  const recordings = BirdSimulator.generate({
    seed: 'pace',
    count: 12,
    from: '2026-01-01T00:00:00Z',
    to: '2026-01-02T00:00:00Z',
    size: { min: 100, max: 100 },
  });
  const sim = new BirdSimulator({ seed: 'pace', recordings });
  let provider: Provider;

  beforeAll(async () => {
    await sim.start();
    const conn = birdConnection(sim, { rateLimit: { transferPerSecond: 40 } });
    provider = createProvider(parseConfig({ storage: { bucket: 'x-x' }, connections: { pace: conn } }).connections.pace!, {
      BIRD_KEY: sim.accessKey,
    });
  });
  afterAll(async () => {
    await provider.close();
    await sim.stop();
  });

  it("at the connection's transfer rate, even when a batch opens all its files at once", async () => {
    const items = recordings.map((r) => ({
      sourceId: r.id,
      conversationId: r.sourceId,
      kind: 'recording' as const,
      createdAt: r.createdAt,
      extension: '.mp3',
      locator: { recordingId: r.id },
    }));
    const outcomes = await Promise.all(items.map((item) => provider.openDownload(item, { offset: 0 })));
    for (const o of outcomes) if (o.kind === 'ready') o.download.body.resume();
    const times = sim.requests.filter((r) => r.server === 'bird-api').map((r) => r.at);
    expect(times).toHaveLength(12);
    // 40/s: slots 25 ms apart. Arrival times at the simulator: one late arrival can shorten a span
    // by up to a slot. Unpaced, all twelve arrive within a few milliseconds.
    const spans = times.slice(5).map((t, i) => t - times[i]!);
    expect(Math.min(...spans)).toBeGreaterThanOrEqual(3 * 25);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual((times.length - 2) * 25);
  });
});
