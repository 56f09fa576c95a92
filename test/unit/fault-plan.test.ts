import { describe, expect, it } from 'vitest';
import { FaultPlan, formatStats, type Fault, type FaultChoice } from '../../src/simulators/faults';

const E500: Fault = { kind: 'status', status: 500 };
const E503: Fault = { kind: 'status', status: 503 };
const T429: Fault = { kind: 'status', status: 429, retryAfterSeconds: 1 };
const MIX: FaultChoice[] = [E500, E503, { kind: 'expired' }, { kind: 'cut', fraction: 'random' }, { kind: 'short', fraction: 'random' }];

/** Three requests for each of 200 ids over two targets, round after round, as a client with retries makes them. */
function rounds(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let round = 0; round < 3; round++) for (let i = 0; i < 200; i++) out.push([i % 2 ? 'metadata' : 'media', `id-${i}`]);
  return out;
}

function play(plan: FaultPlan, requests: Array<[string, string]>): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  for (const [target, id] of requests) {
    const key = `${target}/${id}`;
    seen.set(key, [...(seen.get(key) ?? []), JSON.stringify(plan.take(target, id) ?? null)]);
  }
  return seen;
}

const ratePlan = (seed: string, rate = 0.3) => new FaultPlan(seed).addRate({ targets: ['metadata', 'media'], rate, faults: MIX });

describe('FaultPlan rate rules', () => {
  it('play the same faults for the same seed and requests, whatever order concurrency puts them in', () => {
    const requests = rounds();
    const a = play(ratePlan('s1'), requests);
    expect(play(ratePlan('s1'), requests)).toEqual(a);
    // Another interleaving: each id's requests in a row, ids in reverse. Each id still sees the same faults.
    const regrouped = [...requests].sort(([ta, a1], [tb, b1]) => (b1 + tb).localeCompare(a1 + ta));
    expect(play(ratePlan('s1'), regrouped)).toEqual(a);
    expect(play(ratePlan('s2'), requests)).not.toEqual(a);
  });

  it("fault about the rule's share of requests, drawing every fault of the list and break positions inside the body", () => {
    const plan = ratePlan('share', 0.15);
    const faults = Array.from({ length: 4000 }, (_, i) => plan.take('media', `f${i}`)).filter((f): f is Fault => f !== undefined);
    expect(faults.length / 4000).toBeGreaterThan(0.13);
    expect(faults.length / 4000).toBeLessThan(0.17);
    const kinds = new Set(faults.map((f) => (f.kind === 'status' ? f.status : f.kind)));
    expect([...kinds].sort()).toEqual([500, 503, 'cut', 'expired', 'short'].sort());
    const fractions = faults.flatMap((f) => ('fraction' in f ? [f.fraction] : []));
    expect(Math.min(...fractions)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...fractions)).toBeLessThan(1);
    expect(Math.min(...fractions)).toBeLessThan(0.1);
    expect(Math.max(...fractions)).toBeGreaterThan(0.9);
  });

  it('stop after the cap per (target, id), default 3 and settable, so every file succeeds on a later try', () => {
    const plan = new FaultPlan('cap').addRate({ targets: 'media', rate: 1, faults: [E500] });
    const tries = (id: string, target = 'media') => Array.from({ length: 10 }, () => plan.take(target, id)).filter(Boolean).length;
    expect(tries('a')).toBe(3);
    expect(tries('b')).toBe(3);
    plan.capPerId = 1;
    expect(tries('c')).toBe(1);
    // Every-Nth faults count against the same cap; explicit rules do not.
    const quota = new FaultPlan('cap').addEveryNth({ targets: ['list'], every: 1, fault: T429 });
    expect(Array.from({ length: 10 }, () => quota.take('list', 'page-1')).filter(Boolean)).toHaveLength(3);
    const explicit = new FaultPlan('cap').add({ target: 'media', id: 'x', fault: E503, times: 5 });
    expect(Array.from({ length: 10 }, () => explicit.take('media', 'x')).filter(Boolean)).toHaveLength(5);
  });
});

describe('FaultPlan every-Nth rules', () => {
  it('fault the Nth, 2Nth... request counted across their targets, and only theirs', () => {
    const plan = new FaultPlan('quota').addEveryNth({ targets: ['list', 'metadata'], every: 4, fault: T429 });
    const hits: string[] = [];
    let counted = 0;
    for (let i = 0; i < 60; i++) {
      const target = ['list', 'metadata', 'media'][i % 3]!;
      const fault = plan.take(target, `id-${i}`);
      if (target !== 'media') counted++;
      if (fault) hits.push(`${counted}:${target}`);
    }
    expect(hits).toEqual([
      '4:metadata',
      '8:metadata',
      '12:metadata',
      '16:metadata',
      '20:metadata',
      '24:metadata',
      '28:metadata',
      '32:metadata',
      '36:metadata',
      '40:metadata',
    ]);
    expect(plan.stats().targets.media).toEqual({ requests: 20, faults: 0, byKind: {} });
  });

  it('come after explicit rules and before rate rules, and count the requests explicit rules answer', () => {
    const plan = new FaultPlan('order')
      .addRate({ targets: 'api', rate: 1, faults: [E500] })
      .addEveryNth({ targets: ['api'], every: 2, fault: T429 })
      .add({ target: 'api', id: 'first', fault: E503 });
    const played = ['first', 'a', 'b', 'c'].map((id) => plan.take('api', id));
    expect(played).toEqual([E503, T429, E500, T429]);
  });
});

describe('FaultPlan statistics', () => {
  it('count requests per target and faults per target and kind, and print the effective rate', () => {
    const plan = new FaultPlan('stats')
      .add({ target: 'media', fault: { kind: 'cut', afterBytes: 10 }, times: 2 })
      .addEveryNth({ targets: ['list'], every: 2, fault: T429 });
    for (let i = 0; i < 10; i++) plan.take('list', `p${i}`);
    for (let i = 0; i < 5; i++) plan.take('media', `f${i}`);
    const stats = plan.stats();
    expect(stats.targets).toEqual({
      list: { requests: 10, faults: 5, byKind: { '429': 5 } },
      media: { requests: 5, faults: 2, byKind: { cut: 2 } },
    });
    expect(stats.total).toEqual({ requests: 15, faults: 7, byKind: { '429': 5, cut: 2 } });
    expect(formatStats(stats)).toBe(
      [
        'list: 10 requests, 5 faults (50.0%) [429: 5]',
        'media: 5 requests, 2 faults (40.0%) [cut: 2]',
        'total: 15 requests, 7 faults (46.7%) [429: 5, cut: 2]',
      ].join('\n'),
    );
    plan.clear();
    expect(plan.stats().total.requests).toBe(0);
    expect(plan.pending()).toBe(0);
  });

  it('refuse rules that cannot work', () => {
    expect(() => new FaultPlan().addEveryNth({ targets: ['x'], every: 0, fault: T429 })).toThrow(/every/);
    expect(() => new FaultPlan().addRate({ targets: 'x', rate: 1.5, faults: [E500] })).toThrow(/rate/);
    expect(() => new FaultPlan().addRate({ targets: 'x', rate: 0.5, faults: [] })).toThrow(/faults/);
  });
});
