import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdSimulator, type BirdRecordingSpec } from '../../src/simulators/bird';
import { verifyObjects } from '../../src/verify/verify';
import type { ExportResult } from '../../src/contracts/exportResult';
import { exportEnv, uniqueName, type ExportEnv, type WorkerProcess } from '../support/harness';
import { startIsolatedStack, type IsolatedStack } from '../support/isolatedStack';
import { PROVENANCE_INSERT, blockWrites } from '../support/pgBlock';
import type { S3Request } from '../support/s3FaultRules';
import { MiB } from '../../src/contracts/units';
import { PARTS_IN_FLIGHT } from '../../src/transfer/parts';
import { birdConnection } from '../support/birdConnection';

/**
 * A worker killed with -9 at each moment of a large file's life: in the middle of a part, with
 * CompleteMultipartUpload sent and with it answered, while the manifest goes up, while the
 * provenance INSERT waits, and while a resumed file is read back to be hashed. (There is no copy
 * of the object onto itself any more, so no moment after one: the SHA-256 of a multipart upload
 * stays in provenance and the manifest.) Each time another worker finishes the file, intact, and the bytes fetched twice from
 * the platform stay within the parts in flight (PARTS_IN_FLIGHT) plus what the kernel's socket buffers held.
 */
const PART_MIB = 5;
const SIZE = 26 * MiB + 12_345;
const DAY = 24 * 3600 * 1000;

function maxSocketBuffer(name: 'tcp_wmem' | 'tcp_rmem'): number {
  try {
    const max = Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2]);
    return Number.isFinite(max) && max > 0 ? max : 8 * MiB;
  } catch {
    return 8 * MiB;
  }
}
/** Bytes a dead worker may have been sent but never read: the sender's and the receiver's socket buffers. */
const KERNEL_SOCKET_BUFFERS = maxSocketBuffer('tcp_wmem') + maxSocketBuffer('tcp_rmem');

interface Moment {
  name: string;
  /** Arms the moment; resolves once the worker is there. Returns how to let go afterwards. */
  arm(iso: IsolatedStack, id: string): { reached: Promise<unknown>; release: () => Promise<void> | void };
}

const on =
  (id: string, op: string, extra: (r: S3Request) => boolean = () => true) =>
  (r: S3Request) =>
    r.operation === op && (r.key ?? '').includes(id) && extra(r);

function holdS3(match: (id: string) => (r: S3Request) => boolean, at: 'request' | 'response' | { bodyByte: number }): Moment['arm'] {
  return (iso, id) => {
    const rule = iso.proxy.hold(match(id), { at });
    return { reached: rule.held(), release: () => rule.release() };
  };
}

const MOMENTS: Moment[] = [
  { name: 'in the middle of part 3', arm: holdS3((id) => on(id, 'UploadPart', (r) => r.partNumber === 3), { bodyByte: 2 * MiB }) },
  { name: 'with CompleteMultipartUpload sent', arm: holdS3((id) => on(id, 'CompleteMultipartUpload'), 'request') },
  { name: 'after CompleteMultipartUpload', arm: holdS3((id) => on(id, 'CompleteMultipartUpload'), 'response') },
  {
    name: 'while the manifest goes up',
    arm: holdS3(() => (r) => r.operation === 'PutObject' && (r.key ?? '').includes('/_manifests/'), 'request'),
  },
  {
    name: 'while the provenance INSERT waits',
    arm: (iso) => {
      const block = blockWrites(iso.postgres.url);
      return {
        reached: block.then((b) => b.waitUntilBlocked({ matching: PROVENANCE_INSERT, timeoutMs: 120_000 })),
        release: async () => (await block).release(),
      };
    },
  },
];

describe("kill -9 at every moment of a large file's life", () => {
  const connection = uniqueName('moments');
  const start = Date.parse('2026-06-01T00:00:00Z');
  // One 26 MiB recording a day, a day a moment (and one more for the read-back).
  const recordings: BirdRecordingSpec[] = BirdSimulator.generate({
    seed: connection,
    count: MOMENTS.length + 1,
    from: new Date(start).toISOString(),
    to: new Date(start + (MOMENTS.length + 1) * DAY).toISOString(),
    size: { min: SIZE, max: SIZE },
  });
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
        [connection]: birdConnection(sim, { rateLimit: { transferPerSecond: 400 } }),
      },
      secrets: { BIRD_KEY: sim.accessKey },
      storage: { partSizeMiB: PART_MIB },
    });
  });

  afterAll(async () => {
    console.log(lines.join('\n'));
    await env?.close();
    await iso?.stop();
    await sim?.stop();
  });

  /** Starts the export of recording `n`'s day; returns its handle. */
  async function startDay(n: number) {
    const window = { from: new Date(start + n * DAY).toISOString(), to: new Date(start + (n + 1) * DAY).toISOString() };
    return env.start({
      connection,
      ...window,
      trigger: { kind: 'operator', by: 'crash test' },
      options: { heartbeatTimeoutSeconds: 2, maxRetryIntervalSeconds: 1 },
    });
  }

  /** Kills `victim` once `reached`, lets the held request go, and has a fresh worker finish. */
  async function killAt(
    victim: WorkerProcess,
    armed: { reached: Promise<unknown>; release: () => Promise<void> | void },
    id: string,
  ): Promise<number> {
    await armed.reached;
    const sentAtKill = sim.mediaBytesSent(id);
    await victim.kill9();
    await armed.release();
    return sentAtKill;
  }

  async function expectIntact(n: number, result: ExportResult): Promise<number> {
    const rec = recordings[n]!;
    expect(result).toMatchObject({ transferred: 1, failed: 0 });
    const row = (await env.files(connection)).find((r) => r.source_id === rec.id)!;
    expect({ status: row.status, size: Number(row.size_bytes), sha256: row.sha256 }).toEqual({
      status: 'stored',
      size: SIZE,
      sha256: await sim.sha256(rec.id),
    });
    const refetched = sim.mediaBytesSent(rec.id) - SIZE;
    expect(refetched).toBeLessThanOrEqual(PARTS_IN_FLIGHT * PART_MIB * MiB + KERNEL_SOCKET_BUFFERS);
    return refetched;
  }

  const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

  /** The one worker running between scenarios: each kills it and leaves its successor for the next. */
  let current: WorkerProcess | undefined;
  const running = async () => (current ??= await env.spawnWorker());

  it.each(MOMENTS.map((m, n) => [m.name, n] as const))('finishes intact after a kill %s', async (name, n) => {
    const id = recordings[n]!.id;
    const victim = await running();
    const armed = MOMENTS[n]!.arm(iso, id);
    const started = await startDay(n);
    const sentAtKill = await killAt(victim, armed, id);
    current = await env.spawnWorker();
    const refetched = await expectIntact(n, (await started.handle.result()) as ExportResult);
    lines.push(
      `[crash ${name}] killed at ${mib(sentAtKill)} of ${mib(SIZE)}; fetched twice ${mib(refetched)} (limit: ${PARTS_IN_FLIGHT} parts of ${PART_MIB} MiB in flight + ${mib(KERNEL_SOCKET_BUFFERS)} of kernel socket buffers)`,
    );
  });

  it('finishes intact after a kill in the middle of a part, and another while the resumed file is read back', async () => {
    const n = MOMENTS.length;
    const id = recordings[n]!.id;
    const first = await running();
    const started = await startDay(n);
    const sentAtKill = await killAt(first, holdS3((i) => on(i, 'UploadPart', (r) => r.partNumber === 3), { bodyByte: MiB })(iso, id), id);
    // The next worker resumes after part 2 and must read the object back to hash it: kill it there.
    const second = await env.spawnWorker();
    await killAt(second, holdS3((i) => on(i, 'GetObject'), 'response')(iso, id), id);
    current = await env.spawnWorker();
    const refetched = await expectIntact(n, (await started.handle.result()) as ExportResult);
    lines.push(
      `[crash in a part, then in the read-back] killed at ${mib(sentAtKill)} of ${mib(SIZE)}; fetched twice ${mib(refetched)} (limit: ${PARTS_IN_FLIGHT} parts of ${PART_MIB} MiB in flight + ${mib(KERNEL_SOCKET_BUFFERS)} of kernel socket buffers)`,
    );
  });

  it('leaves every object verified, no upload open, no copy made and no worker that died on its own', async () => {
    expect(iso.proxy.requestsFor('CopyObject')).toEqual([]);
    const report = await verifyObjects(env.provenance, env.store, { keyPrefix: env.config.storage.prefix, connection });
    expect(report.problems).toEqual([]);
    expect(report.checked).toBe(recordings.length);
    expect(await env.store.findUploadsUnder(env.config.storage.prefix)).toEqual([]);
    expect(env.unexpectedExits()).toEqual([]);
  });
});
