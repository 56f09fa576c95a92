import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dixaConnectionSchema, type DixaConnectionConfig } from '../../src/providers/dixa/connection';
import { ConfigurationError, CredentialsRejectedError, TransientError, UnavailableError } from '../../src/errors';
import { DixaProvider } from '../../src/providers/dixa/provider';
import { dixa } from '../../src/providers/dixa';
import type { Window } from '../../src/contracts/window';
import type { ListPage, OpenedDownload } from '../../src/providers/types';
import type { SourceItem } from '../../src/contracts/sourceItem';
import { HOSTILE_NAMES, DixaSimulator, type DixaFileSpec, type DixaMessageSpec } from '../../src/simulators/dixa';
import { objectKey } from '../../src/storage/keys';

const DAY = 86_400_000;

function connectionFor(sim: DixaSimulator, overrides: Record<string, unknown> = {}): DixaConnectionConfig {
  const parsed = dixaConnectionSchema.parse({
    provider: 'dixa',
    allowPrivateNetwork: true,
    exportsBaseUrl: sim.exportsBaseUrl,
    apiBaseUrl: sim.apiBaseUrl,
    filesBaseUrl: sim.filesBaseUrl,
    apiToken: { env: 'DIXA_TOKEN' },
    storageHosts: [sim.storageHost],
    ...overrides,
  });
  return { ...parsed, name: 'dixa-test' };
}

const providers: DixaProvider[] = [];
function providerFor(sim: DixaSimulator, overrides: Record<string, unknown> = {}, token = sim.apiToken): DixaProvider {
  const provider = new DixaProvider(connectionFor(sim, overrides), token);
  providers.push(provider);
  return provider;
}

afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
});

async function listAll(provider: DixaProvider, window: Window): Promise<ListPage[]> {
  const pages: ListPage[] = [];
  let cursor: string | null = null;
  do {
    const page: ListPage = await provider.listPage(window, cursor);
    pages.push(page);
    cursor = page.nextCursor;
    if (pages.length > 1000) throw new Error('listing does not end');
  } while (cursor);
  return pages;
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function open(provider: DixaProvider, item: SourceItem, offset = 0): Promise<OpenedDownload> {
  const outcome = await provider.openDownload(item, { offset });
  if (outcome.kind !== 'ready') throw new Error('Dixa files are always ready');
  return outcome.download;
}

function exportQueries(sim: DixaSimulator): Array<{ after: number; before: number }> {
  return sim.requests
    .filter((r) => r.server === 'dixa-exports' && r.path === '/v1/message_export')
    .map((r) => ({ after: Number(r.query.created_after), before: Number(r.query.created_before) }));
}

/** The item a listing of `sim` yields for one declared file (found by its link). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('DixaProvider listing', () => {
  const from = Date.parse('2024-03-01T00:00:00.000Z');
  const window: Window = { from: '2024-03-01T00:00:00.000Z', to: '2024-03-04T00:00:00.000Z' };
  // Exactly on the boundary of the first and second slice: both queries return it (the simulator's bounds are inclusive).
  const boundary: DixaMessageSpec = {
    id: 'boundary-message',
    csid: 7,
    createdAt: from + DAY,
    attachments: [{ id: 'boundary-file', size: 10, visibility: 'public', link: 'relative', name: 'edge.txt' }],
  };
  const sim = new DixaSimulator({
    seed: 'listing',
    messages: [boundary],
    generate: { count: 2400, from: window.from, to: window.to, size: { min: 10, max: 100 } },
  });
  beforeAll(() => sim.start());
  afterAll(() => sim.stop());

  it('returns every link exactly once over several pages and slices, with stable ids', async () => {
    const provider = providerFor(sim);
    const pages = await listAll(provider, window);
    const items = pages.flatMap((p) => p.items);
    expect(Math.max(...pages.map((p) => p.items.length))).toBeLessThanOrEqual(300);
    expect(pages.length).toBeGreaterThan(6); // 3 one-day slices of ~1,000 files each
    expect(new Set(exportQueries(sim).map((q) => q.before)).size).toBe(3);

    const expected = [...sim.allFiles()].map((f) => `${f.message.id} ${f.kind} ${sim.linkOf(f.file)}`).sort();
    expect(expected.length).toBe(3001);
    expect(items.map((i) => `${i.messageId} ${i.kind} ${i.locator.link}`).sort()).toEqual(expected);
    expect(new Set(items.map((i) => i.sourceId)).size).toBe(items.length);
    expect(items.filter((i) => i.messageId === boundary.id)).toHaveLength(1);

    const recording = items.find((i) => i.kind === 'recording')!;
    expect(recording.sourceId).toBe(`${recording.messageId}:recording`);
    expect(recording.extension).toBe('.mp3');
    const attachment = items.find((i) => i.kind === 'attachment')!;
    expect(attachment.sourceId).toMatch(new RegExp(`^${attachment.messageId}:attachment:[0-9a-f]{16}$`));
    const message = [...sim.messages()].find((m) => m.id === attachment.messageId)!;
    expect(attachment.conversationId).toBe(String(message.csid));
    expect(attachment.createdAt).toBe(new Date(message.createdAt).toISOString());
    expect(attachment.originalName).toBe(message.attachments![0]!.name);
    // Links are not secrets, and nothing else goes in the locator.
    expect(items.every((i) => Object.keys(i.locator).join() === 'link' && !i.locator.link!.includes(sim.apiToken))).toBe(true);

    const again = (await listAll(providerFor(sim), window)).flatMap((p) => p.items);
    expect(again.map((i) => i.sourceId)).toEqual(items.map((i) => i.sourceId));
  });

  it('does not depend on the order of the export array', async () => {
    const reversed = new DixaSimulator({
      seed: 'listing',
      messages: [boundary],
      exportOrder: 'reversed',
      generate: { count: 2400, from: window.from, to: window.to, size: { min: 10, max: 100 } },
    });
    await reversed.start();
    try {
      const provider = new DixaProvider(connectionFor(reversed), reversed.apiToken);
      providers.push(provider);
      const ids = (await listAll(provider, window)).flatMap((p) => p.items.map((i) => i.sourceId));
      const inOrder = (await listAll(providerFor(sim), window)).flatMap((p) => p.items.map((i) => i.sourceId));
      expect(ids).toEqual(inOrder);
    } finally {
      await reversed.stop();
    }
  });

  it('maps the main API conversation messages onto the same items as the export', async () => {
    const provider = providerFor(sim);
    const listed = (await listAll(provider, window)).flatMap((p) => p.items);
    for (const csid of [100_000, 100_001, 100_005]) {
      const fromApi = await provider.conversationItems(String(csid));
      const fromExport = listed.filter((i) => i.conversationId === String(csid));
      expect(fromApi.length).toBeGreaterThan(0);
      expect([...fromApi].sort((a, b) => a.sourceId.localeCompare(b.sourceId))).toEqual(
        [...fromExport].sort((a, b) => a.sourceId.localeCompare(b.sourceId)),
      );
    }
    const request = sim.requests.find((r) => r.path.endsWith('/messages'))!;
    expect(request.headers.authorization).toBe(sim.apiToken);
    await expect(providerFor(sim, {}, 'wrong-token').conversationItems('100000')).rejects.toThrow(CredentialsRejectedError);
    sim.faults.add({ target: 'messages', fault: { kind: 'malformed-json' } });
    await expect(provider.conversationItems('100000')).rejects.toThrow(TransientError);
  });

  it('cuts a 40-day window into slices of at most 31 days', async () => {
    const long = new DixaSimulator({
      seed: 'long',
      generate: { count: 80, from: '2024-01-01T00:00:00Z', to: '2024-02-10T00:00:00Z', size: { min: 1, max: 10 } },
    });
    await long.start();
    try {
      const provider = new DixaProvider(connectionFor(long, { windowDays: 31 }), long.apiToken);
      providers.push(provider);
      const longWindow = { from: '2024-01-01T00:00:00.000Z', to: '2024-02-10T00:00:00.000Z' };
      const items = (await listAll(provider, longWindow)).flatMap((p) => p.items);
      expect(items).toHaveLength([...long.allFiles()].length);
      const queries = exportQueries(long);
      expect(queries).toHaveLength(2);
      for (const q of queries) expect(q.before - q.after).toBeLessThanOrEqual(31 * DAY);
      // Together the slices cover the window without a gap.
      expect(queries[0]!.after + 1).toBe(Date.parse(longWindow.from));
      expect(queries[1]!.after + 1).toBe(queries[0]!.before);
      expect(queries[1]!.before).toBe(Date.parse(longWindow.to));
      expect(long.requests.every((r) => r.status !== 400)).toBe(true);
    } finally {
      await long.stop();
    }
  });

  it('parses a large export as a stream, never holding the body', async () => {
    const big = new DixaSimulator({
      seed: 'big',
      generate: {
        count: 20_000,
        from: '2024-05-01T00:00:00Z',
        to: '2024-05-02T00:00:00Z',
        size: { min: 1, max: 10 },
        filesEvery: 100,
        textBytes: 5_000,
      },
    });
    await big.start();
    try {
      const provider = new DixaProvider(connectionFor(big), big.apiToken);
      providers.push(provider);
      const used = () => {
        const m = process.memoryUsage();
        return m.heapUsed + m.arrayBuffers;
      };
      const base = used();
      let peak = base;
      const sampler = setInterval(() => (peak = Math.max(peak, used())), 1);
      let page: ListPage;
      try {
        page = await provider.listPage({ from: '2024-05-01T00:00:00.000Z', to: '2024-05-02T00:00:00.000Z' }, null);
      } finally {
        clearInterval(sampler);
      }
      expect(page.items).toHaveLength([...big.allFiles()].length);
      expect(page.nextCursor).toBeNull();
      const bodyBytes = big.requests.find((r) => r.path === '/v1/message_export')!.bytesSent;
      expect(bodyBytes).toBeGreaterThan(100 * 1024 * 1024);
      // Buffering the body (or parsing it whole) would cost more than its 100 MiB; streaming costs a
      // few chunks, one record and young-generation garbage (about 24 MiB here, whatever the body size).
      expect(peak - base).toBeLessThan(48 * 2 ** 20);
    } finally {
      await big.stop();
    }
  });

  it('splits one message with hundreds of long-named files over pages, each under the payload budget', async () => {
    const crowded = new DixaSimulator({
      seed: 'crowded',
      messages: [
        {
          id: 'before',
          csid: 1,
          createdAt: from + 10,
          recording: { id: 'rec-before', size: 5, visibility: 'private', link: 'relative', name: 'a.mp3' },
        },
        {
          id: 'crowded',
          csid: 1,
          createdAt: from + 20,
          attachments: Array.from({ length: 650 }, (_, k) => ({
            id: `att-${k}`,
            size: 5,
            visibility: 'public' as const,
            link: 'absolute' as const,
            name: `${k}-${'x'.repeat(990)}.pdf`,
          })),
        },
        {
          id: 'after',
          csid: 1,
          createdAt: from + 30,
          voicemail: { id: 'vm-after', size: 5, visibility: 'private', link: 'absolute', name: 'v.mp3' },
        },
      ],
    });
    await crowded.start();
    try {
      const provider = new DixaProvider(connectionFor(crowded), crowded.apiToken);
      providers.push(provider);
      const pages = await listAll(provider, { from: window.from, to: new Date(from + DAY).toISOString() });
      const items = pages.flatMap((p) => p.items);
      expect(items).toHaveLength(652);
      expect(new Set(items.map((i) => i.sourceId)).size).toBe(652);
      expect(items[0]!.sourceId).toBe('before:recording');
      expect(items.at(-1)!.sourceId).toBe('after:voicemail');
      expect(pages.length).toBeGreaterThanOrEqual(3);
      for (const page of pages) expect(JSON.stringify(page).length).toBeLessThan(520 * 1024);
    } finally {
      await crowded.stop();
    }
  });

  it('keeps hostile attachment names as given, for the key builder to sanitize', async () => {
    const hostile = new DixaSimulator({
      seed: 'hostile',
      generate: { count: 40, from: window.from, to: window.to, size: { min: 1, max: 10 }, hostileNames: true },
    });
    await hostile.start();
    try {
      const provider = new DixaProvider(connectionFor(hostile, { windowDays: 3 }), hostile.apiToken);
      providers.push(provider);
      const items = (await listAll(provider, window)).flatMap((p) => p.items).filter((i) => i.kind === 'attachment');
      expect(new Set(items.map((i) => i.originalName))).toEqual(new Set(HOSTILE_NAMES));
      expect(items.find((i) => i.originalName === `${'n'.repeat(996)}.pdf`)!.extension).toBe('.pdf');
      expect(items.find((i) => i.originalName === '../../etc/passwd')!.extension).toBeUndefined();
      for (const item of items) {
        expect(item.sourceId).toMatch(/^[0-9a-f-]+:attachment:[0-9a-f]{16}$/);
        const key = objectKey({
          prefix: 'cv',
          provider: 'dixa',
          connection: 'c',
          createdAt: item.createdAt,
          conversationId: item.conversationId,
          sourceId: item.sourceId,
          originalName: item.originalName,
          extension: item.extension ?? '',
        });
        expect(key.split('/').some((s) => s === '..' || s === '.')).toBe(false);
        // eslint-disable-next-line no-control-regex
        expect(key).not.toMatch(/[\x00-\x1f]/);
      }
    } finally {
      await hostile.stop();
    }
  });

  it('authenticates to the exports API with Bearer, or Basic bearer:<token> when configured', async () => {
    await providerFor(sim).listPage(window, null);
    await providerFor(sim, { exportsAuth: 'basic' }).listPage(window, null);
    const auth = sim.requests
      .filter((r) => r.path === '/v1/message_export')
      .slice(-2)
      .map((r) => r.headers.authorization);
    expect(auth).toEqual([`Bearer ${sim.apiToken}`, `Basic ${Buffer.from(`bearer:${sim.apiToken}`).toString('base64')}`]);
  });

  it('refuses a cursor from another window', async () => {
    const page = await providerFor(sim).listPage(window, null);
    await expect(providerFor(sim).listPage({ from: '2025-01-01T00:00:00Z', to: '2025-01-02T00:00:00Z' }, page.nextCursor)).rejects.toThrow(
      ConfigurationError,
    );
    await expect(providerFor(sim).listPage(window, 'garbage')).rejects.toThrow(ConfigurationError);
  });
});

describe('DixaProvider listing errors', () => {
  const window: Window = { from: '2024-03-01T00:00:00.000Z', to: '2024-03-02T00:00:00.000Z' };
  const sim = new DixaSimulator({ seed: 'errors', generate: { count: 30, from: window.from, to: window.to, size: { min: 1, max: 10 } } });
  beforeAll(() => sim.start());
  afterAll(() => sim.stop());
  afterEach(() => {
    sim.faults.clear();
    sim.rawExportRecords = [];
  });

  it('stops on a rejected token, without repeating it', async () => {
    const err = await rejection(providerFor(sim, {}, 'wrong-token').listPage(window, null));
    expect(err).toBeInstanceOf(CredentialsRejectedError);
    expect((err as Error).message).not.toContain('wrong-token');
  });

  it('turns 429 with Retry-After into a TransientError with the delay', async () => {
    sim.faults.add({ target: 'export', fault: { kind: 'status', status: 429, retryAfterSeconds: 7 } });
    const err = await rejection(providerFor(sim).listPage(window, null));
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).retryAfterMs).toBe(7000);
  });

  it('retries malformed JSON, cut bodies and 5xx', async () => {
    sim.faults.add({ target: 'export', fault: { kind: 'malformed-json' } });
    await expect(providerFor(sim).listPage(window, null)).rejects.toThrow(/malformed JSON/);
    sim.faults.add({ target: 'export', fault: { kind: 'cut', afterBytes: 500 } });
    await expect(providerFor(sim).listPage(window, null)).rejects.toThrow(TransientError);
    sim.faults.add({ target: 'export', fault: { kind: 'status', status: 503 } });
    await expect(providerFor(sim).listPage(window, null)).rejects.toThrow(TransientError);
    expect((await providerFor(sim).listPage(window, null)).items.length).toBeGreaterThan(0);
  });

  it('is loud about a record that is not an object or has no id, naming its index', async () => {
    sim.rawExportRecords = [{ csid: 1, created_at: Date.parse(window.from), recording_url: '/private/x/y.mp3' }];
    const err = await rejection(providerFor(sim).listPage(window, null));
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toMatch(/record \[30\] id is missing/);
    sim.rawExportRecords = ['just a string'];
    await expect(providerFor(sim).listPage(window, null)).rejects.toThrow(/record \[30\] is a string, not an object/);
  });

  it('declares the exports API pace (10 calls a minute) as its listing limit', () => {
    expect(dixa.limits.listRequestsPerSecond).toBeCloseTo(10 / 60);
  });
});

describe('DixaProvider downloads', () => {
  const at = Date.parse('2024-06-01T12:00:00.000Z');
  const window: Window = { from: '2024-06-01T00:00:00.000Z', to: '2024-06-02T00:00:00.000Z' };
  const file = (id: string, visibility: 'public' | 'private', link: DixaFileSpec['link'], size = 200_000): DixaFileSpec => ({
    id,
    size,
    visibility,
    link,
    name: `${id}.pdf`,
    contentType: 'application/pdf',
  });
  const files = {
    privateAbsolute: file('private-absolute', 'private', 'absolute', 1_500_000),
    privateRelative: file('private-relative', 'private', 'relative'),
    publicRelative: file('public-relative', 'public', 'relative'),
    publicAbsolute: file('public-absolute', 'public', 'absolute'),
    otherPort: file('crafted-other-port', 'private', 'other-port'),
    otherHost: file('crafted-other-host', 'private', 'other-host'),
    otherScheme: file('crafted-other-scheme', 'private', 'other-scheme'),
    userinfo: file('crafted-userinfo', 'private', 'userinfo'),
  };
  const recording: DixaFileSpec = {
    id: 'call-1',
    size: 64_000,
    visibility: 'private',
    link: 'relative',
    name: 'call.mp3',
    contentType: 'audio/mpeg',
  };
  const sim = new DixaSimulator({
    seed: 'downloads',
    messages: [
      { id: 'm-call', csid: 1, createdAt: at, recording },
      { id: 'm-files', csid: 1, createdAt: at + 1000, attachments: Object.values(files) },
    ],
  });
  let items: Map<string, SourceItem>;
  beforeAll(async () => {
    await sim.start();
    const provider = new DixaProvider(connectionFor(sim), sim.apiToken);
    const listed = (await listAll(provider, window)).flatMap((p) => p.items);
    await provider.close();
    // A link with user info is listed without it (credentials stay out of workflow history).
    const listedLink = (f: DixaFileSpec) => sim.linkOf(f).replace(/^(https?:\/\/)[^@/]*@/, '$1');
    items = new Map([recording, ...Object.values(files)].map((f) => [f.id, listed.find((i) => i.locator.link === listedLink(f))!]));
    expect(JSON.stringify(listed)).not.toContain(encodeURIComponent(sim.apiToken));
  });
  afterAll(() => sim.stop());
  afterEach(() => {
    sim.faults.clear();
    sim.delivery = 'redirect';
  });
  const item = (f: DixaFileSpec) => items.get(f.id)!;

  it('reads relative and absolute, public and private links; bytes match the source', async () => {
    const provider = providerFor(sim);
    for (const f of [files.privateAbsolute, files.privateRelative, files.publicRelative, files.publicAbsolute, recording]) {
      const download = await open(provider, item(f));
      const bytes = await readAll(download.body);
      expect(bytes.length).toBe(f.size);
      expect(sha256(bytes)).toBe(await sim.sha256(f.id));
      expect(download).toMatchObject({ offset: 0, totalSize: f.size, contentType: f.contentType });
      expect(download.sourceUrl).not.toMatch(/Signature|Expires/);
    }
    expect(sim.fileBytesSent(files.privateAbsolute.id)).toBe(files.privateAbsolute.size);
  });

  it('sends Basic bearer:<token> to private files only, and never any Authorization to storage', async () => {
    const provider = providerFor(sim);
    for (const f of [files.privateRelative, files.publicRelative]) await readAll((await open(provider, item(f))).body);
    const basic = `Basic ${Buffer.from(`bearer:${sim.apiToken}`).toString('base64')}`;
    const onFiles = (id: string) => sim.requests.filter((r) => r.server === 'dixa-files' && r.id === id);
    expect(onFiles(files.privateRelative.id).at(-1)!.headers.authorization).toBe(basic);
    expect(onFiles(files.publicRelative.id).at(-1)!.headers.authorization).toBeUndefined();
    const storage = sim.requests.filter((r) => r.server === 'dixa-storage');
    expect(storage.length).toBeGreaterThan(0);
    expect(storage.every((r) => r.headers.authorization === undefined && !JSON.stringify(r.headers).includes(sim.apiToken))).toBe(true);
  });

  it('refuses crafted links to another port, host, scheme or with user info, without calling them', async () => {
    const provider = providerFor(sim);
    for (const f of [files.otherPort, files.otherHost, files.otherScheme, files.userinfo]) {
      const err = await rejection(provider.openDownload(item(f), { offset: 0 }));
      expect(err).toBeInstanceOf(UnavailableError);
      expect((err as UnavailableError).reason).toBe('refused_link');
      expect((err as Error).message).not.toContain(sim.apiToken);
      expect(sim.requests.filter((r) => r.id === f.id || r.path.includes(f.id))).toEqual([]);
    }
  });

  it('refuses a redirect off the files and storage hosts', async () => {
    const provider = providerFor(sim);
    const foreign = `${sim.exportsBaseUrl}/stolen`;
    sim.faults.add({ target: 'files', id: files.privateRelative.id, fault: { kind: 'foreign-redirect', location: foreign } });
    const err = await rejection(provider.openDownload(item(files.privateRelative), { offset: 0 }));
    expect((err as UnavailableError).reason).toBe('refused_link');
    expect(sim.requests.some((r) => r.path === '/stolen')).toBe(false);
    // With the storage host left out of storageHosts, the normal redirect is refused as well.
    const strict = providerFor(sim, { storageHosts: [] });
    await expect(strict.openDownload(item(files.publicRelative), { offset: 0 })).rejects.toMatchObject({ reason: 'refused_link' });
  });

  it('resumes with Range and returns the rest', async () => {
    const provider = providerFor(sim);
    const f = files.privateAbsolute;
    const whole = await readAll((await open(provider, item(f))).body);
    for (const delivery of ['redirect', 'direct'] as const) {
      sim.delivery = delivery;
      const rest = await open(provider, item(f), 1_000_001);
      expect(rest).toMatchObject({ offset: 1_000_001, totalSize: f.size, contentLength: f.size - 1_000_001 });
      const bytes = await readAll(rest.body);
      expect(sha256(Buffer.concat([whole.subarray(0, 1_000_001), bytes]))).toBe(await sim.sha256(f.id));
      expect(sim.requests.at(-1)!.headers.range).toBe('bytes=1000001-');
    }
    const past = await open(provider, item(f), f.size);
    expect(past).toMatchObject({ offset: f.size, totalSize: f.size });
  });

  it('serves directly from the files host when Dixa does not redirect', async () => {
    sim.delivery = 'direct';
    const before = sim.requests.filter((r) => r.server === 'dixa-storage').length;
    const bytes = await readAll((await open(providerFor(sim), item(files.privateRelative))).body);
    expect(sha256(bytes)).toBe(await sim.sha256(files.privateRelative.id));
    expect(sim.requests.filter((r) => r.server === 'dixa-storage').length).toBe(before);
  });

  it('classifies failures: bad token, expired signed URL, missing file, rate limit, short body', async () => {
    const wrong = await rejection(providerFor(sim, {}, 'wrong-token').openDownload(item(files.privateRelative), { offset: 0 }));
    expect(wrong).toBeInstanceOf(CredentialsRejectedError);

    const provider = providerFor(sim);
    sim.faults.add({ target: 'files', id: files.publicRelative.id, fault: { kind: 'expired' } });
    const expired = await rejection(provider.openDownload(item(files.publicRelative), { offset: 0 }));
    expect(expired).toBeInstanceOf(TransientError);
    expect((expired as Error).message).toMatch(/expired/);
    expect((expired as Error).message).not.toMatch(/Signature=/);

    sim.faults.add({ target: 'files', fault: { kind: 'status', status: 429, retryAfterSeconds: 3 } });
    const limited = await rejection(provider.openDownload(item(files.publicRelative), { offset: 0 }));
    expect((limited as TransientError).retryAfterMs).toBe(3000);

    sim.faults.add({ target: 'files', fault: { kind: 'status', status: 404 } });
    await expect(provider.openDownload(item(files.publicRelative), { offset: 0 })).rejects.toMatchObject({ reason: 'not_found' });

    sim.faults.add({ target: 'storage', fault: { kind: 'short', bytes: 1000 } });
    const short = await open(provider, item(files.publicRelative));
    expect(short.contentLength).toBe(files.publicRelative.size);
    await expect(readAll(short.body)).rejects.toThrow();
  });

  it('reports an unusable link as a per-file problem', async () => {
    const bad: SourceItem = {
      ...item(files.publicRelative),
      sourceId: 'x:attachment:0',
      locator: { problem: 'the attachment link is a number, not a URL string' },
    };
    await expect(providerFor(sim).openDownload(bad, { offset: 0 })).rejects.toMatchObject({ reason: 'malformed' });
  });
});
