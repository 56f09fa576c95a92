import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectLegalHoldCommand,
  ListMultipartUploadsCommand,
  UploadPartCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
} from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { devS3Client } from '../../src/devstack/seaweed';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRetentionSweep } from '../../src/client/retention';
import { CallvaultSchedules } from '../../src/client/schedules';
import { exportWorkflowId } from '../../src/contracts/exportInput';
import type { ExportResult } from '../../src/contracts/exportResult';
import { BirdSimulator } from '../../src/simulators/bird';
import { eventually, exportEnv, runCli, streamText, uniqueName, type ExportEnv, type FileRow } from '../support/harness';
import { birdConnection } from '../support/birdConnection';

/**
 * Erasure with proof on the real stack, in a versioned bucket (a plain DELETE there only adds a
 * delete marker, and every older version stays: the checks below list versions and markers).
 * Four calls of two recordings each: conversation A is erased whole; in conversation B one
 * recording is under a legal hold and is refused, the other erased. Then a rerun of the window, a
 * retention sweep and a schedule's runs over the same day export none of the erased files.
 */
describe('erasure on the real stack', () => {
  const connection = uniqueName('erase');
  const window = { from: '2026-03-01T00:00:00.000Z', to: '2026-03-01T23:00:00.000Z' };
  // Pairs of recordings share a call (the conversation): 0-1 is A, 2-3 is B.
  const recordings = BirdSimulator.generate({
    seed: connection,
    count: 8,
    from: window.from,
    to: '2026-03-01T22:00:00Z',
    size: { min: 100, max: 3000 },
  });
  const [a0, a1, b0, b1] = recordings as [(typeof recordings)[0], (typeof recordings)[0], (typeof recordings)[0], (typeof recordings)[0]];
  const erasedIds = [a0.id, a1.id, b1.id];
  let sim: BirdSimulator;
  let env: ExportEnv;
  let before: Map<string, FileRow>;
  const cli = (args: string[]) => runCli(env, args);
  const who = ['--by', 'dpo@example.com', '--reason', 'GDPR request 7'];
  const selection = ['--connection', connection, '--conversation', a0.sourceId, '--conversation', b0.sourceId];

  /** Every version and delete marker under the connection's folder, by key. */
  async function versionsByKey(): Promise<Map<string, string[]>> {
    const res = await env.store.client.send(new ListObjectVersionsCommand({ Bucket: env.store.bucket, Prefix: 'exports/' }));
    const out = new Map<string, string[]>();
    for (const v of [...(res.Versions ?? []), ...(res.DeleteMarkers ?? [])]) out.set(v.Key!, [...(out.get(v.Key!) ?? []), v.VersionId!]);
    return out;
  }

  async function exportResult(workflowId: string): Promise<ExportResult> {
    await eventually(
      `export ${workflowId}`,
      async () =>
        (await env.client.workflow
          .getHandle(workflowId)
          .describe()
          .catch(() => undefined)) !== undefined,
    );
    return (await env.client.workflow.getHandle(workflowId).result()) as ExportResult;
  }

  beforeAll(async () => {
    sim = new BirdSimulator({ seed: connection, recordings });
    await sim.start();
    env = await exportEnv({
      connections: {
        [connection]: birdConnection(sim, { retention: { keepDays: 10, leadDays: 2 } }),
      },
      secrets: { BIRD_KEY: sim.accessKey },
    });
    await env.store.client.send(
      new PutBucketVersioningCommand({ Bucket: env.store.bucket, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    await env.spawnWorker();
    // One batch, so one group manifest describes all eight files: each erasure rewrites it in turn.
    const first = (await (
      await env.start({ connection, ...window, trigger: { kind: 'operator', by: 'test' }, options: { maxInFlight: 1 } })
    ).handle.result()) as ExportResult;
    expect(first).toMatchObject({ transferred: 8, failed: 0 });
    before = new Map((await env.files(connection)).map((r) => [r.source_id, r]));
    // A second version of A0's object, and a sidecar of the kind earlier callvault versions wrote.
    const a0Key = before.get(a0.id)!.object_key!;
    await env.store.client.send(new PutObjectCommand({ Bucket: env.store.bucket, Key: a0Key, Body: 'a second version' }));
    await env.store.client.send(new PutObjectCommand({ Bucket: env.store.bucket, Key: `${a0Key}.json`, Body: '{}' }));
    // An unfinished upload of A1 (a crash no export came back for) holds its bytes too.
    const a1Key = before.get(a1.id)!.object_key!;
    const upload = await env.store.client.send(new CreateMultipartUploadCommand({ Bucket: env.store.bucket, Key: a1Key }));
    await env.store.client.send(
      new UploadPartCommand({ Bucket: env.store.bucket, Key: a1Key, UploadId: upload.UploadId, PartNumber: 1, Body: 'part one' }),
    );
  });

  afterAll(async () => {
    await env?.close();
    await sim?.stop();
  });

  it('holds a file with who and why, and a dry run lists what erase would delete or refuse, deleting nothing', async () => {
    const hold = await cli([
      'hold',
      'set',
      '--connection',
      connection,
      '--source-id',
      b0.id,
      '--by',
      'legal@example.com',
      '--reason',
      'litigation 42',
    ]);
    expect(hold.stderr).toBe('');
    expect(hold.code).toBe(0);
    expect(hold.stdout).toContain(`held ${b0.id}`);
    expect(hold.stdout).toContain('the bucket has no Object Lock: the hold is kept in provenance');
    const holds = await env.provenance.pool.query(`SELECT set_by, set_reason, released_at FROM callvault.holds WHERE connection = $1`, [
      connection,
    ]);
    expect(holds.rows).toEqual([{ set_by: 'legal@example.com', set_reason: 'litigation 42', released_at: null }]);

    const versions = await versionsByKey();
    const dry = await cli(['erase', ...selection, ...who, '--dry-run']);
    expect(dry.code).toBe(3); // some refused
    // Its object's two versions, the sidecar, and the version of the group manifest naming it.
    expect(dry.stdout).toContain(`would erase ${a0.id} (conversation ${a0.sourceId}): 4 object version(s)`);
    expect(dry.stdout).toContain(`would erase ${b1.id}`);
    expect(dry.stdout).toMatch(new RegExp(`would refuse ${b0.id} .*legal hold set by legal@example.com on .*: litigation 42`));
    expect(dry.stdout).toContain('4 files matched, would erase 3 (8 object versions), refused 1');
    expect(await versionsByKey()).toEqual(versions);
  });

  it("erases every version of the conversation's objects, writes a tombstone per file, and refuses the held file with its reason", async () => {
    const run = await cli(['erase', ...selection, ...who]);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toMatch(/started erase erase:/);
    expect(run.stdout).toMatch(new RegExp(`refused ${b0.id}: legal hold set by legal@example.com on .*: litigation 42`));
    expect(run.stdout).toContain('4 files matched, erased 3 (8 object versions), refused 1');

    const left = await versionsByKey();
    for (const id of erasedIds) {
      const key = before.get(id)!.object_key!;
      expect(left.get(key), key).toBeUndefined();
      expect(left.get(`${key}.json`)).toBeUndefined();
    }
    expect(left.get(before.get(b0.id)!.object_key!)).toHaveLength(1);
    const uploads = await env.store.client.send(
      new ListMultipartUploadsCommand({ Bucket: env.store.bucket, Prefix: before.get(a1.id)!.object_key! }),
    );
    expect(uploads.Uploads ?? []).toEqual([]);

    const tombstones = await env.provenance.pool.query<{
      source_id: string;
      erased_by: string;
      reason: string;
      sha256: string;
      workflow_id: string;
      deleted: Array<{ key: string; versionId: string }>;
    }>(
      `SELECT source_id, erased_by, reason, sha256, workflow_id, deleted FROM callvault.tombstones WHERE connection = $1 ORDER BY source_id`,
      [connection],
    );
    expect(tombstones.rows.map((t) => t.source_id)).toEqual([...erasedIds].sort());
    for (const t of tombstones.rows) {
      expect(t).toMatchObject({ erased_by: 'dpo@example.com', reason: 'GDPR request 7', sha256: before.get(t.source_id)!.sha256 });
      expect(t.workflow_id).toMatch(new RegExp(`^erase:${connection}:`));
    }
    const a0Key = before.get(a0.id)!.object_key!;
    const a0Deleted = tombstones.rows.find((t) => t.source_id === a0.id)!.deleted;
    const manifestKeys = [...left.keys()].filter((k) => k.includes('/_manifests/'));
    expect(manifestKeys).toHaveLength(1);
    const a0Manifest = a0Deleted.find((d) => d.key.includes('/_manifests/'))!.key;
    expect(manifestKeys).toContain(a0Manifest);
    expect(a0Deleted.map((d) => d.key).sort()).toEqual([a0Key, a0Key, `${a0Key}.json`, a0Manifest].sort());
    expect(new Set(a0Deleted.map((d) => d.versionId)).size).toBe(4);
    // Manifests were rewritten without the erased files' entries; no older version of one is left.
    let manifests = '';
    for (const key of manifestKeys) {
      expect(left.get(key), key).toHaveLength(1);
      manifests += await streamText(await env.store.readStream(key));
    }
    for (const id of erasedIds) expect(manifests).not.toContain(id);
    expect(manifests).not.toContain(a0.sourceId);
    expect(manifests).toContain(b0.id);

    const rows = new Map((await env.files(connection)).map((r) => [r.source_id, r]));
    for (const id of erasedIds) expect(rows.get(id)).toMatchObject({ status: 'erased', source_url: null });
    expect(rows.get(b0.id)).toMatchObject({ status: 'stored' });
  });

  it('verify: an erased file is not missing; an object of it that is back is reported with the command that erases it', async () => {
    const clean = await cli(['verify', '--connection', connection, '--no-content']);
    expect(clean.stdout).not.toContain('missing');
    expect(clean.code, clean.stdout).toBe(0);

    const key = before.get(a1.id)!.object_key!;
    await env.store.client.send(
      new PutObjectCommand({
        Bucket: env.store.bucket,
        Key: key,
        Body: 'written by a transfer that raced the erasure',
        Metadata: { 'source-id': a1.id },
      }),
    );
    const found = await cli(['verify', '--connection', connection, '--no-content', '--repair']);
    expect(found.code).toBe(1);
    const fix = `callvault erase --connection ${connection} --source-id ${a1.id} --by <you> --reason <why>`;
    expect(found.stdout).toContain('object of an erased file');
    expect(found.stdout).toContain(fix);
    expect((await env.files(connection)).find((r) => r.source_id === a1.id)).toMatchObject({ status: 'erased' }); // --repair adopted nothing

    const again = await cli(['erase', '--connection', connection, '--source-id', a1.id, ...who]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect((await versionsByKey()).get(key)).toBeUndefined();
    expect((await cli(['verify', '--connection', connection, '--no-content'])).code).toBe(0);
  });

  it("a rerun of the window, a retention sweep and a schedule's runs export none of the erased files", async () => {
    const rerun = (await (
      await env.start({ connection, ...window, trigger: { kind: 'operator', by: 'test' } })
    ).handle.result()) as ExportResult;
    expect(rerun).toMatchObject({ transferred: 0, failed: 0 });

    // 2026-03-01 is due at this "now" (keepDays 10, leadDays 2), and no export covers the whole day.
    const sweep = await runRetentionSweep(
      env.client,
      env.config.temporal.taskQueue,
      { now: '2026-03-09T06:00:00Z', lookbackDays: 0, connections: [connection] },
      uniqueName('sweep'),
    );
    const dayExport = exportWorkflowId({ connection, from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z' });
    const started = sweep.started.flatMap((w) => w.workflowIds);
    expect(started).toContain(dayExport);
    for (const id of started) expect(await exportResult(id)).toMatchObject({ transferred: 0, failed: 0 });
    expect(await exportResult(dayExport)).toMatchObject({ skipped: 8 });

    const schedules = new CallvaultSchedules(env.client, env.config.temporal.taskQueue);
    const info = await schedules.createExport({ connection, every: '12h' });
    try {
      const backfill = await schedules.backfill(info.scheduleId, { from: '2026-03-01', to: '2026-03-02' });
      expect(backfill.windows).toHaveLength(2);
      for (const w of backfill.windows)
        expect(await exportResult(exportWorkflowId({ connection, ...w }))).toMatchObject({ transferred: 0, failed: 0 });
    } finally {
      await schedules.delete(info.scheduleId);
    }

    const left = await versionsByKey();
    for (const id of erasedIds) expect(left.get(before.get(id)!.object_key!)).toBeUndefined();
    const rows = await env.files(connection);
    expect(
      rows
        .filter((r) => r.status === 'erased')
        .map((r) => r.source_id)
        .sort(),
    ).toEqual([...erasedIds].sort());
    expect(rows.filter((r) => r.status === 'stored')).toHaveLength(5);
    expect(env.unexpectedExits()).toEqual([]);
  });
});

/**
 * A bucket with Object Lock (SeaweedFS enforces legal holds and retention there: a DELETE of a
 * held or retained version is refused with 403). `hold set` puts the store's own legal hold on the
 * held file's version too; erase refuses it, and refuses a version under GOVERNANCE retention with
 * its retain-until date; after `hold release` the store's hold is off and erase deletes the file.
 */
describe('erasure in a bucket with Object Lock', () => {
  const connection = uniqueName('locked');
  const bucket = uniqueName('locked');
  const window = { from: '2026-03-01T00:00:00.000Z', to: '2026-03-02T00:00:00.000Z' };
  const recordings = BirdSimulator.generate({
    seed: connection,
    count: 4,
    from: window.from,
    to: window.to,
    size: { min: 100, max: 2000 },
  });
  const [held, retained, free] = recordings as [(typeof recordings)[0], (typeof recordings)[0], (typeof recordings)[0]];
  const retainUntil = new Date(Date.now() + 86_400_000);
  retainUntil.setUTCMilliseconds(0);
  let sim: BirdSimulator;
  let env: ExportEnv;
  let rows: Map<string, FileRow>;
  const who = ['--by', 'dpo@example.com', '--reason', 'GDPR request 8'];
  const legalHold = (key: string) =>
    env.store.client.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: key })).then((r) => r.LegalHold?.Status);

  beforeAll(async () => {
    const s3 = devS3Client(inject('stack').s3Endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    s3.destroy();
    sim = new BirdSimulator({ seed: connection, recordings });
    await sim.start();
    env = await exportEnv({
      connections: {
        [connection]: birdConnection(sim),
      },
      secrets: { BIRD_KEY: sim.accessKey },
      storage: { bucket },
    });
    await env.spawnWorker();
    await (await env.start({ connection, ...window, trigger: { kind: 'operator', by: 'test' } })).handle.result();
    rows = new Map((await env.files(connection)).map((r) => [r.source_id, r]));
    await env.store.client.send(
      new PutObjectRetentionCommand({
        Bucket: bucket,
        Key: rows.get(retained.id)!.object_key!,
        Retention: { Mode: 'GOVERNANCE', RetainUntilDate: retainUntil },
      }),
    );
  });

  afterAll(async () => {
    await env?.close();
    await sim?.stop();
  });

  it('holds in the store too, refuses held and retained files with the reason, and erases after release', async () => {
    const hold = await runCli(env, [
      'hold',
      'set',
      '--connection',
      connection,
      '--source-id',
      held.id,
      '--by',
      'legal@example.com',
      '--reason',
      'litigation 43',
    ]);
    expect(hold.code, hold.stderr).toBe(0);
    expect(hold.stdout).toContain(`held ${held.id}`);
    expect(hold.stdout).toContain("the store's legal hold set on");
    expect(await legalHold(rows.get(held.id)!.object_key!)).toBe('ON');

    const ids = recordings.flatMap((r) => ['--source-id', r.id]);
    const run = await runCli(env, ['erase', '--connection', connection, ...ids, ...who]);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stdout).toMatch(new RegExp(`refused ${held.id}: legal hold set by legal@example.com on .*: litigation 43`));
    expect(run.stdout).toContain(
      `refused ${retained.id}: GOVERNANCE retention until ${retainUntil.toISOString()} on ${rows.get(retained.id)!.object_key!}`,
    );
    expect(run.stdout).toContain(`erased ${free.id}`);
    expect(run.stdout).toContain('4 files matched, erased 2');

    const release = await runCli(env, [
      'hold',
      'release',
      '--connection',
      connection,
      '--source-id',
      held.id,
      '--by',
      'legal@example.com',
      '--reason',
      'case closed',
    ]);
    expect(release.code, release.stderr).toBe(0);
    expect(release.stdout).toContain(`released ${held.id}`);
    expect(await legalHold(rows.get(held.id)!.object_key!)).toBe('OFF');
    const audit = await env.provenance.pool.query(
      `SELECT set_reason, released_by, released_reason FROM callvault.holds WHERE connection = $1`,
      [connection],
    );
    expect(audit.rows).toEqual([{ set_reason: 'litigation 43', released_by: 'legal@example.com', released_reason: 'case closed' }]);

    const after = await runCli(env, ['erase', '--connection', connection, '--source-id', held.id, '--source-id', retained.id, ...who]);
    expect(after.code).toBe(3);
    expect(after.stdout).toContain(`erased ${held.id}`);
    expect(after.stdout).toContain(`refused ${retained.id}: GOVERNANCE retention until`);
    const states = new Map((await env.files(connection)).map((r) => [r.source_id, r.status]));
    expect([states.get(held.id), states.get(retained.id), states.get(free.id)]).toEqual(['erased', 'stored', 'erased']);
  });
});
