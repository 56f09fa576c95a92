import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { koreConnectionSchema, type KoreConnectionConfig } from '../../src/providers/kore/connection';
import { CredentialsRejectedError, TransientError, UnavailableError } from '../../src/errors';
import { KoreProvider, type KoreProviderOptions } from '../../src/providers/kore/provider';
import type { DownloadOutcome, OpenedDownload } from '../../src/providers/types';
import type { Window } from '../../src/contracts/window';
import type { SourceItem } from '../../src/contracts/sourceItem';
import { KoreSimulator, type KoreSessionSpec } from '../../src/simulators/kore';

const DAY = 24 * 3600 * 1000;
const WINDOW: Window = { from: '2025-03-01T00:00:00.000Z', to: '2025-03-11T00:00:00.000Z' };
const at = (ms: number) => new Date(Date.parse(WINDOW.from) + ms).toISOString();

function voiceSession(
  sessionId: string,
  startTime: string,
  recordings: KoreSessionSpec['recordings'],
  extra: Partial<KoreSessionSpec> = {},
): KoreSessionSpec {
  return {
    sessionId,
    userId: 'u-1',
    channel: 'korevg',
    startTime,
    endTime: startTime,
    recordings,
    voicemails: [],
    status: 'success',
    ...extra,
  };
}

function connection(sim: KoreSimulator, overrides: Record<string, unknown> = {}): KoreConnectionConfig {
  const parsed = koreConnectionSchema.parse({
    provider: 'kore',
    allowPrivateNetwork: true,
    baseUrl: sim.baseUrl,
    botId: sim.botId,
    clientId: { env: 'KORE_CLIENT_ID' },
    clientSecret: { env: 'KORE_CLIENT_SECRET' },
    mediaHosts: [sim.mediaHost],
    ...overrides,
  });
  return { ...parsed, name: 'kore-test' };
}

function providerFor(
  sim: KoreSimulator,
  overrides: Record<string, unknown> = {},
  options: KoreProviderOptions = {},
  secret = sim.clientSecret,
): KoreProvider {
  return new KoreProvider(connection(sim, overrides), { clientId: sim.clientId, clientSecret: secret }, { apiIntervalMs: 0, ...options });
}

async function listAll(provider: KoreProvider, window = WINDOW): Promise<{ items: SourceItem[]; pages: number[] }> {
  const items: SourceItem[] = [];
  const pages: number[] = [];
  let cursor: string | null = null;
  do {
    const page = await provider.listPage(window, cursor);
    items.push(...page.items);
    pages.push(page.items.length);
    cursor = page.nextCursor;
  } while (cursor !== null && pages.length < 200);
  return { items, pages };
}

function ready(outcome: DownloadOutcome): OpenedDownload {
  if (outcome.kind !== 'ready') throw new Error(`expected ready, got not_ready (${outcome.reason})`);
  return outcome.download;
}

async function sha256Of(body: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of body) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function bytesOf(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function itemFor(items: SourceItem[], sourceId: string): SourceItem {
  const item = items.find((i) => i.sourceId === sourceId);
  if (!item) throw new Error(`no item ${sourceId}`);
  return item;
}

const apiAuthHeaders = (sim: KoreSimulator) => sim.requests.filter((r) => r.server === 'kore-api').map((r) => r.headers.auth);

describe('Kore provider: listing', () => {
  const generated = KoreSimulator.generate({
    seed: 'kore-list',
    count: 240,
    from: WINDOW.from,
    to: WINDOW.to,
    chatEvery: 4,
    recordingsPerSession: { min: 1, max: 3 },
    size: { min: 200, max: 3000 },
    voicemailEvery: 5,
  });
  const sessions = [
    ...generated,
    // Found by the queries' margins, but outside the window: not listed.
    voiceSession('edge-before', at(-30 * 60 * 1000), [{ size: 10, format: 'wav' }]),
    voiceSession('edge-after', WINDOW.to, [{ size: 10, format: 'wav' }]),
    // On the boundary between the first two ranges: listed once.
    voiceSession('edge-boundary', at(6 * DAY), [{ size: 10, format: 'wav' }]),
  ];
  const sim = new KoreSimulator({ seed: 'kore-list', sessions, voicemailKey: 'voicemail recording' });
  let provider: KoreProvider;

  beforeAll(async () => {
    await sim.start();
    provider = providerFor(sim);
  });
  afterAll(async () => {
    await provider.close();
    await sim.stop();
  });

  it('cuts a 10-day window into ranges under 7 days, pages each, and lists every file of every voice session once', async () => {
    const { items, pages } = await listAll(provider);

    const inWindow = (s: KoreSessionSpec) => s.startTime >= WINDOW.from && s.startTime < WINDOW.to;
    const expected = sessions
      .filter((s) => s.channel === 'korevg' && inWindow(s))
      .flatMap((s) => [
        ...s.recordings.map((_, i) => `${s.sessionId}-recording-${i}`),
        ...s.voicemails.map((_, i) => `${s.sessionId}-voicemail-${i}`),
      ]);
    const ids = items.map((i) => i.sourceId);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual([...expected].sort());
    expect(ids.filter((id) => id.startsWith('edge-boundary'))).toHaveLength(1);
    expect(expected.some((id) => id.includes('-voicemail-'))).toBe(true);
    expect(generated.some((s) => s.recordings.length === 3)).toBe(true);

    // Ranges under 7 days, several getSessions pages, limit 100, the whole window covered.
    const queries = sim.sessionQueries;
    expect(queries.every((q) => q.status === 200 && q.limit === 100)).toBe(true);
    expect(queries.every((q) => Date.parse(q.dateTo) - Date.parse(q.dateFrom) < 7 * DAY)).toBe(true);
    expect(new Set(queries.map((q) => q.dateFrom)).size).toBe(2);
    expect(queries.some((q) => q.skip >= 100)).toBe(true);
    expect(Math.min(...queries.map((q) => Date.parse(q.dateFrom)))).toBeLessThanOrEqual(Date.parse(WINDOW.from));
    expect(Math.max(...queries.map((q) => Date.parse(q.dateTo)))).toBeGreaterThanOrEqual(Date.parse(WINDOW.to));
    // Modest pages, many of them.
    expect(pages.length).toBeGreaterThan(4);
    expect(Math.max(...pages)).toBeLessThan(300);
  });

  it('ignores chat sessions without asking for their recordings', async () => {
    const chat = new Set(sessions.filter((s) => s.channel !== 'korevg').map((s) => s.sessionId));
    expect(chat.size).toBeGreaterThan(10);
    const { items } = await listAll(provider);
    expect(items.some((i) => chat.has(i.conversationId))).toBe(false);
    expect(sim.requests.some((r) => r.query.sessionId !== undefined && chat.has(r.query.sessionId))).toBe(false);
  });

  it('gives stable, credential-free items: same ids and fields on every run', async () => {
    const first = await listAll(provider);
    const other = providerFor(sim);
    const second = await listAll(other);
    await other.close();
    expect(second.items).toEqual(first.items);

    const session = generated.find((s) => s.channel === 'korevg' && s.recordings.length >= 2)!;
    const item = itemFor(first.items, `${session.sessionId}-recording-1`);
    expect(item).toEqual({
      sourceId: `${session.sessionId}-recording-1`,
      conversationId: session.sessionId,
      kind: 'recording',
      createdAt: session.startTime,
      extension: `.${session.recordings[1]!.format}`,
      originalName: `${session.sessionId}_recording_1.${session.recordings[1]!.format}`,
      locator: { sessionId: session.sessionId, index: '1', api: 'v2', kind: 'recording' },
    });
    const serialized = JSON.stringify(first.items);
    expect(serialized).not.toMatch(/http|sig=|exp=/);
    expect(serialized).not.toContain(sim.clientSecret);
  });
});

describe('Kore provider: v2 downloads, auth and statuses', () => {
  const sessions: KoreSessionSpec[] = [
    voiceSession('s-multi', at(1 * DAY), [
      { size: 70_000, format: 'wav' },
      { size: 123_457, format: 'mp3' },
    ]),
    voiceSession('s-vm', at(2 * DAY), [{ size: 1_000, format: 'wav' }], { voicemails: [{ size: 5_555, format: 'mp3' }] }),
    voiceSession('s-progress', at(3 * DAY), [{ size: 2_000, format: 'wav' }], { status: 'media_in_progress', readyAfterPolls: 2 }),
    voiceSession('s-call', at(3.5 * DAY), [{ size: 2_000, format: 'wav' }], { status: 'call_in_progress' }),
    voiceSession('s-failed', at(4 * DAY), [{ size: 2_000, format: 'wav' }], { status: 'failed' }),
    voiceSession('s-unavailable', at(5 * DAY), [{ size: 2_000, format: 'wav' }], { status: 'media_unavailable' }),
  ];
  const sim = new KoreSimulator({ seed: 'kore-v2', sessions, voicemailKey: 'voicemail_recording' });
  const providers: KoreProvider[] = [];
  const make = (overrides: Record<string, unknown> = {}, options: KoreProviderOptions = {}, secret = sim.clientSecret) => {
    const p = providerFor(sim, overrides, options, secret);
    providers.push(p);
    return p;
  };

  beforeAll(() => sim.start());
  afterEach(async () => {
    sim.faults.clear();
    sim.scopeMissing = false;
    sim.requests.length = 0;
    for (const p of providers.splice(0)) await p.close();
  });
  afterAll(() => sim.stop());

  it('downloads each recording of a session from a fresh signed URL, with its SHA-256, and resumes with Range', async () => {
    const provider = make();
    const { items } = await listAll(provider);
    sim.requests.length = 0;
    for (const index of [0, 1]) {
      const item = itemFor(items, `s-multi-recording-${index}`);
      const download = ready(await provider.openDownload(item, { offset: 0 }));
      expect(download.offset).toBe(0);
      expect(download.totalSize).toBe(sim.file('s-multi', 'recording', index).size);
      expect(download.contentType).toBe(index === 0 ? 'audio/wav' : 'audio/mpeg');
      expect(download.extension).toBe(item.extension);
      expect(download.sourceUrl).not.toContain('?');
      expect(await sha256Of(download.body)).toBe(await sim.sha256('s-multi', index));
    }
    const item = itemFor(items, 's-multi-recording-1');
    const whole = await bytesOf(ready(await provider.openDownload(item, { offset: 0 })).body);
    const resumed = ready(await provider.openDownload(item, { offset: 100_000 }));
    expect(resumed.offset).toBe(100_000);
    expect((await bytesOf(resumed.body)).equals(whole.subarray(100_000))).toBe(true);
    // A fresh recordings call (and signed URL) for every attempt.
    const media = sim.requests.filter((r) => r.server === 'kore-media');
    expect(media).toHaveLength(4);
    expect(sim.requests.filter((r) => r.path.endsWith('/v2/recordings'))).toHaveLength(media.length);
  });

  it('lists and downloads voicemail, whichever way the key is spelled', async () => {
    for (const key of ['voicemail_recording', 'voicemail recording'] as const) {
      sim.voicemailKey = key;
      const provider = make();
      const { items } = await listAll(provider);
      const item = itemFor(items, 's-vm-voicemail-0');
      expect(item).toMatchObject({
        kind: 'voicemail',
        conversationId: 's-vm',
        extension: '.mp3',
        locator: { kind: 'voicemail', index: '0' },
      });
      expect(items.filter((i) => i.kind === 'voicemail' && i.conversationId === 's-vm')).toHaveLength(1);
      expect(await sha256Of(ready(await provider.openDownload(item, { offset: 0 })).body)).toBe(await sim.sha256('s-vm', 0, 'voicemail'));
    }
  });

  it('never sends the auth header to the media origin, and sends it on every API call', async () => {
    const provider = make();
    const { items } = await listAll(provider);
    await sha256Of(ready(await provider.openDownload(itemFor(items, 's-multi-recording-0'), { offset: 0 })).body);
    const media = sim.requests.filter((r) => r.server === 'kore-media');
    expect(media.length).toBeGreaterThan(0);
    for (const r of media) {
      expect(r.headers.auth).toBeUndefined();
      expect(r.headers.authorization).toBeUndefined();
    }
    expect(apiAuthHeaders(sim).every((h) => typeof h === 'string' && h.split('.').length === 3)).toBe(true);
  });

  it('stands one index-0 item in for a session that is not ready, which waits and then downloads', async () => {
    sim.setStatus('s-progress', 'media_in_progress', 2);
    const provider = make();
    const { items } = await listAll(provider);
    const pending = items.filter((i) => i.conversationId === 's-progress');
    // Voicemail is not ready either, so it gets its own stand-in.
    expect(pending.map((i) => i.sourceId).sort()).toEqual(['s-progress-recording-0', 's-progress-voicemail-0']);
    const item = itemFor(items, 's-progress-recording-0');
    expect(item.extension).toBeUndefined();
    expect(item.originalName).toBeUndefined();

    const first = await provider.openDownload(item, { offset: 0 });
    expect(first).toEqual({ kind: 'not_ready', reason: "Kore reports status 'media_in_progress'", retryAfterSeconds: 60 });
    const second = ready(await provider.openDownload(item, { offset: 0 }));
    expect(second.extension).toBe('.wav');
    expect(await sha256Of(second.body)).toBe(await sim.sha256('s-progress', 0));

    const call = await provider.openDownload(itemFor(items, 's-call-recording-0'), { offset: 0 });
    expect(call).toMatchObject({ kind: 'not_ready', retryAfterSeconds: 300 });
  });

  it('turns failed and media_unavailable into a permanent UnavailableError', async () => {
    const provider = make();
    const { items } = await listAll(provider);
    for (const id of ['s-failed', 's-unavailable']) {
      // Listed (so the failure becomes a provenance row), but voicemail's final status means "none".
      expect(items.filter((i) => i.conversationId === id).map((i) => i.sourceId)).toEqual([`${id}-recording-0`]);
      const err = await provider.openDownload(itemFor(items, `${id}-recording-0`), { offset: 0 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnavailableError);
      expect((err as UnavailableError).reason).toBe('provider_final_status');
    }
  });

  it('refuses a fileUrl outside mediaHosts without fetching it', async () => {
    const provider = make();
    const { items } = await listAll(provider);
    sim.faults.add({
      target: 'v2',
      id: 's-multi',
      fault: { kind: 'foreign-redirect', location: 'http://attacker.example:8080/steal.wav?token=x' },
    });
    const err = await provider.openDownload(itemFor(items, 's-multi-recording-0'), { offset: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).reason).toBe('refused_link');
    expect((err as Error).message).not.toContain('token=x');
    expect(sim.requests.filter((r) => r.server === 'kore-media')).toHaveLength(0);
  });

  it('retries an expired signed URL with a fresh one', async () => {
    const provider = make();
    const { items } = await listAll(provider);
    const item = itemFor(items, 's-multi-recording-0');
    sim.faults.add({ target: 'v2', id: 's-multi', fault: { kind: 'expired' } });
    const err = await provider.openDownload(item, { offset: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(await sha256Of(ready(await provider.openDownload(item, { offset: 0 })).body)).toBe(await sim.sha256('s-multi', 0));
  });

  it('mints one JWT, reuses it, and mints a new one shortly before it expires', async () => {
    let now = Date.now();
    const provider = make({}, { now: () => now, tokenLifetimeSeconds: 3600, tokenRenewBeforeSeconds: 300 });
    await listAll(provider);
    const first = new Set(apiAuthHeaders(sim));
    expect(first.size).toBe(1);
    const [token] = [...first] as [string];
    const [head, payload] = token
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>) as [
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    expect(head).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toMatchObject({ appId: sim.clientId, sub: 'callvault' });
    expect(Number(payload.exp) - Number(payload.iat)).toBe(3600);

    now += 3299 * 1000; // still more than 5 minutes left
    await provider.listPage(WINDOW, null);
    expect(new Set(apiAuthHeaders(sim)).size).toBe(1);
    now += 2 * 1000; // inside the renewal margin
    await provider.listPage(WINDOW, null);
    expect(new Set(apiAuthHeaders(sim)).size).toBe(2);
  });

  it('reports a wrong client secret as rejected credentials, without echoing secrets', async () => {
    const provider = make({}, {}, 'not-the-secret');
    const err = await provider.listPage(WINDOW, null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsRejectedError);
    expect((err as Error).message).toMatch(/HTTP 401/);
    expect((err as Error).message).not.toContain('not-the-secret');
    const token = apiAuthHeaders(sim).at(-1)!;
    expect((err as Error).message).not.toContain(token);
  });

  it('names the missing "SmartAssist Recordings" scope', async () => {
    sim.scopeMissing = true;
    const err = await make()
      .listPage(WINDOW, null)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsRejectedError);
    expect((err as Error).message).toMatch(/Scope is incorrect.*"SmartAssist Recordings" API scope/);
  });

  it("treats Kore's rate-limit answer as transient, whatever its status code", async () => {
    const body = 'Rate limit for this API has been reached';
    sim.faults.add({ target: 'getSessions', fault: { kind: 'status', status: 429, retryAfterSeconds: 7, body } });
    const limited = await make()
      .listPage(WINDOW, null)
      .catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(TransientError);
    expect((limited as TransientError).retryAfterMs).toBe(7000);
    // The status code is unconfirmed: the body alone says it.
    const provider = make();
    const { items } = await listAll(provider);
    sim.faults.add({ target: 'v2', id: 's-multi', fault: { kind: 'status', status: 400, body } });
    const other = await provider.openDownload(itemFor(items, 's-multi-recording-0'), { offset: 0 }).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(TransientError);
    expect((other as TransientError).retryAfterMs).toBe(60_000);
  });

  it('paces its API calls', async () => {
    const provider = make({ includeVoicemail: false }, { apiIntervalMs: 40 });
    sim.requests.length = 0;
    await provider.listPage({ from: at(0), to: at(2.5 * DAY) }, null);
    const times = sim.requests.filter((r) => r.server === 'kore-api').map((r) => r.at);
    expect(times.length).toBeGreaterThanOrEqual(3);
    // Arrivals jitter on a loaded machine, but the n-th call cannot arrive before n slots after the
    // first were paced out, less one slot for the first call arriving late; unpaced, all arrive at once.
    for (let i = 2; i < times.length; i++) expect(times[i]! - times[0]!).toBeGreaterThanOrEqual((i - 1) * 40);
  });
});

describe('Kore provider: v1 (base64 in JSON)', () => {
  const MB = 1024 * 1024;
  const sessions: KoreSessionSpec[] = [
    voiceSession('v1-small', at(1 * DAY), [
      { size: 1, format: 'wav' },
      { size: 65_537, format: 'mp3' },
      { size: 200_002, format: 'wav' },
    ]),
    voiceSession('v1-big', at(2 * DAY), [
      { size: 3 * MB + 1, format: 'wav' },
      { size: 100 * MB, format: 'wav' },
    ]),
  ];
  const sim = new KoreSimulator({ seed: 'kore-v1', sessions, v1Encoding: { escapeSlashes: true, lineLength: 76, extraKeys: true } });
  let provider: KoreProvider;

  beforeAll(async () => {
    await sim.start();
    provider = providerFor(sim, { recordingsApi: 'v1', includeVoicemail: false });
  });
  afterEach(() => sim.faults.clear());
  afterAll(async () => {
    await provider.close();
    await sim.stop();
  });

  it("counts each session's recordings by streaming the body, and decodes each one (escapes, line breaks, other keys)", async () => {
    const { items } = await listAll(provider, { from: at(0), to: at(1.5 * DAY) });
    expect(items.map((i) => [i.sourceId, i.extension, i.locator.api])).toEqual([
      ['v1-small-recording-0', '.wav', 'v1'],
      ['v1-small-recording-1', '.mp3', 'v1'],
      ['v1-small-recording-2', '.wav', 'v1'],
    ]);
    for (const [index, item] of items.entries()) {
      const download = ready(await provider.openDownload(item, { offset: index === 2 ? 5000 : 0 }));
      // No Range on v1: the body starts at 0 and the engine skips what it has.
      expect(download).toMatchObject({
        offset: 0,
        contentLength: null,
        totalSize: null,
        contentType: index === 1 ? 'audio/mpeg' : 'audio/wav',
      });
      expect(await sha256Of(download.body)).toBe(await sim.sha256('v1-small', index));
    }
  });

  it('decodes a 100 MB recording behind another one with flat memory', async () => {
    const item: SourceItem = {
      sourceId: 'v1-big-recording-1',
      conversationId: 'v1-big',
      kind: 'recording',
      createdAt: at(2 * DAY),
      locator: { sessionId: 'v1-big', index: '1', api: 'v1', kind: 'recording' },
    };
    const expected = await sim.sha256('v1-big', 1);
    // Memory the process still holds after a full GC: what the decoder retains, not garbage that
    // the collector has yet to reach (the simulator in this same process makes plenty).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const retained = () => {
      gc();
      const m = process.memoryUsage();
      return { heap: m.heapUsed, buffers: m.arrayBuffers };
    };
    const before = retained();
    let peakHeap = 0;
    let peakBuffers = 0;
    const download = ready(await provider.openDownload(item, { offset: 0 }));
    const hash = createHash('sha256');
    let size = 0;
    let nextCheck = 0;
    for await (const chunk of download.body) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= nextCheck) {
        nextCheck += 8 * MB;
        const now = retained();
        peakHeap = Math.max(peakHeap, now.heap - before.heap);
        peakBuffers = Math.max(peakBuffers, now.buffers - before.buffers);
      }
    }
    expect(size).toBe(100 * MB);
    expect(hash.digest('hex')).toBe(expected);
    expect(peakHeap).toBeLessThan(40 * MB);
    expect(peakBuffers).toBeLessThan(40 * MB);

    // The first element alone: reading stops (and the connection closes) once it is complete.
    const first = ready(
      await provider.openDownload({ ...item, sourceId: 'v1-big-recording-0', locator: { ...item.locator, index: '0' } }, { offset: 0 }),
    );
    expect(await sha256Of(first.body)).toBe(await sim.sha256('v1-big', 0));
    await new Promise((r) => setTimeout(r, 100));
    expect(sim.requests.filter((r) => r.query.sessionId === 'v1-big').at(-1)!.bytesSent).toBeLessThan(20 * MB);
  });

  it('says not_found for an index past the end, and retries a cut body', async () => {
    const item = (index: number): SourceItem => ({
      sourceId: `v1-small-recording-${index}`,
      conversationId: 'v1-small',
      kind: 'recording',
      createdAt: at(1 * DAY),
      locator: { sessionId: 'v1-small', index: String(index), api: 'v1', kind: 'recording' },
    });
    const missing = await provider.openDownload(item(3), { offset: 0 }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(UnavailableError);
    expect((missing as UnavailableError).reason).toBe('not_found');

    sim.faults.add({ target: 'v1', id: 'v1-small', fault: { kind: 'cut', afterBytes: 150_000 } });
    const download = ready(await provider.openDownload(item(2), { offset: 0 }));
    const err = await sha256Of(download.body).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
  });
});
