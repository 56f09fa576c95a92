import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_WORKFLOW_TYPE, type ExportResult } from '../../src/contracts/exportResult';
import { BirdSimulator, type BirdRecordingSpec } from '../../src/simulators/bird';
import { manifestsPrefix } from '../../src/storage/keys';
import { readManifests } from '../../src/storage/manifests';
import { verifyObjects } from '../../src/verify/verify';
import { decodedHistory, exportEnv, runCli as cli, uniqueName, type ExportEnv, streamText, type WorkerProcess } from '../support/harness';
import { MiB } from '../../src/contracts/units';
import { birdConnection } from '../support/birdConnection';

const window = { from: '2026-03-01T00:00:00Z', to: '2026-03-08T00:00:00Z' };

/**
 * Bird end to end on the real stack: a few hundred recordings over many listing pages, with the
 * faults PROVIDERS.md lists played along the way, then a rerun that must transfer nothing.
 */
describe('Bird export on the real stack', () => {
  const connection = uniqueName('bird');
  let sim: BirdSimulator;
  let env: ExportEnv;
  let worker: WorkerProcess;
  let first: ExportResult;
  let workflowId: string;
  const recordings: BirdRecordingSpec[] = BirdSimulator.generate({
    seed: connection,
    count: 300,
    ...window,
    size: { min: 200, max: 96 * 1024 },
    statuses: { absent: 2, failed: 2 },
  });
  // A few multipart-sized ones (the part size is 5 MiB here), and two still being recorded.
  for (const i of [10, 160, 290]) recordings[i]!.size = 11 * MiB + i;
  // Two between 1 MiB and a part: streamed in one PutObject, their SHA-256 put in by a copy.
  for (const i of [70, 250]) recordings[i]!.size = 3 * MiB + i;
  for (const i of [20, 220]) Object.assign(recordings[i]!, { status: 'ongoing', availableAfterPolls: 2 });
  recordings[30]!.size = 0;
  const available = () => recordings.filter((r) => r.status === 'available' || r.availableAfterPolls !== undefined);

  beforeAll(async () => {
    sim = new BirdSimulator({ seed: connection, recordings, signedUrlTtlSeconds: 600 });
    await sim.start();
    env = await exportEnv({
      connections: {
        [connection]: birdConnection(sim, {
          pageSize: 25,
          batchSize: 4,
          notReadyRetrySeconds: 2,
          // The simulator has no rate limit; the published one (50 GET/s) would only slow the test.
          rateLimit: { transferPerSecond: 400 },
        }),
      },
      secrets: { BIRD_KEY: sim.accessKey },
      storage: { partSizeMiB: 5 },
    });
    worker = await env.spawnWorker();

    const big = recordings[160]!.id;
    const small = recordings[40]!.id;
    sim.faults
      .add({ target: 'list', fault: { kind: 'status', status: 429, retryAfterSeconds: 1 } })
      .add({ target: 'list', fault: { kind: 'status', status: 500 } })
      .add({ target: 'metadata', id: recordings[41]!.id, fault: { kind: 'status', status: 500 }, times: 2 })
      .add({ target: 'metadata', id: recordings[42]!.id, fault: { kind: 'status', status: 429, retryAfterSeconds: 1 } })
      .add({ target: 'metadata', id: recordings[43]!.id, fault: { kind: 'expired' } })
      .add({ target: 'media', id: recordings[44]!.id, fault: { kind: 'expired' } })
      .add({ target: 'media', id: recordings[45]!.id, fault: { kind: 'status', status: 503 } })
      .add({ target: 'media', id: big, fault: { kind: 'cut', afterBytes: 7 * MiB } })
      .add({ target: 'media', id: small, fault: { kind: 'short', bytes: 100 } })
      .add({ target: 'media', id: recordings[290]!.id, fault: { kind: 'short', bytes: 6 * MiB } })
      .add({ target: 'media', id: recordings[250]!.id, fault: { kind: 'cut', afterBytes: 2 * MiB } });

    const started = await env.start({
      connection,
      ...window,
      trigger: { kind: 'operator', by: 'test' },
      options: { maxInFlight: 6, heartbeatTimeoutSeconds: 20 },
    });
    workflowId = started.workflowId;
    first = (await started.handle.result()) as ExportResult;
  });

  afterAll(async () => {
    await env?.close();
    await sim?.stop();
  });

  it("stores every available recording once, with the simulator's size and SHA-256", async () => {
    const rows = await env.files(connection);
    const stored = rows.filter((r) => r.status === 'stored');
    expect(stored).toHaveLength(available().length);
    for (const rec of available()) {
      const row = stored.find((r) => r.source_id === rec.id);
      expect(row, rec.id).toBeDefined();
      expect(Number(row!.size_bytes)).toBe(rec.size);
      expect(row!.sha256).toBe(await sim.sha256(rec.id));
      expect(row!.object_key).toMatch(new RegExp(`^exports/bird/${connection}/2026/03/0[1-7]/[0-9a-f-]+/${rec.id}\\.mp3$`));
    }
    expect(first).toMatchObject({ listed: recordings.length, transferred: available().length, failed: 4, skipped: 0 });
    expect(first.pagesListed).toBe(Math.ceil(recordings.length / 25));
  });

  it('played every fault it was asked to, and survived them', () => {
    expect(sim.faults.pending()).toBe(0);
  });

  it('ends absent and failed recordings as failure rows with their reason', async () => {
    const failed = (await env.files(connection)).filter((r) => r.status === 'failed');
    expect(failed.map((r) => r.source_id).sort()).toEqual(
      recordings
        .filter((r) => r.status === 'absent' || r.status === 'failed')
        .map((r) => r.id)
        .sort(),
    );
    for (const row of failed) {
      expect(row.failure_code).toBe('provider_final_status');
      expect(row.failure_reason).toMatch(/Bird reports status '(absent|failed)'/);
    }
  });

  it('waited durably for recordings that were still being recorded', async () => {
    const rows = await env.files(connection);
    for (const i of [20, 220]) expect(rows.find((r) => r.source_id === recordings[i]!.id)?.status).toBe('stored');
  });

  it("continued as new on the way, keeping each run's history small", () => {
    expect(first.generation).toBeGreaterThan(0);
  });

  it('left objects whose bytes, metadata and manifests agree with provenance', async () => {
    const report = await verifyObjects(env.provenance, env.store, { keyPrefix: env.config.storage.prefix, connection });
    expect(report.problems).toEqual([]);
    expect(report.checked).toBe(available().length);
    const row = (await env.files(connection)).find((r) => r.status === 'stored')!;
    const manifests = await readManifests(env.store, manifestsPrefix({ prefix: env.config.storage.prefix, provider: 'bird', connection }));
    expect(manifests.unreadable).toEqual([]);
    const entry = manifests.entries.get(row.object_key!)!;
    expect(entry).toMatchObject({ source: { id: row.source_id }, object: { sha256: row.sha256, key: row.object_key } });
    expect(JSON.parse(await streamText(await env.store.readStream(entry.manifestKey)))).toMatchObject({
      provider: 'bird',
      connection,
      bucket: env.store.bucket,
    });
    // Manifests are written per group of files: far fewer PUTs than one sidecar per file.
    const manifestKeys = new Set([...manifests.entries.values()].map((e) => e.manifestKey));
    expect(manifestKeys.size).toBeLessThan(available().length / 2);
  });

  it('kept the access key and signed URLs out of provenance, history and logs', async () => {
    const rows = JSON.stringify(await env.files(connection));
    const history = await decodedHistory(env.client, workflowId);
    const exportsRow = JSON.stringify(
      (await env.provenance.pool.query('SELECT * FROM callvault.exports WHERE workflow_id = $1', [workflowId])).rows,
    );
    for (const text of [rows, history, exportsRow, worker.log()]) {
      expect(text).not.toContain(sim.accessKey);
      expect(text).not.toContain('X-Amz-Signature');
    }
    // Credentials never travelled to the storage host.
    const toStorage = sim.requests.filter((r) => r.server === 'bird-storage');
    expect(toStorage.length).toBeGreaterThan(0);
    expect(toStorage.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it("fails at once, naming the field, on input it cannot use or an id that is not the window's", async () => {
    const start = (workflowId: string, input: unknown) =>
      env.client.workflow
        .start(EXPORT_WORKFLOW_TYPE, { taskQueue: env.config.temporal.taskQueue, workflowId, args: [input] })
        .then((h) => h.result());
    const began = Date.now();
    await expect(start(uniqueName('bad-input'), { connection, from: 'last tuesday', to: window.to })).rejects.toMatchObject({
      cause: {
        message: expect.stringMatching(/^invalid export input: from: expected an ISO-8601 date/),
        // The prebuilt bundle's lean source map still points stack traces at the TypeScript.
        stack: expect.stringMatching(/workflows\/\w+\.ts:\d+/),
      },
    });
    await expect(start(uniqueName('random-id'), { connection, ...window })).rejects.toMatchObject({
      cause: {
        message: expect.stringContaining(`workflow id: use 'export:${connection}:2026-03-01T00:00:00.000Z:2026-03-08T00:00:00.000Z'`),
      },
    });
    await expect(
      start(`export:nope:${new Date(window.from).toISOString()}:${new Date(window.to).toISOString()}`, { connection: 'nope', ...window }),
    ).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/^connection: unknown connection 'nope'/) },
    });
    expect(Date.now() - began).toBeLessThan(30_000);
  });

  it('answers `callvault export status` and `callvault verify` from the CLI', async () => {
    const status = await cli(env, ['export', 'status', workflowId, '--json']);
    // Exit 3: completed, with files the platform says are gone (the absent and failed recordings).
    expect(status.code).toBe(3);
    expect(JSON.parse(status.stdout)).toMatchObject({
      workflowId,
      temporalStatus: 'COMPLETED',
      totals: { stored: available().length, outcome: 'completed_with_final_failures' },
    });
    const verify = await cli(env, ['verify', '--connection', connection]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain(`verified ${available().length} objects`);
    expect(verify.stdout).toContain('0 problems');
  });

  it('transfers nothing and writes nothing on a rerun of the finished export', async () => {
    const rowsBefore = await env.files(connection);
    const mediaBefore = sim.requests.filter((r) => r.server === 'bird-storage').length;
    const metadataBefore = sim.requests.filter((r) => r.server === 'bird-api' && r.id).length;
    const again = await env.start({ connection, ...window, trigger: { kind: 'operator', by: 'test' } });
    expect(again.started).toBe(true);
    const second = (await again.handle.result()) as ExportResult;
    expect(second).toMatchObject({ transferred: 0, bytes: 0, skipped: available().length });
    expect(await env.files(connection)).toEqual(rowsBefore);
    expect(sim.requests.filter((r) => r.server === 'bird-storage').length).toBe(mediaBefore);
    // Only the four failed ones are looked at again (their status may have changed); nothing is downloaded.
    expect(sim.requests.filter((r) => r.server === 'bird-api' && r.id).length - metadataBefore).toBe(4);
  });
});
