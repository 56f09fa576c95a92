import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureMessage } from '../../src/client/exports';
import { linkIdentity, shortHash } from '../../src/providers/dixa/links';
import { DixaSimulator, type DixaFileRef, type DixaFileSpec, type DixaMessageSpec } from '../../src/simulators/dixa';
import { manifestsPrefix } from '../../src/storage/keys';
import { readManifests } from '../../src/storage/manifests';
import { verifyObjects } from '../../src/verify/verify';
import type { ExportResult } from '../../src/contracts/exportResult';
import { decodedHistory, eventually, exportEnv, uniqueName, type ExportEnv, type WorkerProcess } from '../support/harness';
import { MiB } from '../../src/contracts/units';

const window = { from: '2026-05-04T00:00:00Z', to: '2026-05-06T00:00:00Z' };
const t0 = Date.parse(window.from);
const HOUR = 3_600_000;

/** Hostile attachment names: path escapes, control characters (U+0000 too), 1,000 characters. */
const HOSTILE = {
  dotdot: '../../etc/passwd',
  deep: '../../../../../../tmp/x/../../root/.ssh/authorized_keys',
  control: 'evil\u0007\u001b[31m\r\n\tname\u007f.pdf',
  long: `${'n'.repeat(996)}.pdf`,
  windows: 'C:\\Windows\\..\\..\\system32\\drivers\\etc\\hosts.txt',
  bidi: 'invoice\u202Efdp.exe',
  nul: 'nul\u0000byte.pdf',
};

const file = (
  id: string,
  visibility: DixaFileSpec['visibility'],
  link: DixaFileSpec['link'],
  name: string,
  size: number,
  contentType = 'application/octet-stream',
): DixaFileSpec => ({
  id,
  size,
  visibility,
  link,
  name,
  contentType,
});
const audio = (id: string, link: DixaFileSpec['link'], size: number): DixaFileSpec =>
  file(id, 'private', link, `${id}.mp3`, size, 'audio/mpeg');

/** The sourceId callvault gives a Dixa file (see src/providers/dixa/items.ts). */
function sourceIdOf(sim: DixaSimulator, ref: DixaFileRef): string {
  if (ref.kind !== 'attachment') return `${ref.message.id}:${ref.kind}`;
  return `${ref.message.id}:attachment:${shortHash(linkIdentity(sim.linkOf(ref.file), sim.filesBaseUrl))}`;
}

/**
 * Dixa end to end on the real stack (Temporal dev server, SeaweedFS, Postgres, worker processes of
 * the compiled code): one mixed export, a crafted-link and hostile-name audit, a rerun, and a
 * refused token that must stop the export within a minute.
 */
describe('Dixa export on the real stack', () => {
  const connection = uniqueName('dixa');
  const badConnection = uniqueName('dixa-badtoken');
  const BAD_TOKEN = 'dixa-token-that-was-revoked';
  const messages: DixaMessageSpec[] = [
    // Recordings and voicemails, absolute and relative; one recording big enough for a multipart upload (5 MiB parts).
    {
      id: 'd-call-1',
      csid: 900_001,
      createdAt: t0 + 1 * HOUR,
      recording: audio('rec-abs', 'absolute', 250_000),
      voicemail: audio('vm-rel', 'relative', 90_000),
    },
    { id: 'd-call-2', csid: 900_001, createdAt: t0 + 2 * HOUR, recording: audio('rec-rel', 'relative', 12 * MiB + 7) },
    { id: 'd-call-3', csid: 900_002, createdAt: t0 + 26 * HOUR, voicemail: audio('vm-abs', 'absolute', 70_001) },
    // Public and private attachments in both link forms.
    {
      id: 'd-files',
      csid: 900_003,
      createdAt: t0 + 3 * HOUR,
      attachments: [
        file('pub-abs', 'public', 'absolute', 'brochure.pdf', 33_333, 'application/pdf'),
        file('pub-rel', 'public', 'relative', 'photo.png', 5_000, 'image/png'),
        file('priv-abs', 'private', 'absolute', 'notes.txt', 777, 'text/plain'),
        file('priv-rel', 'private', 'relative', 'contract (signed).pdf', 6 * MiB + 1, 'application/pdf'),
      ],
    },
    // Hostile names, public and private.
    {
      id: 'd-hostile',
      csid: 900_004,
      createdAt: t0 + 30 * HOUR,
      attachments: [
        file('h-dotdot', 'private', 'relative', HOSTILE.dotdot, 1_000),
        file('h-deep', 'public', 'absolute', HOSTILE.deep, 1_001),
        file('h-control', 'public', 'relative', HOSTILE.control, 1_002, 'application/pdf'),
        file('h-long', 'private', 'absolute', HOSTILE.long, 1_003, 'application/pdf'),
        file('h-windows', 'private', 'relative', HOSTILE.windows, 1_004, 'text/plain'),
        file('h-bidi', 'public', 'absolute', HOSTILE.bidi, 1_005),
        file('h-nul', 'private', 'relative', HOSTILE.nul, 1_006, 'application/pdf'),
      ],
    },
    // Crafted links: the same path on the storage origin (another port), another host name for the
    // files server, another scheme, and user info carrying the token. All must be refused unsent.
    {
      id: 'd-crafted',
      csid: 900_005,
      createdAt: t0 + 31 * HOUR,
      attachments: [
        file('x-other-port', 'private', 'other-port', 'a.pdf', 2_000),
        file('x-other-host', 'private', 'other-host', 'b.pdf', 2_000),
        file('x-other-scheme', 'private', 'other-scheme', 'c.pdf', 2_000),
        file('x-userinfo', 'private', 'userinfo', 'd.pdf', 2_000),
      ],
    },
  ];
  const crafted = new Set(['x-other-port', 'x-other-host', 'x-other-scheme', 'x-userinfo']);
  let sim: DixaSimulator;
  let env: ExportEnv;
  let worker: WorkerProcess;
  let first: ExportResult;
  let workflowId: string;
  let refs: DixaFileRef[];
  let good: DixaFileRef[];

  beforeAll(async () => {
    sim = new DixaSimulator({
      seed: connection,
      messages,
      // Plus 40 generated messages: recordings, voicemails and attachments, absolute and relative links.
      generate: { count: 40, ...window, size: { min: 100, max: 80_000 } },
    });
    await sim.start();
    refs = [...sim.allFiles()];
    good = refs.filter((r) => !crafted.has(r.file.id));
    const common = {
      provider: 'dixa',
      allowPrivateNetwork: true,
      exportsBaseUrl: sim.exportsBaseUrl,
      apiBaseUrl: sim.apiBaseUrl,
      filesBaseUrl: sim.filesBaseUrl,
      storageHosts: [sim.storageHost],
    };
    env = await exportEnv({
      connections: {
        // The simulator is not rate limited: raise the published pace (10 exports calls a minute) so the test runs fast.
        [connection]: {
          ...common,
          apiToken: { env: 'DIXA_TOKEN' },
          batchSize: 4,
          rateLimit: { listPerSecond: 20, transferPerSecond: 200 },
        },
        // Published limits on purpose: a refused token must stop the export within a minute even so.
        [badConnection]: { ...common, apiToken: { env: 'DIXA_BAD_TOKEN' } },
      },
      secrets: { DIXA_TOKEN: sim.apiToken, DIXA_BAD_TOKEN: BAD_TOKEN },
      storage: { partSizeMiB: 5 },
    });
    worker = await env.spawnWorker();
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

  it("stores every file once, with the simulator's size and SHA-256 and a provenance row each", async () => {
    const kinds = (k: string) => good.filter((r) => r.kind === k);
    // The mix this export had to handle.
    expect(kinds('recording').length).toBeGreaterThanOrEqual(10);
    expect(kinds('voicemail').length).toBeGreaterThanOrEqual(10);
    for (const form of ['absolute', 'relative'] as const) {
      for (const kind of ['recording', 'voicemail'] as const) expect(kinds(kind).some((r) => r.file.link === form)).toBe(true);
      for (const visibility of ['public', 'private'] as const)
        expect(kinds('attachment').some((r) => r.file.link === form && r.file.visibility === visibility)).toBe(true);
    }

    const rows = await env.files(connection);
    const stored = rows.filter((r) => r.status === 'stored');
    expect(stored).toHaveLength(good.length);
    expect(new Set(stored.map((r) => r.object_key)).size).toBe(good.length);
    for (const ref of good) {
      const row = stored.find((r) => r.source_id === sourceIdOf(sim, ref));
      expect(row, `${ref.kind} ${ref.file.id}`).toBeDefined();
      expect(Number(row!.size_bytes)).toBe(ref.file.size);
      expect(row!.sha256).toBe(await sim.sha256(ref.file.id));
      expect(row!.workflow_id).toBe(workflowId);
      expect(row!.source_url).not.toMatch(/Signature|Expires|\?/);
    }
    expect(first).toMatchObject({ listed: refs.length, transferred: good.length, failed: crafted.size, skipped: 0 });
    const report = await verifyObjects(env.provenance, env.store, { keyPrefix: env.config.storage.prefix, connection });
    expect(report.problems).toEqual([]);
    expect(report.checked).toBe(good.length);
  });

  it('refuses crafted links to another host, port or scheme with a refused_link row, and nothing reaches them', async () => {
    const failed = (await env.files(connection)).filter((r) => r.status === 'failed');
    expect(failed.map((r) => r.source_id).sort()).toEqual(
      refs
        .filter((r) => crafted.has(r.file.id))
        .map((r) => sourceIdOf(sim, r))
        .sort(),
    );
    for (const row of failed) {
      expect(row.failure_code).toBe('refused_link');
      expect(row.failure_reason).toMatch(/refused link/);
      expect(row.failure_reason).not.toContain(sim.apiToken);
    }
    // Neither the storage origin (other port), nor the files server under another name, nor anything else saw them.
    for (const id of crafted)
      expect(sim.requests.filter((r) => r.id === id || r.path.includes(`/${id}/`) || r.path.endsWith(`/${id}`))).toEqual([]);
  });

  it('sends Authorization to the files host only (for private files), never to the storage origin', () => {
    const basic = `Basic ${Buffer.from(`bearer:${sim.apiToken}`).toString('base64')}`;
    const storage = sim.requests.filter((r) => r.server === 'dixa-storage');
    expect(storage.length).toBeGreaterThanOrEqual(good.length);
    for (const r of storage) {
      expect(r.headers.authorization).toBeUndefined();
      expect(JSON.stringify(r.headers)).not.toContain(sim.apiToken);
    }
    const files = sim.requests.filter((r) => r.server === 'dixa-files');
    expect(files.length).toBeGreaterThanOrEqual(good.length);
    for (const r of files) expect(r.headers.authorization).toBe(r.path.startsWith('/private/') ? basic : undefined);
    // The exports API has its own credential (Bearer), and nothing else sees one.
    for (const r of sim.requests.filter((q) => q.server === 'dixa-exports')) expect(r.headers.authorization).toMatch(/^Bearer /);
    const withCredential = sim.requests.filter((r) => r.headers.authorization !== undefined);
    expect(withCredential.every((r) => r.server === 'dixa-exports' || (r.server === 'dixa-files' && r.path.startsWith('/private/')))).toBe(
      true,
    );
  });

  it("keeps hostile names inside the connection's key prefix, while provenance and the manifest keep them as given", async () => {
    const prefix = `exports/dixa/${connection}/`;
    const rows = await env.provenance.pool.query<{ source_id: string; object_key: string; original_name: string | null }>(
      `SELECT source_id, object_key, original_name FROM callvault.files WHERE connection = $1 AND status = 'stored'`,
      [connection],
    );
    const safe = (key: string) => {
      expect(key.startsWith(prefix), key).toBe(true);
      expect(key.split('/').some((s) => s === '..' || s === '.' || s === '')).toBe(false);
      // eslint-disable-next-line no-control-regex
      expect(key).not.toMatch(/[\x00-\x1f\x7f\\\u202e]/);
      expect(Buffer.byteLength(key)).toBeLessThan(1024);
    };
    for (const row of rows.rows) safe(row.object_key);
    // What S3 holds (objects and manifests), not only what provenance says.
    const keys: string[] = [];
    for await (const key of env.store.listKeys('')) keys.push(key);
    const manifestFolder = manifestsPrefix({ prefix: 'exports', provider: 'dixa', connection });
    expect(keys.filter((k) => !k.startsWith(manifestFolder))).toHaveLength(good.length);
    for (const key of keys) safe(key);
    const manifests = await readManifests(env.store, manifestFolder);
    expect(manifests.unreadable).toEqual([]);

    const hostile = good.filter((r) => r.message.id === 'd-hostile');
    expect(hostile.map((r) => r.file.name).sort()).toEqual(Object.values(HOSTILE).sort());
    for (const ref of hostile) {
      const row = rows.rows.find((r) => r.source_id === sourceIdOf(sim, ref))!;
      // Postgres text cannot hold U+0000: provenance shows it as U+FFFD, the manifest keeps the name exactly.
      expect(row.original_name).toBe(ref.file.name.replace(/\u0000/g, '\uFFFD'));
      const entry = manifests.entries.get(row.object_key)!;
      expect(entry.source.originalName).toBe(ref.file.name);
      expect(entry.object.key).toBe(row.object_key);
    }
  });

  it('kept the token out of provenance, history (decoded) and logs, even where a crafted link carried it', async () => {
    const basic = Buffer.from(`bearer:${sim.apiToken}`).toString('base64');
    const rows = JSON.stringify(await env.files(connection));
    const history = await decodedHistory(env.client, workflowId);
    // The payloads were decoded: the listing's items are in there (the crafted links among them).
    expect(history).toContain('d-crafted:attachment:');
    for (const text of [rows, history, worker.log()]) {
      expect(text).not.toContain(sim.apiToken);
      expect(text).not.toContain(basic);
      expect(text).not.toContain('Signature=');
    }
  });

  it('transfers nothing on a rerun, and still refuses the crafted links without calling them', async () => {
    const before = sim.requests.length;
    const storageBefore = sim.requests.filter((r) => r.server === 'dixa-storage').length;
    const again = await env.start({ connection, ...window, trigger: { kind: 'operator', by: 'test' } });
    const second = (await again.handle.result()) as ExportResult;
    expect(second).toMatchObject({ transferred: 0, bytes: 0, skipped: good.length, failed: crafted.size });
    expect(sim.requests.filter((r) => r.server === 'dixa-storage').length).toBe(storageBefore);
    expect(sim.requests.slice(before).every((r) => r.server === 'dixa-exports')).toBe(true);
  });

  it('stops within a minute on a refused token, naming the connection and what to fix, without retrying', async () => {
    const before = sim.requests.length;
    const started = Date.now();
    const run = await env.start({ connection: badConnection, ...window, trigger: { kind: 'operator', by: 'test' } });
    const err = await run.handle.result().then(
      () => new Error('the export succeeded with a revoked token'),
      (e: unknown) => e,
    );
    const elapsed = Date.now() - started;
    console.log(`[dixa bad token] export failed after ${(elapsed / 1000).toFixed(1)} s: ${failureMessage(err)}`);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(elapsed).toBeLessThan(60_000);
    const message = failureMessage(err);
    expect(message).toContain(`'${badConnection}'`);
    expect(message).toContain(`connections.${badConnection}.apiToken`);
    expect(message).toMatch(/HTTP 401/);
    expect(message).not.toContain(BAD_TOKEN);
    expect((err as WorkflowFailedError).cause).toMatchObject({ type: 'CredentialsRejected' });
    // One request, refused, and no retries.
    const sent = sim.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ server: 'dixa-exports', status: 401 });
    const row = await env.provenance.pool.query<{ status: string; error: string }>(
      'SELECT status, error FROM callvault.exports WHERE workflow_id = $1',
      [run.workflowId],
    );
    expect(row.rows[0]).toMatchObject({ status: 'failed' });
    expect(row.rows[0]!.error).toContain('apiToken');
    expect(await env.files(badConnection)).toEqual([]);
  });
});

/**
 * The durability promise for Dixa: kill -9 the worker in the middle of a large recording (served
 * through the files host's redirect to storage, with Range); another worker finishes it intact.
 */
describe('a worker killed in the middle of a large Dixa recording', () => {
  const connection = uniqueName('dixa-crash');
  const SIZE = 288 * MiB;
  const PART_MIB = 16;
  const big = audio('big-call', 'relative', SIZE);
  const messages: DixaMessageSpec[] = [
    {
      id: 'c-1',
      csid: 1,
      createdAt: Date.parse('2026-05-10T09:00:00Z'),
      attachments: [file('small-1', 'public', 'absolute', 'a.txt', 10_000, 'text/plain')],
    },
    { id: 'c-2', csid: 1, createdAt: Date.parse('2026-05-10T10:00:00Z'), recording: big },
    { id: 'c-3', csid: 2, createdAt: Date.parse('2026-05-10T11:00:00Z'), voicemail: audio('small-vm', 'absolute', 20_000) },
  ];
  let sim: DixaSimulator;
  let env: ExportEnv;

  beforeAll(async () => {
    sim = new DixaSimulator({ seed: connection, messages });
    await sim.start();
    env = await exportEnv({
      connections: {
        [connection]: {
          provider: 'dixa',
          allowPrivateNetwork: true,
          exportsBaseUrl: sim.exportsBaseUrl,
          apiBaseUrl: sim.apiBaseUrl,
          filesBaseUrl: sim.filesBaseUrl,
          storageHosts: [sim.storageHost],
          apiToken: { env: 'DIXA_TOKEN' },
          batchSize: 1,
          rateLimit: { listPerSecond: 20, transferPerSecond: 200 },
        },
      },
      secrets: { DIXA_TOKEN: sim.apiToken },
      storage: { partSizeMiB: PART_MIB },
      worker: { transferConcurrency: 2 },
    });
  });

  afterAll(async () => {
    await env?.close();
    await sim?.stop();
  });

  it('completes intact, fetching less than two parts twice', async () => {
    // Workflows in one process, listing and transfers in another (the one killed), as at scale.
    await env.spawnWorker({ CALLVAULT_WORKER_ROLE: 'workflows' });
    const victim = await env.spawnWorker({ CALLVAULT_WORKER_ROLE: 'transfers' });
    const started = Date.now();
    const run = await env.start({
      connection,
      from: '2026-05-10T00:00:00Z',
      to: '2026-05-11T00:00:00Z',
      options: { heartbeatTimeoutSeconds: 5 },
    });
    await eventually('the big recording to be 40% through', () => sim.fileBytesSent(big.id) > 0.4 * SIZE, 120_000, 50);
    const victimPeak = victim.peakRssBytes();
    await victim.kill9();
    const sentAtKill = sim.fileBytesSent(big.id);
    const successor = await env.spawnWorker({ CALLVAULT_WORKER_ROLE: 'transfers' });
    const sampler = setInterval(() => successor.peakRssBytes(), 100);
    const result = (await run.handle.result()) as ExportResult;
    clearInterval(sampler);
    const refetched = sim.fileBytesSent(big.id) - SIZE;
    const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
    console.log(
      `[dixa crash] killed at ${mib(sentAtKill)} of ${mib(SIZE)}; fetched twice ${mib(refetched)} (limit ${2 * PART_MIB} MiB); ` +
        `transfer worker peak RSS ${mib(victimPeak)} (killed), ${mib(successor.peakRssBytes())} (finished it; limit 200 MiB); export took ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );

    expect(result).toMatchObject({ transferred: 3, failed: 0 });
    const rows = await env.files(connection);
    const row = rows.find((r) => r.source_id === 'c-2:recording')!;
    expect(Number(row.size_bytes)).toBe(SIZE);
    expect(row.sha256).toBe(await sim.sha256(big.id));
    expect(refetched).toBeGreaterThanOrEqual(0);
    expect(refetched).toBeLessThan(2 * PART_MIB * MiB);
    // The successor asked for the rest with Range, from where the stored parts end, and storage never saw a credential.
    const ranged = sim.requests.filter((r) => r.server === 'dixa-storage' && r.id === big.id && r.headers.range);
    expect(ranged.length).toBeGreaterThan(0);
    expect(sim.requests.filter((r) => r.server === 'dixa-storage').every((r) => r.headers.authorization === undefined)).toBe(true);
    expect((await verifyObjects(env.provenance, env.store, { keyPrefix: env.config.storage.prefix, connection })).problems).toEqual([]);
    // DESIGN.md's bar for transfer workers: flat memory, under 200 MB, whatever the file size.
    expect(victimPeak).toBeLessThan(200 * MiB);
    expect(successor.peakRssBytes()).toBeLessThan(200 * MiB);
  });
});
