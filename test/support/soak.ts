import { expect } from 'vitest';
import { manifestsPrefix } from '../../src/storage/keys';
import type { ExportResult } from '../../src/contracts/exportResult';
import type { ExportEnv } from './harness';
import type { Window } from '../../src/contracts/window';

/** One provider's fault soak: what its simulator holds, in callvault's source ids, and how it counts. */
export interface SoakSubject {
  label: string;
  env: ExportEnv;
  connection: string;
  provider: string;
  window: Window;
  /** Files that must end stored exactly once, with this size and SHA-256. */
  available: ReadonlyMap<string, { size: number; sha256: string }>;
  /** Files that must end as failure rows with a reason of their own (the platform's final status). */
  finals: ReadonlyMap<string, RegExp>;
  /** Media bytes the simulator has sent for files, over all requests. */
  mediaBytesSent(): number;
  /** Requests the simulator saw and faults it played, per target, for the closing figures. */
  faultStats(): { requests: number; faults: number; detail: string };
}

export interface SoakRun {
  result: ExportResult;
  seconds: number;
}

/** Retries back off to 4 s at most: the soak proves what happens to every file, not how long a production backoff waits. */
export async function runSoakExport(subject: SoakSubject, options: Record<string, number> = {}): Promise<SoakRun> {
  const began = Date.now();
  const started = await subject.env.start({
    connection: subject.connection,
    ...subject.window,
    trigger: { kind: 'operator', by: 'soak' },
    options: { maxInFlight: 8, heartbeatTimeoutSeconds: 20, maxRetryIntervalSeconds: 4, ...options },
  });
  const result = (await started.handle.result()) as ExportResult;
  return { result, seconds: (Date.now() - began) / 1000 };
}

/**
 * What every soak asserts: each available file stored once with the simulator's size and SHA-256,
 * no file given up, failure rows for exactly the files with final statuses (each with its own
 * reason), as many data objects in the bucket as stored rows, and counters equal to distinct files.
 */
export async function expectEveryFileAccountedFor(subject: SoakSubject, run: SoakRun): Promise<void> {
  const rows = await subject.env.files(subject.connection);
  const stored = rows.filter((r) => r.status === 'stored');
  const failed = rows.filter((r) => r.status === 'failed');
  expect(
    failed
      .filter((r) => r.failure_code === 'gave_up' || r.failure_code === 'not_ready_timeout')
      .map((r) => `${r.source_id}: ${r.failure_reason}`),
  ).toEqual([]);
  expect(stored.map((r) => r.source_id).sort()).toEqual([...subject.available.keys()].sort());
  for (const row of stored) {
    const want = subject.available.get(row.source_id)!;
    expect({ id: row.source_id, size: Number(row.size_bytes), sha256: row.sha256 }).toEqual({ id: row.source_id, ...want });
  }
  expect(failed.map((r) => r.source_id).sort()).toEqual([...subject.finals.keys()].sort());
  for (const row of failed) expect(row.failure_reason, row.source_id).toMatch(subject.finals.get(row.source_id)!);

  const objects = await dataObjects(subject);
  expect(objects.sort()).toEqual(stored.map((r) => r.object_key!).sort());

  const distinct = subject.available.size + subject.finals.size;
  const counters = { listed: distinct, transferred: subject.available.size, skipped: 0, failed: subject.finals.size };
  expect(run.result).toMatchObject(counters);
  const row = await subject.env.provenance.pool.query(
    'SELECT listed, transferred, skipped, failed FROM callvault.exports WHERE workflow_id = $1',
    [run.result.workflowId],
  );
  expect(
    row.rows.map((r: Record<string, string>) => ({
      listed: Number(r.listed),
      transferred: Number(r.transferred),
      skipped: Number(r.skipped),
      failed: Number(r.failed),
    })),
  ).toEqual([counters]);
}

/** A rerun of the finished export under the same faults: it transfers nothing and fetches no file byte. */
export async function expectRerunFetchesNothing(subject: SoakSubject): Promise<SoakRun> {
  const rowsBefore = await subject.env.files(subject.connection);
  const bytesBefore = subject.mediaBytesSent();
  const rerun = await runSoakExport(subject);
  expect(rerun.result).toMatchObject({ transferred: 0, bytes: 0, skipped: subject.available.size });
  expect(subject.mediaBytesSent()).toBe(bytesBefore);
  expect(await subject.env.files(subject.connection)).toEqual(rowsBefore);
  return rerun;
}

/** Every key under the connection's folder but its manifests. */
export async function dataObjects(subject: Pick<SoakSubject, 'env' | 'connection' | 'provider'>): Promise<string[]> {
  const manifests = manifestsPrefix({
    prefix: subject.env.config.storage.prefix,
    provider: subject.provider,
    connection: subject.connection,
  });
  const folder = manifests.replace(/_manifests\/$/, '');
  const keys: string[] = [];
  for await (const key of subject.env.store.listKeys(folder)) if (!key.startsWith(manifests)) keys.push(key);
  return keys;
}

/** The figures a closing note quotes. */
export function soakLine(subject: SoakSubject, first: SoakRun, rerun: SoakRun): string {
  const stats = subject.faultStats();
  const rate = ((100 * stats.faults) / Math.max(1, stats.requests)).toFixed(1);
  return (
    `[soak ${subject.label}] ${subject.available.size + subject.finals.size} files (${subject.available.size} available, ${subject.finals.size} final): ` +
    `stored ${first.result.transferred}, failed ${first.result.failed}, gave up 0 in ${first.seconds.toFixed(1)} s; ` +
    `${stats.faults} faults in ${stats.requests} requests (${rate}%): ${stats.detail}; ` +
    `rerun: ${rerun.result.transferred} transferred, ${rerun.result.skipped} skipped in ${rerun.seconds.toFixed(1)} s, no file byte fetched`
  );
}
