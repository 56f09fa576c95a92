import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdSimulator } from '../../src/simulators/bird';
import { DixaSimulator, type DixaMessageSpec } from '../../src/simulators/dixa';
import { KoreSimulator } from '../../src/simulators/kore';
import { parsed, send } from './simulator-client';

/** Listings that overlap, as real APIs page while data arrives: every item still comes, some twice. */
const window = { from: '2026-04-01T00:00:00Z', to: '2026-04-03T00:00:00Z' };
const size = { min: 10, max: 100 };

/** Each page after the first starts with the last `k` items of the page before, and together they hold every item. */
function expectOverlapping(pages: string[][], all: string[], k: number): void {
  for (let p = 1; p < pages.length; p++) expect(pages[p]!.slice(0, k), `page ${p}`).toEqual(pages[p - 1]!.slice(-k));
  expect(new Set(pages.flat())).toEqual(new Set(all));
  expect(pages.flat()).toHaveLength(all.length + k * (pages.length - 1));
}

describe('Bird List Recordings with listOverlap', () => {
  const recordings = BirdSimulator.generate({ seed: 'bird-overlap', count: 30, ...window, size });
  const sim = new BirdSimulator({ seed: 'bird-overlap', recordings, listOverlap: 2 });
  beforeAll(() => sim.start());
  afterAll(() => sim.stop());

  async function pages(limit: number): Promise<string[][]> {
    const out: string[][] = [];
    let token: string | undefined;
    do {
      const url = `${sim.baseUrl}/workspaces/${sim.workspaceId}/recordings?limit=${limit}${token ? `&pageToken=${token}` : ''}`;
      const body = parsed(await send(url, { headers: { authorization: `AccessKey ${sim.accessKey}` } })) as {
        results: Array<{ id: string }>;
        nextPageToken?: string;
      };
      expect(body.results.length).toBeLessThanOrEqual(limit);
      out.push(body.results.map((r) => r.id));
      token = body.nextPageToken;
    } while (token);
    return out;
  }

  it('repeats the last items of each page at the start of the next', async () => {
    const ids = sim.list().map((r) => r.id);
    expectOverlapping(await pages(7), ids, 2);
    sim.listOverlap = 0;
    expect((await pages(7)).flat()).toEqual(ids);
    // An overlap as large as the page still moves on by one item a page.
    sim.listOverlap = 5;
    expectOverlapping(await pages(3), ids, 2);
  });
});

describe('Kore getSessions with sessionsShift', () => {
  const sessions = KoreSimulator.generate({ seed: 'kore-overlap', count: 40, ...window, size });
  const sim = new KoreSimulator({ seed: 'kore-overlap', sessions, sessionsShift: 3 });
  beforeAll(() => sim.start());
  afterAll(() => sim.stop());

  it('shifts pages by the sessions that arrived meanwhile, so each repeats the end of the page before', async () => {
    const pages: string[][] = [];
    for (let skip = 0, more = true; more; skip += 10) {
      const body = JSON.stringify({ skip, limit: 10, dateFrom: window.from, dateTo: window.to });
      const page = parsed(
        await send(`${sim.baseUrl}/api/public/bot/${sim.botId}/getSessions`, { method: 'POST', headers: { auth: sim.mintToken() }, body }),
      ) as {
        sessions: Array<{ sessionId: string }>;
        moreAvailable: boolean;
        total: number;
      };
      expect(page.total).toBe(40);
      pages.push(page.sessions.map((s) => s.sessionId));
      more = page.moreAvailable;
    }
    // Newest first, as Kore lists them.
    expectOverlapping(
      pages,
      sim.list().map((s) => s.sessionId),
      3,
    );
    expect(pages).toHaveLength(Math.ceil((40 - 10) / 7) + 1);
  });
});

describe('Dixa message export with exportOverlap', () => {
  const t0 = Date.parse(window.from);
  const HOUR = 3_600_000;
  const boundary = t0 + 24 * HOUR;
  const near: DixaMessageSpec = {
    id: 'near-boundary',
    csid: 7,
    createdAt: boundary + 30_000,
    recording: { id: 'near-rec', size: 10, visibility: 'private', link: 'absolute', name: 'near.mp3' },
  };
  const sim = new DixaSimulator({ seed: 'dixa-overlap', messages: [near], generate: { count: 20, ...window, size } });
  const exportIds = async (after: number, before: number) => {
    const a = await send(`${sim.exportsBaseUrl}/v1/message_export?created_after=${after}&created_before=${before}`, {
      headers: { authorization: `Bearer ${sim.apiToken}` },
    });
    return (parsed(a) as Array<{ id: string }>).map((r) => r.id);
  };
  beforeAll(() => sim.start());
  afterAll(() => sim.stop());

  it('returns every nth record a second time in one answer, after the record that follows it', async () => {
    const end = Date.parse(window.to);
    const once = await exportIds(t0, end);
    expect(once).toHaveLength(21);
    sim.exportOverlap = { repeatEvery: 3 };
    const twice = await exportIds(t0, end);
    expect(twice).toHaveLength(21 + 7);
    expect(new Set(twice)).toEqual(new Set(once));
    // Record 3 comes again after record 4, and so on.
    expect(twice.slice(0, 9)).toEqual([once[0], once[1], once[2], once[3], once[2], once[4], once[5], once[6], once[5]]);
    sim.exportOverlap = {};
  });

  it('answers with records past its bounds, so a record near a slice boundary comes in both slices', async () => {
    // Slices as callvault asks for them: [start - 1, end].
    const first = () => exportIds(t0 - 1, boundary);
    const second = () => exportIds(boundary - 1, Date.parse(window.to));
    expect(await first()).not.toContain('near-boundary');
    expect(await second()).toContain('near-boundary');
    sim.exportOverlap = { boundaryMs: 60_000 };
    expect(await first()).toContain('near-boundary');
    expect(await second()).toContain('near-boundary');
    sim.exportOverlap = {};
  });
});
