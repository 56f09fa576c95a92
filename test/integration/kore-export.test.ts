import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureMessage } from '../../src/client/exports';
import { KoreSimulator, type KoreFileKind, type KoreSessionSpec } from '../../src/simulators/kore';
import { SimServer, sendJson, type LoggedRequest } from '../../src/simulators/server';
import { manifestsPrefix } from '../../src/storage/keys';
import { readManifests } from '../../src/storage/manifests';
import { verifyObjects } from '../../src/verify/verify';
import type { ExportResult } from '../../src/contracts/exportResult';
import { decodedHistory, eventually, exportEnv, uniqueName, type ExportEnv, type FileRow, type WorkerProcess } from '../support/harness';
import { MiB } from '../../src/contracts/units';

/** The mixed export's window, and a later one for the session that is not ready at listing time. */
const windowA = { from: '2026-06-01T00:00:00Z', to: '2026-06-04T00:00:00Z' };
const windowB = { from: '2026-06-10T00:00:00Z', to: '2026-06-11T00:00:00Z' };

function session(
  sessionId: string,
  startTime: string,
  recordings: KoreSessionSpec['recordings'],
  extra: Partial<KoreSessionSpec> = {},
): KoreSessionSpec {
  const end = new Date(Date.parse(startTime) + 300_000).toISOString();
  return {
    sessionId,
    userId: `u-${sessionId}`,
    channel: 'korevg',
    startTime,
    endTime: end,
    recordings,
    voicemails: [],
    status: 'success',
    ...extra,
  };
}

interface Expected {
  sessionId: string;
  kind: KoreFileKind;
  index: number;
}
const sourceId = (e: Expected) => `${e.sessionId}-${e.kind}-${e.index}`;

/**
 * Kore.ai end to end on the real stack: v2 and v1 connections to one bot (several recordings per
 * session, voicemail under both key spellings), a crafted media link, a session whose media is
 * still being processed at listing time, and refused credentials that must stop the export.
 */
describe('Kore export on the real stack', () => {
  const v2 = uniqueName('kore-v2');
  const v1 = uniqueName('kore-v1');
  const badSecret = uniqueName('kore-badsecret');
  const noScope = uniqueName('kore-noscope');
  const WRONG_SECRET = 'not-the-apps-client-secret';
  const sessions: KoreSessionSpec[] = [
    // Several recordings per session, one of them large enough for a multipart upload (5 MiB parts).
    session('k1-three', '2026-06-01T09:00:00Z', [
      { size: 150_000, format: 'wav' },
      { size: 7 * MiB + 3, format: 'mp3' },
      { size: 40_001, format: 'wav' },
    ]),
    session(
      'k2-vm',
      '2026-06-01T15:30:00Z',
      [
        { size: 64_000, format: 'wav' },
        { size: 64_001, format: 'wav' },
      ],
      { voicemails: [{ size: 33_000, format: 'mp3' }] },
    ),
    session('k3-two-vm', '2026-06-02T08:00:00Z', [{ size: 10_000, format: 'mp3' }], {
      voicemails: [
        { size: 20_000, format: 'mp3' },
        { size: 20_001, format: 'wav' },
      ],
    }),
    // A chat session: no recordings asked for.
    session('k4-chat', '2026-06-02T10:00:00Z', [], { channel: 'rtm' }),
    // Its v2 fileUrl points at a server outside mediaHosts (set up below).
    session('k5-crafted', '2026-06-02T12:00:00Z', [{ size: 5_000, format: 'wav' }]),
    // Kore gave up on this one.
    session('k6-failed', '2026-06-03T07:00:00Z', [{ size: 5_000, format: 'wav' }], { status: 'failed' }),
    // Window B: media still being processed when listed, three recordings and a voicemail once ready.
    session(
      'k7-not-ready',
      '2026-06-10T11:00:00Z',
      [
        { size: 30_000, format: 'wav' },
        { size: 6 * MiB + 5, format: 'wav' },
        { size: 30_002, format: 'mp3' },
      ],
      { status: 'media_in_progress', readyAfterPolls: 2, voicemails: [{ size: 12_345, format: 'mp3' }] },
    ),
  ];
  const all = (ids: string[], kinds: KoreFileKind[] = ['recording', 'voicemail']): Expected[] =>
    sessions
      .filter((s) => ids.includes(s.sessionId))
      .flatMap((s) =>
        kinds.flatMap((kind) =>
          (kind === 'recording' ? s.recordings : s.voicemails).map((_, index) => ({ sessionId: s.sessionId, kind, index })),
        ),
      );
  const storedV2 = all(['k1-three', 'k2-vm', 'k3-two-vm']);
  const storedV1 = all(['k1-three', 'k2-vm', 'k3-two-vm', 'k5-crafted']);

  let sim: KoreSimulator;
  let scopeSim: KoreSimulator;
  let decoy: SimServer;
  const decoyLog: LoggedRequest[] = [];
  let env: ExportEnv;
  let worker: WorkerProcess;
  let resultV2: ExportResult;
  let resultV1: ExportResult;
  let v2Span: { from: number; to: number };

  const checkStored = async (connection: string, expected: Expected[], workflowId: string): Promise<FileRow[]> => {
    const stored = (await env.files(connection)).filter((r) => r.status === 'stored');
    expect(stored.map((r) => r.source_id).sort()).toEqual(expected.map(sourceId).sort());
    for (const e of expected) {
      const row = stored.find((r) => r.source_id === sourceId(e))!;
      expect(Number(row.size_bytes), sourceId(e)).toBe(sim.file(e.sessionId, e.kind, e.index).size);
      expect(row.sha256, sourceId(e)).toBe(await sim.sha256(e.sessionId, e.index, e.kind));
      expect(row.workflow_id).toBe(workflowId);
      expect(row.object_key).toMatch(
        new RegExp(`^exports/kore/${connection}/2026/06/\\d\\d/${e.sessionId}/${sourceId(e)}[^/]*\\.(wav|mp3)$`),
      );
      expect(row.source_url).not.toMatch(/sig=|exp=|\?/);
    }
    const report = await verifyObjects(env.provenance, env.store, { keyPrefix: env.config.storage.prefix, connection });
    expect(report.problems).toEqual([]);
    expect(report.checked).toBe(expected.length);
    return stored;
  };

  beforeAll(async () => {
    sim = new KoreSimulator({ seed: v2, sessions });
    scopeSim = new KoreSimulator({ seed: noScope, sessions: sessions.slice(0, 2), scopeMissing: true });
    decoy = new SimServer('decoy', (_req, res, _url, log) => sendJson(res, log, 200, { stolen: true }), decoyLog);
    await Promise.all([sim.start(), scopeSim.start(), decoy.start()]);
    // Every v2 answer about k5 carries a fileUrl on the decoy (another port), with a plausible signature.
    sim.faults.add({
      target: 'v2',
      id: 'k5-crafted',
      fault: { kind: 'foreign-redirect', location: `${decoy.origin}/media/k5.wav?exp=9999999999&sig=abc` },
      times: Infinity,
    });

    const base = { provider: 'kore', allowPrivateNetwork: true, baseUrl: sim.baseUrl, botId: sim.botId, mediaHosts: [sim.mediaHost] };
    // The simulator has no rate limit: a short pace (instead of the safe 2 s) and raised queue limits keep the test fast.
    const fast = {
      minRequestIntervalMs: 25,
      notReadyRetrySeconds: 2,
      batchSize: 3,
      rateLimit: { listPerSecond: 20, transferPerSecond: 200 },
    };
    env = await exportEnv({
      connections: {
        [v2]: { ...base, ...fast, recordingsApi: 'v2', clientId: { env: 'KORE_ID' }, clientSecret: { env: 'KORE_SECRET' } },
        [v1]: { ...base, ...fast, recordingsApi: 'v1', clientId: { env: 'KORE_ID' }, clientSecret: { env: 'KORE_SECRET' } },
        // Published limits and pace on purpose: refused credentials must stop the export within a minute even so.
        [badSecret]: { ...base, clientId: { env: 'KORE_ID' }, clientSecret: { env: 'KORE_WRONG_SECRET' } },
        [noScope]: {
          provider: 'kore',
          allowPrivateNetwork: true,
          baseUrl: scopeSim.baseUrl,
          botId: scopeSim.botId,
          mediaHosts: [scopeSim.mediaHost],
          clientId: { env: 'KORE_SCOPE_ID' },
          clientSecret: { env: 'KORE_SCOPE_SECRET' },
        },
      },
      secrets: {
        KORE_ID: sim.clientId,
        KORE_SECRET: sim.clientSecret,
        KORE_WRONG_SECRET: WRONG_SECRET,
        KORE_SCOPE_ID: scopeSim.clientId,
        KORE_SCOPE_SECRET: scopeSim.clientSecret,
      },
      storage: { partSizeMiB: 5 },
    });
    worker = await env.spawnWorker();

    // v2, with the voicemail key spelled with a space...
    sim.voicemailKey = 'voicemail recording';
    const startedV2 = Date.now();
    resultV2 = (await (
      await env.start({ connection: v2, ...windowA, options: { heartbeatTimeoutSeconds: 20 } })
    ).handle.result()) as ExportResult;
    v2Span = { from: startedV2, to: Date.now() };
    // ...then v1 (base64 in JSON) on the same bot, with the underscore spelling.
    sim.voicemailKey = 'voicemail_recording';
    resultV1 = (await (
      await env.start({ connection: v1, ...windowA, options: { heartbeatTimeoutSeconds: 20 } })
    ).handle.result()) as ExportResult;
  });

  afterAll(async () => {
    await env?.close();
    await Promise.all([sim?.stop(), scopeSim?.stop(), decoy?.stop()]);
  });

  it('v2: stores every recording of every session and the voicemail ("voicemail recording"), once, with size and SHA-256', async () => {
    const rows = await checkStored(v2, storedV2, `export:${v2}:2026-06-01T00:00:00.000Z:2026-06-04T00:00:00.000Z`);
    expect(rows.filter((r) => r.source_id.startsWith('k1-three-recording-'))).toHaveLength(3);
    expect(rows.filter((r) => r.source_id.includes('-voicemail-'))).toHaveLength(3);
    expect(resultV2).toMatchObject({ transferred: storedV2.length, failed: 2, skipped: 0 });
    // The name Kore gave travels to provenance and the manifest.
    const row = rows.find((r) => r.source_id === 'k1-three-recording-1')!;
    const manifests = await readManifests(
      env.store,
      manifestsPrefix({ prefix: env.config.storage.prefix, provider: 'kore', connection: v2 }),
    );
    expect(manifests.entries.get(row.object_key!)?.source).toMatchObject({
      id: 'k1-three-recording-1',
      conversationId: 'k1-three',
      originalName: 'k1-three_recording_1.mp3',
    });
  });

  it('v1: decodes base64-in-JSON recordings, and reads voicemail under "voicemail_recording"', async () => {
    await checkStored(v1, storedV1, `export:${v1}:2026-06-01T00:00:00.000Z:2026-06-04T00:00:00.000Z`);
    expect(resultV1).toMatchObject({ transferred: storedV1.length, failed: 0, skipped: 0 });
    // v1 fetched the audio from the API's JSON, not from the media origin.
    expect(
      sim.requests.some((r) => r.server === 'kore-api' && r.path.endsWith('/recordings') && !r.path.includes('/v2/') && r.status === 200),
    ).toBe(true);
  });

  it('records the crafted media link as refused_link without calling it, and the failed session with its reason', async () => {
    const failed = (await env.files(v2)).filter((r) => r.status === 'failed');
    expect(failed.map((r) => [r.source_id, r.failure_code])).toEqual([
      ['k5-crafted-recording-0', 'refused_link'],
      ['k6-failed-recording-0', 'provider_final_status'],
    ]);
    expect(failed[0]!.failure_reason).toMatch(/not in mediaHosts/);
    expect(failed[0]!.failure_reason).not.toMatch(/sig=|exp=/);
    expect(decoyLog).toEqual([]);
  });

  it('never sends the auth header (or any credential) to the media origin; every API call carries it', () => {
    const media = sim.requests.filter((r) => r.server === 'kore-media');
    expect(media.length).toBeGreaterThanOrEqual(storedV2.length + storedV1.filter((e) => e.kind === 'voicemail').length);
    for (const r of media) {
      expect(r.headers.auth).toBeUndefined();
      expect(r.headers.authorization).toBeUndefined();
    }
    const api = sim.requests.filter((r) => r.server === 'kore-api');
    expect(api.every((r) => typeof r.headers.auth === 'string' && r.headers.auth.split('.').length === 3)).toBe(true);
  });

  it("paces its Kore API calls at the connection's minRequestIntervalMs", () => {
    const times = sim.requests.filter((r) => r.server === 'kore-api' && r.at >= v2Span.from && r.at <= v2Span.to).map((r) => r.at);
    expect(times.length).toBeGreaterThan(10);
    // 25 ms configured. The pacer hands out slots 25 ms apart; these are arrival times at the
    // simulator, so one late arrival (a busy machine) can shorten a span by up to a slot. Unpaced,
    // five calls arrive within a few milliseconds.
    const spans = times.slice(5).map((t, i) => t - times[i]!);
    expect(Math.min(...spans)).toBeGreaterThanOrEqual(3 * 25);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual((times.length - 2) * 25);
  });

  it('kept the client secret, tokens and signed URLs out of provenance, history (decoded) and logs', async () => {
    const token = sim.requests.find((r) => r.server === 'kore-api')!.headers.auth!;
    const texts = [JSON.stringify(await env.files(v2)), JSON.stringify(await env.files(v1)), worker.log()];
    for (const conn of [v2, v1])
      texts.push(await decodedHistory(env.client, `export:${conn}:2026-06-01T00:00:00.000Z:2026-06-04T00:00:00.000Z`));
    expect(texts.at(-1)).toContain('k1-three-recording-0');
    for (const text of texts) {
      expect(text).not.toContain(sim.clientSecret);
      expect(text).not.toContain(token.split('.')[2]);
      expect(text).not.toContain('sig=');
    }
  });

  it('stores every recording of a session that was still media_in_progress at listing, in one export', async () => {
    const id = 'k7-not-ready';
    const recordingsCalls = () => sim.requests.filter((r) => r.path.endsWith('/v2/recordings') && r.query.sessionId === id);
    const run = await env.start({ connection: v2, ...windowB, options: { heartbeatTimeoutSeconds: 20 } });
    const result = (await run.handle.result()) as ExportResult;
    const expected = all([id]);
    expect(expected).toHaveLength(4);
    await checkStored2(expected, run.workflowId);
    // Listed as one stand-in per kind; the others came from the stand-in's download, in the same run.
    expect(result).toMatchObject({ listed: 4, transferred: 4, failed: 0, generation: 0 });
    // At listing and on the first download Kore said media_in_progress; the third look found 3 files.
    expect(recordingsCalls()[0]!.at).toBeLessThan(recordingsCalls()[1]!.at);
    expect(recordingsCalls().length).toBeGreaterThanOrEqual(3);
    // Each recording was fetched once: the siblings were not reported again.
    for (const index of [0, 1, 2])
      expect(sim.requests.filter((r) => r.server === 'kore-media' && r.id === `${id}/recording/${index}`)).toHaveLength(1);

    async function checkStored2(exp: Expected[], workflowId: string) {
      const stored = (await env.files(v2)).filter((r) => r.status === 'stored' && r.source_id.startsWith(id));
      expect(stored.map((r) => r.source_id).sort()).toEqual(exp.map(sourceId).sort());
      for (const e of exp) {
        const row = stored.find((r) => r.source_id === sourceId(e))!;
        expect(Number(row.size_bytes)).toBe(sim.file(e.sessionId, e.kind, e.index).size);
        expect(row.sha256).toBe(await sim.sha256(e.sessionId, e.index, e.kind));
        expect(row.workflow_id).toBe(workflowId);
        expect(row.object_key).toMatch(new RegExp(`^exports/kore/${v2}/2026/06/10/${id}/${sourceId(e)}`));
      }
    }
  });

  async function expectStopped(connection: string, target: KoreSimulator, hint: RegExp): Promise<void> {
    const before = target.requests.length;
    const started = Date.now();
    const run = await env.start({ connection, ...windowA });
    const err = await run.handle.result().then(
      () => new Error('the export succeeded with refused credentials'),
      (e: unknown) => e,
    );
    const elapsed = Date.now() - started;
    const message = failureMessage(err);
    console.log(`[kore ${connection.split('-').slice(0, 2).join('-')}] export failed after ${(elapsed / 1000).toFixed(1)} s: ${message}`);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(elapsed).toBeLessThan(60_000);
    expect(message).toContain(`'${connection}'`);
    expect(message).toMatch(hint);
    expect(message).not.toContain(WRONG_SECRET);
    expect((err as WorkflowFailedError).cause).toMatchObject({ type: 'CredentialsRejected' });
    // One getSessions call, refused, and no retries.
    const sent = target.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ server: 'kore-api', status: 401 });
    expect(sent[0]!.path).toMatch(/\/getSessions$/);
    const row = await env.provenance.pool.query<{ status: string }>('SELECT status FROM callvault.exports WHERE workflow_id = $1', [
      run.workflowId,
    ]);
    expect(row.rows[0]).toMatchObject({ status: 'failed' });
  }

  it('stops within a minute on a wrong client secret, saying which settings to check', async () => {
    await expectStopped(badSecret, sim, /clientId and clientSecret/);
  });

  it('stops within a minute on a missing scope, naming the scope to add', async () => {
    await expectStopped(noScope, scopeSim, /Scope is incorrect.*"SmartAssist Recordings" API scope; add that scope to the app/);
  });
});

/**
 * The durability promise for Kore v1, where the audio is base64 inside a JSON body and the API
 * has no Range: kill -9 the worker in the middle of a large recording; the next attempt reads the
 * body from the start, drops what the stored parts hold, and finishes the object intact.
 */
describe('a worker killed in the middle of a large Kore v1 recording', () => {
  const connection = uniqueName('kore-crash');
  const SIZE = 256 * MiB;
  const PART_MIB = 16;
  const sessions: KoreSessionSpec[] = [
    session('c1-small', '2026-07-01T08:00:00Z', [{ size: 20_000, format: 'wav' }]),
    session('c2-big', '2026-07-01T09:00:00Z', [{ size: SIZE, format: 'wav' }]),
    session('c3-small', '2026-07-01T10:00:00Z', [
      { size: 3_000, format: 'mp3' },
      { size: 70_000, format: 'wav' },
    ]),
  ];
  let sim: KoreSimulator;
  let env: ExportEnv;

  beforeAll(async () => {
    sim = new KoreSimulator({ seed: connection, sessions });
    await sim.start();
    env = await exportEnv({
      connections: {
        [connection]: {
          provider: 'kore',
          allowPrivateNetwork: true,
          baseUrl: sim.baseUrl,
          botId: sim.botId,
          mediaHosts: [sim.mediaHost],
          clientId: { env: 'KORE_ID' },
          clientSecret: { env: 'KORE_SECRET' },
          recordingsApi: 'v1',
          includeVoicemail: false,
          minRequestIntervalMs: 0,
          batchSize: 1,
          rateLimit: { listPerSecond: 20, transferPerSecond: 200 },
        },
      },
      secrets: { KORE_ID: sim.clientId, KORE_SECRET: sim.clientSecret },
      storage: { partSizeMiB: PART_MIB },
      worker: { transferConcurrency: 2 },
    });
  });

  afterAll(async () => {
    await env?.close();
    await sim?.stop();
  });

  it("completes intact with the object's SHA-256 matching the source", async () => {
    const v1Calls = () =>
      sim.requests.filter(
        (r) => r.server === 'kore-api' && r.path.endsWith('/recordings') && !r.path.includes('/v2/') && r.query.sessionId === 'c2-big',
      );
    // The session's v1 body: the recording base64-encoded (4/3) in a data URI, in a little JSON.
    const bodySize = '{"recording":["data:audio/wav;base64,'.length + Math.ceil(SIZE / 3) * 4 + '"]}'.length;
    // Workflows in one process, listing and transfers in another (the one killed), as at scale.
    await env.spawnWorker({ CALLVAULT_WORKER_ROLE: 'workflows' });
    const victim = await env.spawnWorker({ CALLVAULT_WORKER_ROLE: 'transfers' });
    const started = Date.now();
    // A v1 retry reads the body again from byte 0 and drops what is stored; give that room before the heartbeat times out.
    const run = await env.start({
      connection,
      from: '2026-07-01T00:00:00Z',
      to: '2026-07-02T00:00:00Z',
      options: { heartbeatTimeoutSeconds: 10 },
    });
    // The first call is the listing (v1 can only count recordings by reading them); the second is the download.
    await eventually("the big recording's download to be 40% through", () => (v1Calls()[1]?.bytesSent ?? 0) > 0.4 * bodySize, 180_000, 50);
    const victimPeak = victim.peakRssBytes();
    await victim.kill9();
    const sentAtKill = v1Calls()[1]!.bytesSent;
    const successor = await env.spawnWorker({ CALLVAULT_WORKER_ROLE: 'transfers' });
    const sampler = setInterval(() => successor.peakRssBytes(), 100);
    const result = (await run.handle.result()) as ExportResult;
    clearInterval(sampler);
    const downloads = v1Calls().slice(1);
    const downloaded = downloads.reduce((n, r) => n + r.bytesSent, 0);
    const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
    console.log(
      `[kore v1 crash] killed at ${mib(sentAtKill)} of a ${mib(bodySize)} JSON body (${mib(SIZE)} recording); ${downloads.length} download requests; ` +
        `fetched twice ${mib(downloaded - bodySize)} of JSON (~${mib(((downloaded - bodySize) * 3) / 4)} of audio: v1 has no Range, the retry re-reads up to the stored parts); ` +
        `transfer worker peak RSS ${mib(victimPeak)} (killed), ${mib(successor.peakRssBytes())} (finished it; limit 200 MiB); export took ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );

    expect(result).toMatchObject({ transferred: 4, failed: 0 });
    const row = (await env.files(connection)).find((r) => r.source_id === 'c2-big-recording-0')!;
    expect(row.status).toBe('stored');
    expect(Number(row.size_bytes)).toBe(SIZE);
    expect(row.sha256).toBe(await sim.sha256('c2-big', 0));
    // The retry went on from the stored parts: it did not read the whole body twice more.
    expect(downloads.length).toBeGreaterThanOrEqual(2);
    expect(downloaded).toBeLessThan(2.2 * bodySize);
    expect((await verifyObjects(env.provenance, env.store, { keyPrefix: env.config.storage.prefix, connection })).problems).toEqual([]);
    // DESIGN.md's bar for transfer workers: flat memory, under 200 MB, whatever the file size, base64-in-JSON included.
    expect(victimPeak).toBeLessThan(200 * MiB);
    expect(successor.peakRssBytes()).toBeLessThan(200 * MiB);
  });
});
