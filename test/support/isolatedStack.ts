import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrivatePostgres, type PrivatePostgres } from '../../src/devstack/privatePostgres';
import { startSeaweed, type SeaweedServer } from '../../src/devstack/seaweed';
import { startTemporal, type TemporalServer } from '../../src/devstack/temporal';
import { S3FaultProxy } from './s3FaultProxy';
import type { TestStack } from './stack';

/**
 * Servers of one test file's own, which it may stop, kill and restart mid-export without
 * disturbing any other file: a Temporal dev server (durable db file), SeaweedFS, a private
 * Postgres cluster, and the fault proxy in front of SeaweedFS. Every restart keeps its ports, so
 * running workers reconnect by themselves.
 */
export interface IsolatedStack {
  /** For exportEnv({ stack }): S3 goes through the proxy, the database is the private cluster. */
  readonly stack: TestStack;
  readonly temporal: TemporalServer;
  readonly seaweed: SeaweedServer;
  readonly postgres: PrivatePostgres;
  readonly proxy: S3FaultProxy;
  /** Stops everything and removes every file; safe to call twice and after a failed start. */
  stop(): Promise<void>;
}

export async function startIsolatedStack(): Promise<IsolatedStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'callvault-isolated-'));
  const stops: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.splice(0).reverse()) await s().catch((err: unknown) => console.error('isolated stack teardown:', err));
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const started = await Promise.allSettled([
      startTemporal({
        dataDir: join(dataDir, 'temporal'),
        headless: true,
        // As the shared stack: continue-as-new happens within tests of a few hundred files.
        dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 400 },
      }),
      startSeaweed({ dataDir: join(dataDir, 'seaweed') }),
      startPrivatePostgres(),
    ]);
    const [t, s, p] = started;
    if (t.status === 'fulfilled') stops.push(() => t.value.stop());
    // Its data is thrown away, so no need to wait out weed's slow graceful stop.
    if (s.status === 'fulfilled') stops.push(() => s.value.kill9());
    if (p.status === 'fulfilled') stops.push(() => p.value.destroy());
    if (t.status === 'rejected') throw t.reason;
    if (s.status === 'rejected') throw s.reason;
    if (p.status === 'rejected') throw p.reason;
    const proxy = await S3FaultProxy.start({ upstream: s.value.endpoint });
    stops.push(() => proxy.close());
    return {
      stack: { temporalAddress: t.value.address, s3Endpoint: proxy.endpoint, databaseUrl: p.value.url, dataDir },
      temporal: t.value,
      seaweed: s.value,
      postgres: p.value,
      proxy,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
