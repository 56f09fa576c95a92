import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createScratchDatabase, defaultDatabaseUrl, type ScratchDatabase } from '../src/devstack/postgres';
import { startSeaweed, type SeaweedServer } from '../src/devstack/seaweed';
import { startTemporal, type TemporalServer } from '../src/devstack/temporal';
import { ProvenanceStore } from '../src/provenance/store';

/** The real parts, started for this run on ports chosen here, in a temporary folder. */
export interface Stack {
  dataDir: string;
  temporal: TemporalServer;
  seaweed: SeaweedServer;
  database: ScratchDatabase;
  /** The bench's own connections: a Temporal client and a small pool on the scratch database. */
  client: Client;
  provenance: ProvenanceStore;
  stop(): Promise<void>;
}

export async function startStack(options: { keep: boolean }): Promise<Stack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'callvault-bench-'));
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch((err: unknown) => console.error('bench: stopping:', err));
    if (!options.keep) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const [temporal, seaweed, database] = await Promise.all([
      startTemporal({ dataDir, headless: true, dbFile: join(dataDir, 'temporal.db'), logFile: join(dataDir, 'temporal.log') }),
      startSeaweed({ dataDir: join(dataDir, 'seaweed'), logFile: join(dataDir, 'seaweed.log') }),
      createScratchDatabase(defaultDatabaseUrl(), 'callvault_bench'),
    ]);
    stops.push(
      () => temporal.stop(),
      () => seaweed.stop(),
      () => database.drop(),
    );
    const provenance = ProvenanceStore.connect(database.url, 3);
    stops.push(() => provenance.close());
    await provenance.migrate();
    const connection = await Connection.connect({ address: temporal.address });
    stops.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default' });
    return { dataDir, temporal, seaweed, database, client, provenance, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
