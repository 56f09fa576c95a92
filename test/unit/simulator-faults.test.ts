import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdSimulator } from '../../src/simulators/bird';
import { DixaSimulator } from '../../src/simulators/dixa';
import type { FaultChoice, FaultPlan } from '../../src/simulators/faults';
import { KoreSimulator } from '../../src/simulators/kore';
import type { LoggedRequest } from '../../src/simulators/server';
import { outcome, parsed, send, type Answer } from './simulator-client';

/** Each fault kind, and what a client sees of it. */
const KINDS: Record<string, { fault: FaultChoice; seen: string }> = {
  '429': { fault: { kind: 'status', status: 429, retryAfterSeconds: 1 }, seen: '429' },
  '500': { fault: { kind: 'status', status: 500 }, seen: '500' },
  '503': { fault: { kind: 'status', status: 503 }, seen: '503' },
  'malformed-json': { fault: { kind: 'malformed-json' }, seen: 'malformed-json' },
  expired: { fault: { kind: 'expired' }, seen: 'expired' },
  cut: { fault: { kind: 'cut', fraction: 'random' }, seen: 'broken' },
  short: { fault: { kind: 'short', fraction: 'random' }, seen: 'broken' },
};
const PROBES = 20;
const window = { from: '2026-01-01T00:00:00Z', to: '2026-01-03T00:00:00Z' };
const size = { min: 2_000, max: 20_000 };

interface Target {
  name: string;
  label?: string;
  kinds: string[];
  /** One client request (and the request it leads to); returns what the client saw. */
  probe(i: number): Promise<string>;
  before?(): void;
  after?(): void;
}

/** Where body breaks ended, against the body's length, to prove the positions fall inside it. */
const breaks: Array<{ sent: number; length: number }> = [];

/** The outcome of a file download, checking an intact body's length and noting where a broken one ended. */
function download(a: Answer, log: LoggedRequest[], server: string, length: number): string {
  const seen = outcome(a);
  if (seen === 'ok' && a.body.length !== length) return `ok with ${a.body.length} of ${length} bytes`;
  if (seen === 'broken') breaks.push({ sent: log.filter((r) => r.server === server).at(-1)!.bytesSent, length });
  return seen;
}

/** Plays one kind at rate 0.5 on one target over PROBES requests: the client must see that fault, as often as the plan played it. */
function atRates(plan: () => FaultPlan, targets: () => Target[]): void {
  const cases = () => targets().flatMap((t) => t.kinds.map((kind) => ({ t, kind })));
  // The targets exist once the simulator has started; the case names are known before.
  it('plays each fault kind at a rate on each target, as a client sees it through HTTP', async () => {
    for (const { t, kind } of cases()) {
      plan().clear();
      plan().addRate({ targets: t.name, rate: 0.5, faults: [KINDS[kind]!.fault] });
      t.before?.();
      const seen: string[] = [];
      for (let i = 0; i < PROBES; i++) seen.push(await t.probe(i));
      t.after?.();
      const label = `${t.label ?? t.name} ${kind}`;
      const faulted = seen.filter((s) => s !== 'ok');
      expect(new Set(faulted), label).toEqual(new Set([KINDS[kind]!.seen]));
      expect(faulted.length, label).toBe(plan().stats().targets[t.name]!.faults);
      expect(faulted.length, label).toBeGreaterThanOrEqual(4);
      expect(faulted.length, label).toBeLessThanOrEqual(16);
    }
    plan().clear();
  });
}

describe('the Bird simulator at fault rates', () => {
  const sim = new BirdSimulator({
    seed: 'bird-rates',
    recordings: BirdSimulator.generate({ seed: 'bird-rates', count: PROBES, ...window, size }),
  });
  const auth = { authorization: `AccessKey ${sim.accessKey}` };
  const api = (path: string) => `${sim.baseUrl}/workspaces/${sim.workspaceId}/recordings${path}`;
  const rec = (i: number) => sim.list()[i]!;
  const meta = async (i: number) => send(api(`/${rec(i).id}`), { headers: auth });
  beforeAll(() => sim.start());
  afterAll(() => sim.stop());

  atRates(
    () => sim.faults,
    () => [
      {
        name: 'list',
        kinds: ['429', '500', '503', 'malformed-json'],
        probe: async (i) => outcome(await send(api(`?limit=${i + 1}`), { headers: auth }), true),
      },
      {
        name: 'metadata',
        kinds: ['429', '500', '503', 'malformed-json', 'expired'],
        probe: async (i) => {
          const m = await meta(i);
          const seen = outcome(m, true);
          return seen === 'ok' ? outcome(await send((parsed(m) as { url: string }).url)) : seen;
        },
      },
      {
        name: 'redirect',
        kinds: ['429', '500', '503'],
        probe: async (i) => {
          const a = await send(api(`/${rec(i).id}.mp3`), { headers: auth });
          return outcome(a) === 'ok' && a.status !== 307 ? `status ${a.status}` : outcome(a);
        },
      },
      {
        name: 'media',
        kinds: ['500', '503', 'expired', 'cut', 'short'],
        probe: async (i) => download(await send((parsed(await meta(i)) as { url: string }).url), sim.requests, 'bird-storage', rec(i).size),
      },
    ],
  );

  it('counts the Nth API call across list and metadata, whatever the pace, and never media', async () => {
    const run = async (pauseMs: number) => {
      sim.faults.clear();
      sim.faults.addEveryNth({ targets: ['list', 'metadata'], every: 5, fault: KINDS['429']!.fault as never });
      const seen: string[] = [];
      for (let i = 0; i < PROBES; i++) {
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
        const a = i % 2 ? await meta(i) : await send(api(`?limit=${i + 1}`), { headers: auth });
        seen.push(outcome(a, true));
        if (i % 2 && outcome(a, true) === 'ok') await send((parsed(a) as { url: string }).url);
      }
      return seen.flatMap((s, i) => (s === '429' ? [i + 1] : []));
    };
    expect(await run(0)).toEqual([5, 10, 15, 20]);
    expect(await run(30)).toEqual([5, 10, 15, 20]);
    // All at once: arrival order is the server's, the count is not.
    sim.faults.clear();
    sim.faults.addEveryNth({ targets: ['list', 'metadata'], every: 5, fault: KINDS['429']!.fault as never });
    const burst = await Promise.all(Array.from({ length: PROBES }, (_, i) => meta(i)));
    expect(burst.filter((a) => a.status === 429)).toHaveLength(4);
    expect(sim.faults.stats().targets.media).toBeUndefined();
    sim.faults.clear();
  });

  it('counts media bytes and requests per recording, cut bodies included, error bodies not', async () => {
    sim.faults.clear();
    const r = rec(3);
    const [bytesBefore, requestsBefore] = [sim.mediaBytesSent(r.id), sim.requestsFor(r.id).length];
    sim.faults
      .add({ target: 'media', id: r.id, fault: { kind: 'status', status: 503 } })
      .add({ target: 'media', id: r.id, fault: { kind: 'cut', fraction: 0.5 } });
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) seen.push(outcome(await send((parsed(await meta(3)) as { url: string }).url)));
    expect(seen).toEqual(['503', 'broken', 'ok']);
    expect(sim.mediaBytesSent(r.id) - bytesBefore).toBe(Math.floor(r.size / 2) + r.size);
    // Three metadata requests and three to the storage.
    expect(sim.requestsFor(r.id).length - requestsBefore).toBe(6);
  });
});

describe('the Dixa simulator at fault rates', () => {
  const sim = new DixaSimulator({ seed: 'dixa-rates', generate: { count: 30, ...window, size } });
  const basic = { authorization: `Basic ${Buffer.from(`bearer:${sim.apiToken}`).toString('base64')}` };
  const t0 = Date.parse(window.from);
  const fileAt = (i: number) => [...sim.allFiles()][i]!.file;
  const fileUrl = (i: number) => new URL(sim.linkOf(fileAt(i)), sim.filesBaseUrl).href;
  beforeAll(() => sim.start());
  afterAll(() => sim.stop());

  atRates(
    () => sim.faults,
    () => {
      const files = {
        name: 'files',
        probe: async (i: number) => {
          const a = await send(fileUrl(i), { headers: basic });
          if (outcome(a) !== 'ok' || sim.delivery === 'direct') return download(a, sim.requests, 'dixa-files', fileAt(i).size);
          return outcome(await send(a.headers.location as string));
        },
      };
      return [
        {
          name: 'export',
          kinds: ['429', '500', '503', 'malformed-json', 'cut'],
          probe: async (i) => {
            const url = `${sim.exportsBaseUrl}/v1/message_export?created_after=${t0 + i}&created_before=${t0 + 86_400_000}`;
            const a = await send(url, { headers: { authorization: `Bearer ${sim.apiToken}` } });
            return outcome(a, true) === 'ok' && !Array.isArray(parsed(a)) ? 'not an array' : outcome(a, true);
          },
        },
        {
          name: 'messages',
          kinds: ['429', '500', '503', 'malformed-json'],
          probe: async (i) =>
            outcome(
              await send(`${sim.apiBaseUrl}/v1/conversations/${100_000 + (i % 10)}/messages`, { headers: { authorization: sim.apiToken } }),
              true,
            ),
        },
        { ...files, kinds: ['429', '500', '503', 'expired'] },
        {
          ...files,
          label: 'files (direct delivery)',
          kinds: ['cut', 'short'],
          before: () => (sim.delivery = 'direct'),
          after: () => (sim.delivery = 'redirect'),
        },
        {
          name: 'storage',
          kinds: ['500', '503', 'expired', 'cut', 'short'],
          probe: async (i) => {
            const redirect = await send(fileUrl(i), { headers: basic });
            return download(await send(redirect.headers.location as string), sim.requests, 'dixa-storage', fileAt(i).size);
          },
        },
      ];
    },
  );
});

describe('the Kore simulator at fault rates', () => {
  const sessions = KoreSimulator.generate({
    seed: 'kore-rates',
    count: PROBES,
    ...window,
    recordingsPerSession: { min: 1, max: 2 },
    size,
    voicemailEvery: 1,
  });
  const sim = new KoreSimulator({ seed: 'kore-rates', sessions });
  const bot = (path: string) => `${sim.baseUrl}/api/public/bot/${sim.botId}/${path}`;
  const headers = () => ({ auth: sim.mintToken(), 'content-type': 'application/json' });
  const session = (i: number) => sim.list()[i]!.sessionId;
  const signed = async (path: string, key: string, i: number) => {
    const a = await send(bot(`${path}?sessionId=${session(i)}`), { headers: headers() });
    const seen = outcome(a, true);
    if (seen !== 'ok') return { seen };
    return { seen, url: (parsed(a) as Record<string, Array<{ fileUrl: string }>>)[key]![0]!.fileUrl };
  };
  const signedThenMedia = (path: string, key: string) => async (i: number) => {
    const list = await signed(path, key, i);
    return list.url ? outcome(await send(list.url)) : list.seen;
  };
  beforeAll(() => sim.start());
  afterAll(() => sim.stop());

  atRates(
    () => sim.faults,
    () => [
      {
        name: 'getSessions',
        kinds: ['429', '500', '503', 'malformed-json'],
        probe: async (i) => {
          const a = await send(bot('getSessions'), {
            method: 'POST',
            headers: headers(),
            body: JSON.stringify({ skip: i, limit: 5, dateFrom: window.from, dateTo: window.to }),
          });
          // Kore's clients read the rate limit from the body.
          if (a.status === 429 && !a.body.toString().includes('Rate limit for this API has been reached'))
            return "429 without Kore's message";
          return outcome(a, true);
        },
      },
      {
        name: 'v1',
        kinds: ['429', '500', '503', 'malformed-json', 'cut'],
        probe: async (i) => outcome(await send(bot(`recordings?sessionId=${session(i)}`), { headers: headers() }), true),
      },
      { name: 'v2', kinds: ['429', '500', '503', 'malformed-json', 'expired'], probe: signedThenMedia('v2/recordings', 'recording') },
      {
        name: 'voicemail',
        kinds: ['429', '500', '503', 'malformed-json', 'expired'],
        probe: signedThenMedia('voicemail', 'voicemail_recording'),
      },
      {
        name: 'media',
        kinds: ['500', '503', 'expired', 'cut', 'short'],
        probe: async (i) =>
          download(
            await send((await signed('v2/recordings', 'recording', i)).url!),
            sim.requests,
            'kore-media',
            sim.file(session(i), 'recording', 0).size,
          ),
      },
    ],
  );
});

describe('body breaks at rates', () => {
  it('end inside the body whatever its size, anywhere in it (all three simulators above)', () => {
    expect(breaks.length).toBeGreaterThan(60);
    for (const b of breaks) expect(b.sent).toBeLessThan(b.length);
    expect(breaks.some((b) => b.sent < b.length / 4)).toBe(true);
    expect(breaks.some((b) => b.sent > (3 * b.length) / 4)).toBe(true);
  });
});
