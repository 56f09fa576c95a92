import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdSimulator } from '../../src/simulators/bird';
import { DixaSimulator } from '../../src/simulators/dixa';
import { formatStats, type FaultPlan } from '../../src/simulators/faults';
import type { SimFile } from '../../src/simulators/inventory';
import { KoreSimulator } from '../../src/simulators/kore';
import { outcome, parsed, retrying, send, sha256, type Answer } from './simulator-client';

/**
 * Each simulator's realistic mix, met by a naive client that retries every failed request at
 * once: every available file arrives whole, within the tries the cap allows, the effective
 * fault rate is at least 15%, and the accounting matches what the client did.
 */
const window = { from: '2026-02-02T00:00:00Z', to: '2026-02-04T00:00:00Z' };
const size = { min: 1_000, max: 30_000 };
const MIX = { rate: 0.15, seed: 'mix', retryAfterSeconds: 1, every429: 7 };
/** A try fails on at most capPerId faults of each request it makes, plus the polls of a file not ready yet. */
const MAX_TRIES = 1 + 3 * 3 + 2;

/** The JSON of an answer that arrived whole and parsed, else undefined (a retry). */
function json<T>(a: Answer): T | undefined {
  return outcome(a, true) === 'ok' && a.status === 200 ? (parsed(a) as T) : undefined;
}

/** The body of an intact download, else undefined. */
function bytes(a: Answer): Buffer | undefined {
  return outcome(a) === 'ok' && (a.status === 200 || a.status === 206) ? a.body : undefined;
}

interface ExportRecord {
  id: string;
  csid: number;
  recording_url: string | null;
  voicemail_url: string | null;
  attached_files: string[];
}

interface Fetched {
  sha256: string;
  tries: number;
}

/** Prints the mix's effective rates and checks what every soak must be able to rely on. */
function expectMix(
  name: string,
  plan: FaultPlan,
  files: SimFile[],
  fetched: Map<string, Fetched>,
  sentBytes: (id: string) => number,
): void {
  const stats = plan.stats();
  console.log(`${name} realistic mix at rate ${MIX.rate}, 429 on every ${MIX.every429}th API call:\n${formatStats(stats)}`);
  expect(stats.total.faults / stats.total.requests).toBeGreaterThanOrEqual(0.15);
  for (const [target, s] of Object.entries(stats.targets)) if (s.requests >= 30) expect(s.faults, target).toBeGreaterThan(0);
  for (const file of files) {
    const got = fetched.get(file.id);
    if (file.availability !== 'available') {
      expect(got, file.id).toBeUndefined();
      expect(sentBytes(file.id), file.id).toBe(0);
      continue;
    }
    expect(got?.sha256, file.id).toBe(file.sha256);
    expect(got!.tries, file.id).toBeLessThanOrEqual(MAX_TRIES);
    expect(sentBytes(file.id), file.id).toBeGreaterThanOrEqual(file.size);
  }
}

describe("the Bird simulator's realistic mix", () => {
  const recordings = BirdSimulator.generate({
    seed: 'bird-mix',
    count: 120,
    ...window,
    size,
    statuses: { absent: 2, failed: 2, ongoing: 1 },
  });
  for (const i of [5, 50]) Object.assign(recordings[i]!, { status: 'ongoing', availableAfterPolls: 2 });
  const sim = new BirdSimulator({ seed: 'bird-mix', recordings });
  const auth = { authorization: `AccessKey ${sim.accessKey}` };
  const api = (path: string) => `${sim.baseUrl}/workspaces/${sim.workspaceId}/recordings${path}`;
  beforeAll(() => sim.start());
  afterAll(() => sim.stop());

  it('lets a retrying client fetch every available recording whole, with overlapping pages', async () => {
    sim.playRealisticFaults(MIX);
    const listed: string[] = [];
    let token: string | undefined = '';
    while (token !== undefined) {
      const url = api(`?limit=20&startAt=${window.from}&endAt=${window.to}${token ? `&pageToken=${token}` : ''}`);
      const page = await retrying(MAX_TRIES, async () =>
        json<{ results: Array<{ id: string }>; nextPageToken?: string }>(await send(url, { headers: auth })),
      );
      listed.push(...page.value.results.map((r) => r.id));
      token = page.value.nextPageToken;
    }
    expect(listed.length).toBe(recordings.length + 2 * Math.ceil((recordings.length - 20) / 18));
    const fetched = new Map<string, Fetched>();
    for (const id of new Set(listed)) {
      const { value, tries } = await retrying(MAX_TRIES, async () => {
        const meta = json<{ status: string; url?: string }>(await send(api(`/${id}`), { headers: auth }));
        if (
          meta?.status === 'absent' ||
          meta?.status === 'failed' ||
          (meta?.status === 'ongoing' && !sim.recording(id).availableAfterPolls)
        )
          return 'final';
        if (!meta?.url) return undefined;
        const body = bytes(await send(meta.url));
        return body && sha256(body);
      });
      if (value !== 'final') fetched.set(id, { sha256: value, tries });
    }
    const files = await sim.inventory();
    expect(new Set(listed)).toEqual(new Set(files.map((f) => f.id)));
    expect(
      files
        .filter((f) => f.availability === 'final')
        .map((f) => f.status)
        .sort(),
    ).toEqual(['absent', 'absent', 'failed', 'failed']);
    expect(files.filter((f) => f.availability === 'pending').map((f) => f.status)).toEqual(['ongoing']);
    expectMix('Bird', sim.faults, files, fetched, (id) => sim.mediaBytesSent(id));
    const one = files.find((f) => f.availability === 'available')!;
    expect(sim.requestsFor(one.id).length).toBeGreaterThanOrEqual(2 * fetched.get(one.id)!.tries - 1);
  });
});

describe("the Dixa simulator's realistic mix", () => {
  const sim = new DixaSimulator({ seed: 'dixa-mix', generate: { count: 90, ...window, size } });
  const basic = { authorization: `Basic ${Buffer.from(`bearer:${sim.apiToken}`).toString('base64')}` };
  beforeAll(() => sim.start());
  afterAll(() => sim.stop());

  it('lets a retrying client fetch every file whole, from exports with repeated records', async () => {
    sim.playRealisticFaults(MIX);
    const [from, to] = [Date.parse(window.from), Date.parse(window.to) - 1];
    const day = 6 * 3_600_000;
    const records = new Map<string, ExportRecord>();
    let answered = 0;
    // Slices, as callvault pages: the answers reach past the slice bounds and repeat records.
    for (let s = from; s < to; s += day) {
      const url = `${sim.exportsBaseUrl}/v1/message_export?created_after=${s}&created_before=${Math.min(s + day, to)}`;
      const { value } = await retrying(MAX_TRIES, async () =>
        json<ExportRecord[]>(await send(url, { headers: { authorization: `Bearer ${sim.apiToken}` } })),
      );
      answered += value.length;
      for (const r of value) records.set(r.id, r);
    }
    expect(records.size).toBe(90);
    expect(answered).toBeGreaterThan(90);
    for (const csid of new Set([...records.values()].map((r) => r.csid))) {
      await retrying(MAX_TRIES, async () =>
        json(await send(`${sim.apiBaseUrl}/v1/conversations/${csid}/messages`, { headers: { authorization: sim.apiToken } })),
      );
    }
    const files = await sim.inventory();
    const byLink = new Map(files.map((f) => [f.link, f.id]));
    const fetched = new Map<string, Fetched>();
    for (const r of records.values()) {
      for (const link of [r.recording_url, r.voicemail_url, ...r.attached_files].filter((l): l is string => !!l)) {
        const { value, tries } = await retrying(MAX_TRIES, async () => {
          const redirect = await send(new URL(link, sim.filesBaseUrl).href, { headers: basic });
          if (redirect.status !== 307) return undefined;
          const body = bytes(await send(redirect.headers.location as string));
          return body && sha256(body);
        });
        fetched.set(byLink.get(link)!, { sha256: value, tries });
      }
    }
    expect(fetched.size).toBe(files.length);
    expectMix('Dixa', sim.faults, files, fetched, (id) => sim.mediaBytesSent(id));
    for (const f of files)
      expect(sim.requestsFor(f.id).filter((r) => r.server === 'dixa-files').length, f.id).toBe(fetched.get(f.id)!.tries);
  });
});

describe("the Kore simulator's realistic mix", () => {
  const sessions = KoreSimulator.generate({
    seed: 'kore-mix',
    count: 60,
    ...window,
    chatEvery: 6,
    recordingsPerSession: { min: 1, max: 2 },
    size,
    voicemailEvery: 3,
  });
  const sim = new KoreSimulator({ seed: 'kore-mix', sessions });
  sim.setStatus(sessions[0]!.sessionId, 'failed');
  sim.setStatus(sessions[1]!.sessionId, 'media_in_progress', 1);
  const bot = (path: string) => `${sim.baseUrl}/api/public/bot/${sim.botId}/${path}`;
  const headers = () => ({ auth: sim.mintToken(), 'content-type': 'application/json' });
  beforeAll(() => sim.start());
  afterAll(() => sim.stop());

  /** Lists sessions with skip paging, 10 at a time; the pages overlap. */
  async function listSessions(): Promise<{ ids: string[]; channels: Map<string, string> }> {
    const ids: string[] = [];
    const channels = new Map<string, string>();
    for (let skip = 0, more = true; more; ) {
      const body = JSON.stringify({ skip, limit: 10, dateFrom: window.from, dateTo: window.to });
      const { value } = await retrying(MAX_TRIES, async () =>
        json<{ moreAvailable: boolean; sessions: Array<{ sessionId: string; channel: string }> }>(
          await send(bot('getSessions'), { method: 'POST', headers: headers(), body }),
        ),
      );
      for (const s of value.sessions) channels.set(s.sessionId, s.channel);
      ids.push(...value.sessions.map((s) => s.sessionId));
      skip += value.sessions.length;
      more = value.moreAvailable;
    }
    return { ids, channels };
  }

  /** v2 recordings or voicemail: each file fetched with a fresh fileUrl per try. */
  async function fetchSigned(
    sessionId: string,
    path: string,
    kind: 'recording' | 'voicemail',
    fetched: Map<string, Fetched>,
  ): Promise<void> {
    const key = kind === 'recording' ? 'recording' : 'voicemail_recording';
    const list = async () =>
      json<Record<string, Array<{ fileUrl: string }>> & { status: string }>(
        await send(bot(`${path}?sessionId=${sessionId}`), { headers: headers() }),
      );
    const first = await retrying(MAX_TRIES, async () => {
      const answer = await list();
      return answer && answer.status !== 'media_in_progress' ? answer : undefined;
    });
    for (let index = 0; index < first.value[key]!.length; index++) {
      const { value, tries } = await retrying(MAX_TRIES, async () => {
        const url = (await list())?.[key]?.[index]?.fileUrl;
        const body = url && bytes(await send(url));
        return body && sha256(body);
      });
      fetched.set(`${sessionId}/${kind}/${index}`, { sha256: value, tries });
    }
  }

  it('lets a retrying client fetch every available file whole through v2, v1 and voicemail, with shifted session pages', async () => {
    sim.playRealisticFaults(MIX);
    const { ids, channels } = await listSessions();
    const unique = new Set(ids);
    expect(unique.size).toBe(sessions.length);
    // Pages of 10 that advance by 7: each after the first repeats 3 sessions.
    expect(ids.length).toBe(sessions.length + 3 * Math.ceil((sessions.length - 10) / 7));
    const voice = [...unique].filter((id) => channels.get(id) === 'korevg');
    const fetched = new Map<string, Fetched>();
    for (const id of voice) {
      await fetchSigned(id, 'v2/recordings', 'recording', fetched);
      await fetchSigned(id, 'voicemail', 'voicemail', fetched);
    }
    // v1: every recording inline, base64 in one JSON answer per session.
    for (const id of voice.filter((s) => sim.session(s).status === 'success')) {
      const { value } = await retrying(MAX_TRIES, async () =>
        json<{ recording: string[] }>(await send(bot(`recordings?sessionId=${id}`), { headers: headers() })),
      );
      for (const [index, uri] of value.recording.entries()) {
        expect(sha256(Buffer.from(uri.slice(uri.indexOf(',') + 1), 'base64'))).toBe(fetched.get(`${id}/recording/${index}`)?.sha256);
      }
      expect(sim.v1BytesSent(id)).toBeGreaterThan(value.recording.join('').length);
    }
    const files = await sim.inventory();
    expect(files.filter((f) => f.availability === 'final').map((f) => f.status)).toEqual(
      sim.session(sessions[0]!.sessionId).recordings.map(() => 'failed'),
    );
    for (const f of files.filter((f) => f.availability === 'final')) fetched.delete(f.id);
    expectMix('Kore', sim.faults, files, fetched, (id) => sim.mediaBytesSent(id));
    for (const f of files.filter((f) => f.availability === 'available')) {
      const requests = sim.requestsFor(f.id);
      const media = requests.filter((r) => r.server === 'kore-media').length;
      expect(media, f.id).toBeGreaterThanOrEqual(1);
      expect(media, f.id).toBeLessThanOrEqual(fetched.get(f.id)!.tries);
      expect(requests.length - media, f.id).toBeGreaterThanOrEqual(fetched.get(f.id)!.tries);
    }
  });
});
