import { describe, expect, it } from 'vitest';
import type { ItemResult } from '../../src/contracts/transfer';
import type { SourceItem } from '../../src/contracts/sourceItem';
import { InvalidCarriedState, parseCarriedState } from '../../src/contracts/carried';
import { ExportState, type RetryRules } from '../../workflows/exportState';

const rules: RetryRules = { maxTries: 3, firstRetryMs: 1_000, maxRetryMs: 8_000, notReadyMaxWaitMs: 60_000 };
const item = (id: string): SourceItem => ({
  sourceId: id,
  conversationId: 'c',
  kind: 'recording',
  createdAt: '2026-01-01T00:00:00Z',
  extension: '.mp3',
  locator: { recordingId: id },
});
const page = (ids: string[], opts: { stored?: string[]; next?: string | null } = {}) => ({
  items: ids.map(item),
  alreadyStored: opts.stored ?? [],
  nextCursor: opts.next === undefined ? null : opts.next,
});
const stored = (id: string, bytes = 10): ItemResult => ({ sourceId: id, outcome: 'stored', bytes });
const retry = (id: string, reason: string, retryAfterSeconds?: number): ItemResult => ({
  sourceId: id,
  outcome: 'retry',
  reason,
  ...(retryAfterSeconds ? { retryAfterSeconds } : {}),
});

/** Runs batches until the state has nothing due now, answering each file with `answer`. */
function drain(state: ExportState, now: number, answer: (id: string) => ItemResult) {
  const givenUp = [...state.dueNow(now)];
  for (let batch = state.nextBatch(4, 8); batch; batch = state.nextBatch(4, 8)) {
    givenUp.push(
      ...state.batchSettled(
        batch,
        batch.map((t) => answer(t.item.sourceId)),
        now,
      ),
    );
  }
  return givenUp;
}

describe('ExportState: every file keeps its own tries', () => {
  it('retries only the file that failed, and never charges its neighbours', () => {
    const state = new ExportState(rules);
    state.pageListed(page(['a', 'b', 'c', 'd']));
    const batch = state.nextBatch(4, 1)!;
    expect(batch.map((t) => t.item.sourceId)).toEqual(['a', 'b', 'c', 'd']);
    const givenUp = state.batchSettled(batch, [stored('a'), retry('b', 'HTTP 500'), stored('c'), stored('d')], 0);
    expect(givenUp).toEqual([]);
    expect(state.counters).toMatchObject({ listed: 4, transferred: 3, failed: 0 });
    expect(state.waitingCount.retrying).toBe(1);
    expect(state.nextBatch(4, 1)).toBeNull();
    expect(state.nextWakeAt()).toBe(1_000);
    expect(drain(state, 1_000, (id) => stored(id))).toEqual([]);
    expect(state.counters).toMatchObject({ transferred: 4 });
    expect(state.done).toBe(true);
  });

  it('gives a file up only when its own tries are spent, with its own last error', () => {
    const state = new ExportState(rules);
    state.pageListed(page(['ok', 'bad']));
    let now = 0;
    const answers = (id: string) => (id === 'bad' ? retry('bad', `bad: HTTP 503 at ${now}`) : stored(id));
    const givenUp = [...drain(state, now, answers)];
    for (const step of [1_000, 2_000]) {
      now += step;
      givenUp.push(...drain(state, now, answers));
    }
    expect(givenUp).toEqual([{ item: item('bad'), code: 'gave_up', reason: 'gave up after 3 tries: bad: HTTP 503 at 3000' }]);
    expect(state.counters).toMatchObject({ transferred: 1 });
    state.givenUpRecorded({ recorded: 1, storedByThisExport: 0, bytes: 0 }, givenUp);
    expect(state.counters).toMatchObject({ listed: 2, transferred: 1, failed: 1 });
    expect(state.done).toBe(true);
    // An activity of an older worker answers without the list: the files sent stand in for it.
    expect(state.failures).toEqual({
      total: 1,
      groups: [
        { code: 'gave_up', final: false, count: 1, sample: [{ sourceId: 'bad', reason: 'gave up after 3 tries: bad: HTTP 503 at 3000' }] },
      ],
    });
  });

  it('waits as long as Retry-After asks, and backs off exponentially otherwise', () => {
    const state = new ExportState(rules);
    state.pageListed(page(['x', 'y']));
    const batch = state.nextBatch(4, 1)!;
    state.batchSettled(batch, [retry('x', '429', 30), retry('y', '500')], 0);
    const wakes = state.snapshot().waiting.map((w) => [w.task.item.sourceId, w.readyAt]);
    expect(wakes).toEqual([
      ['x', 30_000],
      ['y', 1_000],
    ]);
    drain(state, 1_000, (id) => retry(id, '500'));
    expect(state.snapshot().waiting.find((w) => w.task.item.sourceId === 'y')!.readyAt).toBe(1_000 + 2_000);
  });

  it('runs the files of a batch that failed as a whole each alone, charging nobody', () => {
    const state = new ExportState(rules);
    state.pageListed(page(['a', 'b', 'c']));
    const batch = state.nextBatch(4, 1)!;
    expect(state.batchFailed(batch, 'heartbeat timeout', 0)).toEqual([]);
    const alone = [state.nextBatch(4, 8)!, state.nextBatch(4, 8)!, state.nextBatch(4, 8)!];
    expect(alone.map((b) => b.map((t) => [t.item.sourceId, t.tries, t.alone]))).toEqual([
      [['a', 0, true]],
      [['b', 0, true]],
      [['c', 0, true]],
    ]);
    // A file that fails alone fails for its own reasons: it is charged.
    expect(state.batchFailed(alone[1]!, 'worker died', 0)).toEqual([]);
    expect(state.snapshot().waiting[0]!.task).toMatchObject({ tries: 1, lastError: 'transfer failed: worker died' });
  });

  it('never lets a "given up" overwrite a final status: unavailable files are failed, not retried', () => {
    const state = new ExportState(rules);
    state.pageListed(page(['gone']));
    const batch = state.nextBatch(4, 1)!;
    expect(state.batchSettled(batch, [{ sourceId: 'gone', outcome: 'unavailable', reason: "Bird reports status 'failed'" }], 0)).toEqual(
      [],
    );
    expect(state.counters).toMatchObject({ failed: 1 });
    expect(state.done).toBe(true);
  });

  it('waits durably for files that are not ready, and gives them up after the longest wait', () => {
    const state = new ExportState(rules);
    state.pageListed(page(['slow']));
    const notReady = (id: string): ItemResult => ({
      sourceId: id,
      outcome: 'not_ready',
      reason: "status 'ongoing'",
      retryAfterSeconds: 20,
    });
    let now = 0;
    const givenUp = [...drain(state, now, notReady)];
    while (givenUp.length === 0 && now < 200_000) {
      now = state.nextWakeAt()!;
      givenUp.push(...drain(state, now, notReady));
    }
    expect(now).toBe(60_000);
    expect(givenUp).toEqual([{ item: item('slow'), code: 'not_ready_timeout', reason: "still not ready after 0.02 h: status 'ongoing'" }]);
    expect(state.snapshot().queue[0]?.tries ?? 0).toBe(0);
  });
});

describe('ExportState: counters equal distinct files, whatever the listing repeats', () => {
  it('does not queue or count a file a later page repeats', () => {
    const state = new ExportState(rules);
    state.pageListed(page(['a', 'b', 'c'], { stored: ['s1'], next: 'p2' }));
    state.pageListed(page(['c', 'd'], { stored: ['s1', 's2'], next: null }));
    expect(state.counters).toMatchObject({ listed: 6, skipped: 2 });
    const ids: string[] = [];
    for (let batch = state.nextBatch(10, 1); batch; batch = state.nextBatch(10, 1)) ids.push(...batch.map((t) => t.item.sourceId));
    expect(ids).toEqual(['a', 'b', 'c', 'd']);
  });

  it('admits files a download revealed once, and counts those stored before as skipped', () => {
    const state = new ExportState(rules);
    state.pageListed(page(['s-0']));
    const batch = state.nextBatch(4, 1)!;
    state.batchSettled(
      batch,
      [{ sourceId: 's-0', outcome: 'stored', bytes: 5, discovered: [item('s-1'), item('s-2')], discoveredStored: 1 }],
      0,
    );
    expect(state.counters).toMatchObject({ listed: 4, transferred: 1, skipped: 1 });
    expect(state.nextBatch(4, 1)!.map((t) => t.item.sourceId)).toEqual(['s-1', 's-2']);
  });

  it('spreads a short queue over the free slots', () => {
    const state = new ExportState(rules);
    state.pageListed(page(['1', '2', '3', '4']));
    expect(state.nextBatch(16, 4)!.length).toBe(1);
  });

  it('fills each batch while the listing goes on when starts are scarce, and spreads what is left once it ends', () => {
    const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    const state = new ExportState(rules);
    state.pageListed(page(ids('a', 10), { next: 'p2' }));
    const sizes = (free: number) => {
      const out: number[] = [];
      for (let b = state.nextBatch(4, free, true); b; b = state.nextBatch(4, free, true)) out.push(b.length);
      return out;
    };
    // Full batches; the short rest waits for the next page while batches are in flight.
    expect(sizes(8)).toEqual([4, 4]);
    state.pageListed(page(ids('b', 5), { next: 'p3' }));
    expect(sizes(8)).toEqual([4]);
    state.pageListed(page(ids('c', 2), { next: null }));
    // The listing has ended: nothing more will join, so the rest (3 + 2) spreads over the free slots.
    expect(sizes(5)).toEqual([1, 1, 1, 1, 1]);
  });

  it('sends a short batch when nothing is in flight, so a slow listing never leaves the slots idle', () => {
    const state = new ExportState(rules);
    state.pageListed(page(['a', 'b', 'c'], { next: 'p2' }));
    expect(state.nextBatch(4, 8, true)!.length).toBe(3);
  });
});

describe('carried state', () => {
  it('survives continue-as-new whole', () => {
    const state = new ExportState(rules);
    state.pageListed(page(['a', 'b'], { next: 'cursor-2' }));
    state.batchSettled(state.nextBatch(1, 1)!, [retry('a', '503')], 0);
    const next = new ExportState(rules, parseCarriedState(JSON.parse(JSON.stringify(state.snapshot())), 0));
    expect(next.generation).toBe(1);
    expect(next.cursor).toBe('cursor-2');
    expect(next.snapshot().waiting[0]!.task).toMatchObject({ item: { sourceId: 'a' }, tries: 1, lastError: '503' });
    // The files it carries are active: a page that lists them again does not queue them twice.
    next.pageListed(page(['a', 'b', 'c']));
    expect(next.counters.listed).toBe(3);
  });

  it.each([
    ['a queue that is not a list', { queue: 5 }, 'carried.queue: expected an array'],
    [
      'a timer for the year 30,000',
      { waiting: [{ task: { item: item('x'), tries: 0 }, readyAt: 1e15, why: 'retry', reason: 'r' }] },
      'carried.waiting[0].readyAt',
    ],
    [
      'counters nothing listed could reach',
      { counters: { listed: 0, transferred: 999999, skipped: 0, failed: 0, bytes: 0 } },
      'carried.counters: more files finished than listed',
    ],
    ['an unknown field', { forged: true }, 'carried.forged: unknown field'],
    ['a forged source', { queue: [{ item: { ...item('x'), sourceId: 7 }, tries: 0 }] }, 'carried.queue[0].item.sourceId'],
  ])('refuses %s, naming the field', (_what, change, message) => {
    const good = new ExportState(rules).snapshot();
    expect(() => parseCarriedState({ ...good, ...change }, 0)).toThrow(InvalidCarriedState);
    expect(() => parseCarriedState({ ...good, ...change }, 0)).toThrow(message);
  });
});
