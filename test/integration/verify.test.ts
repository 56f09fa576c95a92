import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExportResult } from '../../src/contracts/exportResult';
import { BirdSimulator } from '../../src/simulators/bird';
import { connectionPrefix } from '../../src/storage/keys';
import { verifyObjects, type VerifyProblem } from '../../src/verify/verify';
import { exportEnv, runCli, uniqueName, type ExportEnv, type FileRow } from '../support/harness';
import { birdConnection } from '../support/birdConnection';

const window = { from: '2026-03-01T00:00:00Z', to: '2026-03-08T00:00:00Z' };

/**
 * `callvault verify` both ways on the real stack: a small Bird export, then the damage the bucket
 * and provenance can suffer (a lost row, a stray object, a lost object, a failed row over a stored
 * object, bytes that differ from the manifest), then verify, repair, and verify again.
 */
describe('verify and repair on the real stack', () => {
  const connection = uniqueName('bird');
  let sim: BirdSimulator;
  let env: ExportEnv;
  let workflowId: string;
  let rows: FileRow[];
  /** The damaged files by what was done to them. */
  const damaged: Record<
    'lostRow' | 'stray' | 'lostObject' | 'failedOverObject' | 'sameSizeOtherBytes' | 'otherSize' | 'rowOverOtherBytes',
    string
  > = {
    lostRow: '',
    stray: '',
    lostObject: '',
    failedOverObject: '',
    sameSizeOtherBytes: '',
    otherSize: '',
    rowOverOtherBytes: '',
  };
  const recordings = BirdSimulator.generate({ seed: connection, count: 16, ...window, size: { min: 300, max: 40_000 } });

  const put = (key: string, body: Buffer) =>
    env.store.client.send(new PutObjectCommand({ Bucket: env.store.bucket, Key: key, Body: body }));
  const sql = (text: string, params: unknown[]) => env.provenance.pool.query(text, params);
  const allKeys = async () => {
    const keys: string[] = [];
    for await (const k of env.store.listKeys(connectionPrefix({ prefix: env.config.storage.prefix, provider: 'bird', connection })))
      keys.push(k);
    return keys.sort();
  };
  const verify = (args: string[] = []) => runCli(env, ['verify', '--connection', connection, ...args]);
  /** Every column of the rows of these objects but the serial id and the start time (a manifest keeps only when a file was done). */
  const fullRows = async (keys: string[]) =>
    (
      await sql(`SELECT * FROM callvault.files WHERE connection = $1 AND object_key = ANY($2::text[]) ORDER BY object_key`, [
        connection,
        keys,
      ])
    ).rows.map(({ id: _id, started_at: _started, ...row }: Record<string, unknown>) => row);
  let before: Array<Record<string, unknown>>;

  beforeAll(async () => {
    sim = new BirdSimulator({ seed: connection, recordings, signedUrlTtlSeconds: 600 });
    await sim.start();
    env = await exportEnv({
      connections: {
        [connection]: birdConnection(sim, { pageSize: 25, batchSize: 4, rateLimit: { transferPerSecond: 400 } }),
      },
      secrets: { BIRD_KEY: sim.accessKey },
    });
    await env.spawnWorker();
    const started = await env.start({ connection, ...window, trigger: { kind: 'operator', by: 'test' } });
    workflowId = started.workflowId;
    expect(((await started.handle.result()) as ExportResult).transferred).toBe(recordings.length);
    await env.stopWorkers();
    rows = (await env.files(connection)).filter((r) => r.status === 'stored');
    expect(rows).toHaveLength(recordings.length);
    before = await fullRows([rows[0]!.object_key!, rows[2]!.object_key!]);
    await damage();
  });

  async function damage(): Promise<void> {
    const [lostRow, lostObject, failedOverObject, sameSize, otherSize, rowOverOtherBytes] = rows;
    const deleteRow = (r: FileRow) =>
      sql('DELETE FROM callvault.files WHERE connection = $1 AND source_id = $2', [connection, r.source_id]);
    const bytesOf = async (r: FileRow) => buffer(await env.store.readStream(r.object_key!));
    damaged.lostRow = lostRow!.object_key!;
    await deleteRow(lostRow!);
    damaged.stray = `${connectionPrefix({ prefix: env.config.storage.prefix, provider: 'bird', connection })}2026/03/09/stray-call/stray.mp3`;
    await put(damaged.stray, Buffer.from('not from any export'));
    damaged.lostObject = lostObject!.object_key!;
    await env.store.client.send(new DeleteObjectCommand({ Bucket: env.store.bucket, Key: damaged.lostObject }));
    damaged.failedOverObject = failedOverObject!.object_key!;
    await sql(
      `UPDATE callvault.files SET status = 'failed', failure_code = 'gave_up', failure_reason = 'metadata: HTTP 500', bucket = NULL, object_key = NULL,
         size_bytes = NULL, sha256 = NULL WHERE connection = $1 AND source_id = $2`,
      [connection, failedOverObject!.source_id],
    );
    damaged.sameSizeOtherBytes = sameSize!.object_key!;
    await put(damaged.sameSizeOtherBytes, Buffer.alloc(Number(sameSize!.size_bytes), 0x41));
    await deleteRow(sameSize!);
    damaged.otherSize = otherSize!.object_key!;
    await put(damaged.otherSize, Buffer.concat([await bytesOf(otherSize!), Buffer.from('+')]));
    await deleteRow(otherSize!);
    damaged.rowOverOtherBytes = rowOverOtherBytes!.object_key!;
    await put(damaged.rowOverOtherBytes, Buffer.alloc(Number(rowOverOtherBytes!.size_bytes), 0x42));
  }

  afterAll(async () => {
    await env?.close();
    await sim?.stop();
  });

  /** Each problem as `kind detail`, by key. */
  const byKey = (problems: VerifyProblem[]) => {
    const found: Record<string, string[]> = {};
    for (const p of problems) {
      found[p.key] ??= [];
      found[p.key]!.push(
        p.kind === 'orphan'
          ? `orphan ${p.orphan!.source} ${p.orphan!.manifest}${p.orphan!.notAdopted ? ` (${p.orphan!.notAdopted})` : ''}`
          : `${p.kind} ${p.problem.split(' ').slice(0, 2).join(' ')}`,
      );
    }
    return found;
  };
  const stillWrong = () => ({
    [damaged.stray]: ['orphan no_row none'],
    [damaged.lostObject]: ['row object missing'],
    [damaged.sameSizeOtherBytes]: ['orphan no_row size_matches'],
    [damaged.otherSize]: ['orphan no_row size_differs'],
    [damaged.rowOverOtherBytes]: ['row object rewritten:', 'row content sha256'],
  });

  it('finds every object without a row and every row without its object', async () => {
    const report = await verifyObjects(env.provenance, env.store, {
      keyPrefix: env.config.storage.prefix,
      connections: env.config.connections,
      connection,
    });
    expect(byKey(report.problems)).toEqual({
      ...stillWrong(),
      [damaged.lostRow]: ['orphan no_row size_matches'],
      [damaged.failedOverObject]: ['orphan failed_row size_matches'],
    });
    expect(report.problems.find((p) => p.key === damaged.failedOverObject)).toMatchObject({
      problem: expect.stringMatching(
        /^stored object behind a failed row \(gave_up\); manifest .+_manifests\/.+ has it with the same size$/,
      ),
    });
    expect(report.summary).toMatchObject({
      checked: recordings.length - 4,
      listed: recordings.length,
      orphans: 5,
      adopted: 0,
      problems: 8,
    });
  });

  it('says so from the CLI with exit code 1, one line per finding and a summary line', async () => {
    const { code, stdout } = await verify();
    expect(code).toBe(1);
    const lines = stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('ORPHAN '))).toHaveLength(5);
    expect(lines.filter((l) => l.startsWith('MISMATCH '))).toHaveLength(3);
    expect(lines.at(-1)).toBe(
      `verified ${recordings.length - 4} objects in 1 connection (${lines.at(-1)!.match(/\((.+?)\)/)![1]}), listed ${recordings.length} in the bucket, 5 without a row, 0 adopted: 8 problems`,
    );
  });

  it('answers for one export with --export: its rows and the orphans its manifests or rows name', async () => {
    const { code, stdout } = await runCli(env, ['verify', '--export', workflowId, '--json']);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as { findings: VerifyProblem[] };
    // The stray object names no export.
    expect(new Set(report.findings.map((f) => f.key))).toEqual(new Set(Object.values(damaged).filter((k) => k !== damaged.stray)));
  });

  it('skips what --no-content and --no-bucket say', async () => {
    const { code, stdout } = await verify(['--no-content', '--no-bucket']);
    expect(code).toBe(1);
    expect(stdout).not.toContain('ORPHAN');
    expect(stdout).toContain(`MISMATCH ${damaged.rowOverOtherBytes}`);
    expect(stdout).not.toContain('content sha256');
    expect(stdout).toMatch(/bucket not listed, 0 without a row, 0 adopted: 2 problems\n$/);
  });

  it('adopts with --repair exactly the objects whose size and SHA-256 match their manifest, and deletes nothing', async () => {
    const keysBefore = await allKeys();
    const { code, stdout } = await verify(['--repair', '--json']);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as {
      findings: Array<VerifyProblem | { kind: 'adopted'; key: string; replacedFailedRow: boolean }>;
      summary: { adopted: number; problems: number; orphans: number };
    };
    const adopted = report.findings.filter((f) => f.kind === 'adopted');
    expect(adopted.map((a) => a.key).sort()).toEqual([damaged.lostRow, damaged.failedOverObject].sort());
    expect(adopted.find((a) => a.key === damaged.failedOverObject)).toMatchObject({ replacedFailedRow: true });
    expect(byKey(report.findings.filter((f): f is VerifyProblem => f.kind !== 'adopted'))).toEqual({
      ...stillWrong(),
      [damaged.stray]: ['orphan no_row none (no manifest entry)'],
      [damaged.sameSizeOtherBytes]: ['orphan no_row size_matches (hash differs)'],
      [damaged.otherSize]: ['orphan no_row size_differs (size differs)'],
    });
    expect(report.summary).toMatchObject({ orphans: 5, adopted: 2, problems: 6 });
    expect(await allKeys()).toEqual(keysBefore);
  });

  it('wrote the adopted rows as the export had: same source, object, hash and export attempt', async () => {
    expect(before.map((r) => r.object_key).sort()).toEqual([damaged.lostRow, damaged.failedOverObject].sort());
    expect(await fullRows([damaged.lostRow, damaged.failedOverObject])).toEqual(before);
  });

  it('reports on a second run only what it cannot repair', async () => {
    const { code, stdout } = await verify();
    expect(code).toBe(1);
    for (const key of [damaged.lostRow, damaged.failedOverObject]) expect(stdout).not.toContain(key);
    for (const key of Object.keys(stillWrong())) expect(stdout).toContain(key);
    expect(stdout).toMatch(/, 3 without a row, 0 adopted: 6 problems\n$/);
  });

  it('refuses an unknown connection or export with exit code 2, naming it', async () => {
    const conn = await runCli(env, ['verify', '--connection', 'nope']);
    expect(conn).toMatchObject({ code: 2, stdout: '' });
    expect(conn.stderr).toContain(`unknown connection 'nope' (configured: ${connection})`);
    const exp = await runCli(env, ['verify', '--export', 'nope']);
    expect(exp).toMatchObject({ code: 2, stdout: '' });
    expect(exp.stderr).toContain("unknown export 'nope'");
  });
});
