import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { koreConnectionSchema } from '../../src/providers/kore/connection';
import { TransientError } from '../../src/errors';
import { KoreProvider } from '../../src/providers/kore/provider';
import { retryTransient, type InPlaceRetry } from '../../src/providers/retry';
import type { Window } from '../../src/contracts/window';
import type { SourceItem } from '../../src/contracts/sourceItem';
import { KoreSimulator } from '../../src/simulators/kore';

const WINDOW: Window = { from: '2025-03-01T00:00:00.000Z', to: '2025-03-04T00:00:00.000Z' };
const fast: InPlaceRetry = { tries: 5, maxWaitMs: 5 };

describe('retryTransient', () => {
  it('tries a call again after a transient error, honouring Retry-After, and announces each wait', async () => {
    const waits: number[] = [];
    let calls = 0;
    const value = await retryTransient(
      async () => {
        if (++calls < 3) throw new TransientError('429', 2);
        return 'ok';
      },
      { tries: 5, maxWaitMs: 1_000, onWait: (ms) => waits.push(ms) },
    );
    expect(value).toBe('ok');
    expect(calls).toBe(3);
    expect(waits).toEqual([2, 2]);
  });

  it('gives up after its tries, and never retries what is not transient', async () => {
    let calls = 0;
    const failing = () =>
      retryTransient(async () => {
        calls++;
        throw new TransientError('503');
      }, fast);
    await expect(failing()).rejects.toThrow('503');
    expect(calls).toBe(5);
    calls = 0;
    await expect(
      retryTransient(async () => {
        calls++;
        throw new Error('bad request');
      }, fast),
    ).rejects.toThrow('bad request');
    expect(calls).toBe(1);
  });

  it('runs a call once without a policy', async () => {
    let calls = 0;
    await expect(
      retryTransient(async () => {
        calls++;
        throw new TransientError('429');
      }, undefined),
    ).rejects.toThrow('429');
    expect(calls).toBe(1);
  });
});

describe('Kore listing under a shared quota', () => {
  const sessions = KoreSimulator.generate({
    seed: 'kore-quota',
    count: 60,
    from: WINDOW.from,
    to: WINDOW.to,
    chatEvery: 0,
    recordingsPerSession: { min: 1, max: 2 },
    size: { min: 100, max: 200 },
    voicemailEvery: 0,
  });
  const sim = new KoreSimulator({ seed: 'kore-quota', sessions });
  const provider = () => {
    const conn = koreConnectionSchema.parse({
      provider: 'kore',
      baseUrl: sim.baseUrl,
      botId: sim.botId,
      clientId: { env: 'X' },
      clientSecret: { env: 'Y' },
      mediaHosts: [sim.mediaHost],
      includeVoicemail: false,
      allowPrivateNetwork: true,
    });
    return new KoreProvider(
      { ...conn, name: 'kore-quota' },
      { clientId: sim.clientId, clientSecret: sim.clientSecret },
      { apiIntervalMs: 0 },
    );
  };
  const rateLimited = { kind: 'status' as const, status: 429, retryAfterSeconds: 0, body: 'Rate limit for this API has been reached' };

  beforeAll(() => sim.start());
  afterAll(() => sim.stop());

  async function listAll(retry?: InPlaceRetry): Promise<{ items: SourceItem[]; pages: number }> {
    const p = provider();
    const items: SourceItem[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await p.listPage(WINDOW, cursor, retry ? { retry } : {});
      items.push(...page.items);
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null && pages < 100);
    return { items, pages };
  }

  it('lists every session through 429s on its calls, retrying the one call', async () => {
    sim.faults.clear();
    const clean = await listAll();
    // 429s on getSessions and on many sessions' calls, up to four in a row on one call.
    sim.faults.add({ target: 'v2', fault: rateLimited, times: 4 }).add({ target: 'getSessions', fault: rateLimited, times: 2 });
    for (const victim of clean.items.filter((_, i) => i % 7 === 3))
      sim.faults.add({ target: 'v2', id: victim.conversationId, fault: rateLimited, times: 3 });
    const limited = await listAll(fast);
    expect(sim.faults.pending()).toBe(0);
    expect(limited.items.map((i) => i.sourceId).sort()).toEqual(clean.items.map((i) => i.sourceId).sort());
  });

  it('ends a page early at the session it could not list, and the next page goes on from there', async () => {
    sim.faults.clear();
    const clean = await listAll();
    // One session's call fails more often than it is retried in place: the page keeps what it listed.
    const victim = clean.items[10]!.conversationId;
    sim.faults.add({ target: 'v2', id: victim, fault: rateLimited, times: 5 });
    const p = provider();
    const first = await p.listPage(WINDOW, null, { retry: fast });
    expect(first.items.length).toBeGreaterThan(0);
    expect(first.items.some((i) => i.conversationId === victim)).toBe(false);
    expect(first.nextCursor).not.toBeNull();
    const rest = await listAll(fast);
    expect(rest.items.map((i) => i.sourceId).sort()).toEqual(clean.items.map((i) => i.sourceId).sort());
  });

  it('fails a page that listed nothing, so the activity retries it', async () => {
    sim.faults.clear();
    sim.faults.add({ target: 'getSessions', fault: rateLimited, times: 5 });
    await expect(provider().listPage(WINDOW, null, { retry: fast })).rejects.toBeInstanceOf(TransientError);
    sim.faults.clear();
  });
});
