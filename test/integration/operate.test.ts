import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { msToTs } from '@temporalio/common/lib/time';
import { exportWorkflowId } from '../../src/contracts/exportInput';
import { progressQuery } from '../../src/contracts/exportResult';
import { MiB } from '../../src/contracts/units';
import { BirdSimulator } from '../../src/simulators/bird';
import { EXIT } from '../../src/cli/exitCodes';
import { eventually, exportEnv, runCli, uniqueName, type ExportEnv } from '../support/harness';
import { birdConnection } from '../support/birdConnection';

/**
 * The operator's verbs of the CLI against the real stack: an export that ends with files given up
 * and a file the platform says is gone, its status (the window's totals across runs), its failed
 * files with reasons, the list of exports, a retry that fetches only the failed files, a cancel,
 * and the exit codes that tell "completed", "final failures" and "given up" apart. Then `setup
 * temporal` on a namespace that lacks the search attributes, which a worker refuses to serve.
 */
describe('the operator CLI: list, status, failures, retry, cancel and exit codes', () => {
  const connection = uniqueName('op');
  const window = { from: '2026-06-01T00:00:00.000Z', to: '2026-06-02T00:00:00.000Z' };
  const slowWindow = { from: '2026-06-03T00:00:00.000Z', to: '2026-06-04T00:00:00.000Z' };
  const recordings = [
    ...BirdSimulator.generate({ seed: connection, count: 10, ...window, size: { min: 1_000, max: 20_000 }, statuses: { absent: 1 } }),
    ...BirdSimulator.generate({ seed: `${connection}-slow`, count: 1, ...slowWindow, size: { min: 6 * MiB, max: 6 * MiB } }),
  ];
  const sim = new BirdSimulator({ seed: connection, recordings });
  const flaky = recordings.slice(3, 5);
  const slow = recordings[10]!;
  const workflowId = exportWorkflowId({ connection, ...window });
  let env: ExportEnv;

  beforeAll(async () => {
    await sim.start();
    env = await exportEnv({
      connections: {
        [connection]: birdConnection(sim),
      },
      secrets: { BIRD_KEY: sim.accessKey },
    });
    await env.spawnWorker({ BIRD_KEY: sim.accessKey });
  });

  afterAll(async () => {
    await env?.close();
    await sim.stop();
  });

  const cli = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const r = await runCli(env, args, extraEnv);
    return { code: r.code, stdout: r.stdout, out: `${r.stdout}${r.stderr}` };
  };
  const mediaFetched = () => new Set(sim.requests.filter((r) => r.server === 'bird-storage').map((r) => r.id));

  it('export start exits 4 when files were given up, and names the codes', async () => {
    for (const r of flaky) sim.faults.add({ target: 'media', id: r.id, fault: { kind: 'status', status: 503 }, times: Infinity });
    const started = await cli([
      'export',
      'start',
      '--connection',
      connection,
      '--from',
      window.from,
      '--to',
      window.to,
      '--max-attempts',
      '2',
    ]);
    expect(started.code, started.out).toBe(EXIT.givenUp);
    expect(started.out).toMatch(/completed: 7 transferred .* 3 failed, 10 listed/);
    expect(started.out).toContain('2 gave_up: given up after its tries');
    expect(started.out).toContain('1 provider_final_status');
    expect(started.out).toContain(`callvault export failures ${workflowId}`);
  });

  it('export status shows the window totals and exits 4; export failures lists each file with its reason', async () => {
    const status = await cli(['export', 'status', workflowId]);
    expect(status.code, status.out).toBe(EXIT.givenUp);
    expect(status.out).toMatch(
      /window totals \(every run of this export\): 7 stored \(.*\), 3 failed \(1 provider_final_status, 2 gave_up\)/,
    );
    expect(status.out).toContain(`callvault export retry ${workflowId}`);

    const failures = await cli(['export', 'failures', workflowId, '--json']);
    expect(failures.code, failures.out).toBe(EXIT.givenUp);
    const doc = JSON.parse(failures.stdout) as {
      totals: { failed: number };
      files: Array<{ sourceId: string; failureCode: string; failureReason: string }>;
    };
    expect(doc.totals.failed).toBe(3);
    const byCode = Object.fromEntries(doc.files.map((f) => [f.sourceId, f.failureCode]));
    expect(byCode).toMatchObject(Object.fromEntries(flaky.map((r) => [r.id, 'gave_up'])));
    expect(doc.files.filter((f) => f.failureCode === 'gave_up').every((f) => /^gave up after 2 tries: .*503/.test(f.failureReason))).toBe(
      true,
    );
    // The same by window, as text: one line per file with its code and reason.
    const byWindow = await cli(['export', 'failures', '--connection', connection, '--from', '2026-06-01', '--to', '2026-06-02']);
    expect(byWindow.code).toBe(EXIT.givenUp);
    expect(byWindow.stdout.split('\n').filter((l) => l.startsWith('gave_up\t'))).toHaveLength(2);
    expect(byWindow.stdout).toMatch(/provider_final_status\t\S+\trecording\t\S+\t.*absent/);
  });

  it('export list finds it by connection, status and window', async () => {
    const listed = await cli([
      'export',
      'list',
      '--connection',
      connection,
      '--status',
      'completed',
      '--from',
      '2026-06-01',
      '--to',
      '2026-06-02',
    ]);
    expect(listed.code, listed.out).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(
        `^completed\\t2026-06-01T00:00:00.000Z \\.\\. 2026-06-02T00:00:00.000Z\\tcli(:\\S+)?\\t7\\t3 failed \\(1 provider_final_status, 2 gave_up\\)\\t${workflowId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`,
        'm',
      ),
    );
    const none = await cli(['export', 'list', '--connection', connection, '--status', 'failed']);
    expect(none.stdout).toContain(`no exports of ${connection} failed`);
  });

  it('export retry fetches only the failed files again, and exits 3 for the one the platform says is gone', async () => {
    sim.faults.clear();
    const before = sim.requests.length;
    const retried = await cli(['export', 'retry', workflowId]);
    expect(retried.code, retried.out).toBe(EXIT.finalFailures);
    expect(retried.out).toContain(`export ${workflowId}: 2 of 3 failed files stored now; 1 failed (1 provider_final_status)`);
    const mediaDuringRetry = new Set(
      sim.requests
        .slice(before)
        .filter((r) => r.server === 'bird-storage')
        .map((r) => r.id),
    );
    expect(mediaDuringRetry).toEqual(new Set(flaky.map((r) => r.id)));
    // The window's totals count every run: 9 stored, though this run transferred 2.
    const status = await cli(['export', 'status', workflowId, '--json']);
    expect(status.code).toBe(EXIT.finalFailures);
    const json = JSON.parse(status.stdout) as {
      totals: { stored: number; failed: number };
      latestRun: { counters: { transferred: number } };
    };
    expect(json.totals).toMatchObject({ stored: 9, failed: 1 });
    expect(json.latestRun.counters.transferred).toBe(2);
    expect(mediaFetched().size).toBe(9);
  });

  it('export cancel stops a running export; status then exits 1 and list shows it cancelled', async () => {
    sim.faults.add({ target: 'media', id: slow.id, fault: { kind: 'slow', bytesPerSecond: 256 * 1024 }, times: Infinity });
    const slowId = exportWorkflowId({ connection, ...slowWindow });
    const started = await cli([
      'export',
      'start',
      '--no-wait',
      '--connection',
      connection,
      '--from',
      slowWindow.from,
      '--to',
      slowWindow.to,
    ]);
    expect(started.code, started.out).toBe(0);
    await eventually(
      'a transfer in flight',
      async () =>
        ((
          await env.client.workflow
            .getHandle(slowId)
            .query(progressQuery)
            .catch(() => null)
        )?.inFlight ?? 0) > 0,
      30_000,
    );
    const running = await cli(['export', 'status', slowId]);
    expect(running.code).toBe(EXIT.running);
    const cancelled = await cli(['export', 'cancel', '--connection', connection, '--from', slowWindow.from, '--to', slowWindow.to]);
    expect(cancelled.code, cancelled.out).toBe(0);
    expect(cancelled.stdout).toContain(`export ${slowId}: CANCELLED`);
    expect((await cli(['export', 'status', slowId])).code).toBe(EXIT.error);
    expect((await cli(['export', 'cancel', slowId])).stdout).toContain('cancelled already');
    const list = await cli(['export', 'list', '--connection', connection, '--status', 'cancelled']);
    expect(list.stdout).toMatch(new RegExp(`^cancelled\\t2026-06-03.*\\t${slowId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  });

  it('says when there is no such export, with exit 2', async () => {
    expect((await cli(['export', 'status', `export:${connection}:2020-01-01T00:00:00.000Z:2020-01-02T00:00:00.000Z`])).code).toBe(
      EXIT.unknown,
    );
    expect((await cli(['export', 'failures', '--connection', connection, '--from', '2020-01-01', '--to', '2020-01-02'])).code).toBe(
      EXIT.unknown,
    );
    expect((await cli(['export', 'retry', '--connection', connection, '--from', '2020-01-01', '--to', '2020-01-02'])).code).toBe(
      EXIT.unknown,
    );
  });

  it('refuses to start a worker on a namespace without the search attributes, until `setup temporal` adds them', async () => {
    const namespace = uniqueName('ns');
    await env.client.connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    const nsEnv = { TEMPORAL_NAMESPACE: namespace, BIRD_KEY: sim.accessKey };
    const refused = await eventually('the namespace to exist', async () => {
      // The worker, as `callvault worker` runs, expected to refuse and exit by itself.
      const r = await cli(['worker'], nsEnv);
      return r.out.includes('not found') ? undefined : r;
    });
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain(`Temporal namespace '${namespace}' lacks CallvaultConnection (Keyword)`);
    expect(refused.out).toContain('Run `callvault setup temporal`');
    expect((await cli(['setup', 'temporal', '--check'], nsEnv)).code).toBe(1);
    const setup = await cli(['setup', 'temporal'], nsEnv);
    expect(setup.code, setup.out).toBe(0);
    expect(setup.stdout).toContain('added       CallvaultFailedCount (Int)');
    const again = await cli(['setup', 'temporal'], nsEnv);
    expect(again.stdout).toContain('registered  CallvaultConnection (Keyword)');
    expect(again.stdout).not.toContain('added');
    const worker = await env.spawnWorker(nsEnv);
    expect(worker.running).toBe(true);
  });
});
